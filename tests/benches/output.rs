//! Output floods through every path a container's output takes, each for
//! 30 s: `cat /dev/zero` (binary, never a newline) and `yes` (a line every
//! two bytes), written by Debian's static busybox in a real container.
//!
//! The paths: the supervisor into the console log (`run -d`), `anchorage
//! exec` on the terminal, an exec over the websocket (its client reading
//! all of it), and a terminal over the websocket. The peer is the same
//! program writing into a plain pipe that this process reads: the most any
//! path can carry.
//!
//! For each: what came through (MB/s, and as a share of the pipe's), and
//! for every anchorage process on the path its CPU (% of one CPU) and how
//! much its resident memory grew from one second in to the end (the
//! target: under 16 MiB), and for the console log the disk it took
//! against its rotation cap (20 MiB x 5).
//!
//! Needs root (real containers); `ANCHORAGE_BENCH_SECONDS` shortens the
//! window for a quick look.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anchorage_shared::engine::TerminalSize;
use anchorage_shared::protocol::ServerMessage;
use anchorage_shared::{Command, Event};
use anchorage_tests::{DataDir, LiveClient, Scene, Server, is_root};

const MIB: f64 = (1 << 20) as f64;

fn window() -> Duration {
    Duration::from_secs(
        std::env::var("ANCHORAGE_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    )
}

/// CPU ticks (user + system) of a process.
fn ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// A `/proc/PID/status` figure in bytes (`VmRSS:`, `VmHWM:`).
fn memory(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// One anchorage process, watched from one second in.
struct Watch {
    name: &'static str,
    pid: u32,
    rss: u64,
    ticks: u64,
    since: Instant,
}

impl Watch {
    fn start(name: &'static str, pid: u32) -> Watch {
        Watch {
            name,
            pid,
            rss: memory(pid, "VmRSS:"),
            ticks: ticks(pid),
            since: Instant::now(),
        }
    }

    /// Its CPU in % of one CPU, and its memory growth in MiB.
    fn finish(&self) -> String {
        let clock = 100.0; // USER_HZ
        let cpu =
            (ticks(self.pid) - self.ticks) as f64 / clock / self.since.elapsed().as_secs_f64()
                * 100.0;
        let peak = memory(self.pid, "VmHWM:").max(memory(self.pid, "VmRSS:"));
        let growth = peak.saturating_sub(self.rss) as f64 / MIB;
        format!(
            "{} {:.0}% CPU, +{:.1} MiB (peak {:.1} MiB){}",
            self.name,
            cpu,
            growth,
            peak as f64 / MIB,
            if growth < 16.0 { "" } else { " OVER 16 MiB" }
        )
    }
}

struct Row {
    path: &'static str,
    program: &'static str,
    bytes_per_s: f64,
    processes: Vec<String>,
    disk: Option<String>,
}

fn program_args(program: &str) -> Vec<String> {
    match program {
        "cat /dev/zero" => vec!["/bin/busybox".into(), "cat".into(), "/dev/zero".into()],
        _ => vec!["/bin/busybox".into(), "yes".into()],
    }
}

/// The peer: the program into a pipe this process reads.
fn pipe(program: &'static str) -> Row {
    let args = program_args(program);
    let mut child = std::process::Command::new(&args[0])
        .args(&args[1..])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let (bytes, seconds) = read_for(&mut out, window());
    let _ = child.kill();
    let _ = child.wait();
    Row {
        path: "plain pipe (peer)",
        program,
        bytes_per_s: bytes as f64 / seconds,
        processes: Vec::new(),
        disk: None,
    }
}

fn read_for(out: &mut impl Read, window: Duration) -> (u64, f64) {
    let started = Instant::now();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    while started.elapsed() < window {
        match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes += n as u64,
        }
    }
    (bytes, started.elapsed().as_secs_f64())
}

/// What a container's log took: the bytes of output it kept in all
/// (rotated away too: the records written, less their framing, in the
/// proportion the files on disk show), and what its files hold now.
fn log_figures(scene: &Scene, id: &str) -> (u64, u64) {
    let dir = scene.data().join("containers").join(id);
    let mut on_disk = 0;
    let mut written = 0;
    let (mut payload, mut records) = (0u64, 0u64);
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("console.log") {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        on_disk += bytes.len() as u64;
        if name == "console.log" {
            let base = bytes
                .get(8..16)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()));
            written = base + (bytes.len() as u64).saturating_sub(24);
        }
        // After the 24-byte header, each record: its length (4 bytes), time,
        // stream and flags (10), its bytes, its length again (4).
        let mut at = 24;
        while at + 18 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            if at + 18 + len > bytes.len() {
                break;
            }
            payload += len as u64;
            records += 18 + len as u64;
            at += 18 + len;
        }
    }
    let output = (written as f64 * payload as f64 / records.max(1) as f64) as u64;
    (output, on_disk)
}

fn supervisor(scene: &Scene, program: &'static str) -> Row {
    let mut args = vec!["run", "-d", "bb"];
    let program_line = program_args(program);
    args.extend(program_line.iter().map(String::as_str));
    let id = scene.ok(&args).trim().to_string();
    std::thread::sleep(Duration::from_secs(1));
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(scene.data().join("containers").join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    let shim = state["shim_pid"].as_u64().unwrap() as u32;
    let watch = Watch::start("supervisor", shim);
    let (written_before, _) = log_figures(scene, &id);
    let started = Instant::now();
    std::thread::sleep(window());
    let seconds = started.elapsed().as_secs_f64();
    let (written, on_disk) = log_figures(scene, &id);
    let row = Row {
        path: "supervisor -> console log",
        program,
        bytes_per_s: (written - written_before) as f64 / seconds,
        processes: vec![watch.finish()],
        disk: Some(format!(
            "{:.1} MiB on disk, of {:.0} MiB of output kept in all; cap 100 MiB{}",
            on_disk as f64 / MIB,
            written as f64 / MIB,
            if on_disk <= 5 * (20 << 20) + 80 {
                ""
            } else {
                " OVER THE CAP"
            }
        )),
    };
    scene.ok(&["rm", "-f", &id]);
    row
}

fn cli_exec(scene: &Scene, program: &'static str) -> Row {
    scene.ok(&[
        "run",
        "-d",
        "--name",
        "idle",
        "bb",
        "/bin/busybox",
        "sleep",
        "3600",
    ]);
    let mut args = vec!["exec", "idle"];
    let program_line = program_args(program);
    args.extend(program_line.iter().map(String::as_str));
    let mut exec = scene
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = exec.stdout.take().unwrap();
    let mut warmup = vec![0u8; 1 << 16];
    let warm_until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < warm_until {
        let _ = out.read(&mut warmup);
    }
    let watch = Watch::start("anchorage exec", exec.id());
    let (bytes, seconds) = read_for(&mut out, window());
    let processes = vec![watch.finish()];
    let _ = exec.kill();
    let _ = exec.wait();
    scene.ok(&["rm", "-f", "idle"]);
    Row {
        path: "anchorage exec (terminal)",
        program,
        bytes_per_s: bytes as f64 / seconds,
        processes,
        disk: None,
    }
}

/// Reads a client for `window`: the bytes of output (an exec's or a
/// terminal's) it got.
async fn read_client(client: &mut LiveClient, window: Duration) -> (u64, f64) {
    let started = Instant::now();
    let mut bytes = 0u64;
    while started.elapsed() < window {
        if let Ok(Ok(ServerMessage::Events { events })) =
            tokio::time::timeout(Duration::from_secs(1), client.next()).await
        {
            for event in events {
                match event {
                    Event::Output { data, .. } | Event::TerminalOutput { data, .. } => {
                        bytes += data.len() as u64
                    }
                    _ => {}
                }
            }
        }
    }
    (bytes, started.elapsed().as_secs_f64())
}

async fn over_the_socket(server: &Server, program: &'static str, terminal: bool) -> Row {
    let mut client = LiveClient::connect(server).await.unwrap();
    let mut spec = anchorage_shared::container::ContainerSpec::new("bb");
    spec.name = Some("target".into());
    spec.command = vec!["/bin/busybox".into(), "sleep".into(), "3600".into()];
    client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap();
    let argv = program_args(program);
    let command = if terminal {
        Command::OpenTerminal {
            container: "target".into(),
            argv,
            size: TerminalSize::default(),
        }
    } else {
        Command::Exec {
            container: "target".into(),
            argv,
        }
    };
    client.command(command).await.unwrap().unwrap();
    read_client(&mut client, Duration::from_secs(1)).await;
    let watch = Watch::start("anchorage serve", server.pid().unwrap());
    let (bytes, seconds) = read_client(&mut client, window()).await;
    let processes = vec![watch.finish()];
    client
        .command(Command::Remove {
            container: "target".into(),
            force: true,
        })
        .await
        .unwrap()
        .unwrap();
    Row {
        path: if terminal {
            "terminal over the websocket"
        } else {
            "exec over the websocket"
        },
        program,
        bytes_per_s: bytes as f64 / seconds,
        processes,
        disk: None,
    }
}

#[tokio::main]
async fn main() {
    if !is_root() || !std::path::Path::new("/bin/busybox").exists() {
        println!("skipped: the output benchmark needs root and busybox-static");
        return;
    }
    let scene = Scene::new();
    let tarball = anchorage_tests::busybox_tarball(scene.scratch());
    scene.ok(&[
        "image",
        "import",
        "-q",
        "--name",
        "bb",
        &tarball.display().to_string(),
    ]);
    println!(
        "output floods, {} s each (Debian's busybox writing; {} CPUs)",
        window().as_secs(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let data = DataDir::new().unwrap();
    std::fs::create_dir_all(data.path()).unwrap();
    let server = Server::start_with_env(
        &["--listen", "127.0.0.1:0", "--engine", "real"],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    // The server's own store needs the image too.
    let imported = std::process::Command::new(anchorage_tests::anchorage_bin())
        .args(["image", "import", "-q", "--name", "bb"])
        .arg(&tarball)
        .env("ANCHORAGE_DATA_DIR", data.path())
        .status()
        .unwrap();
    assert!(imported.success());
    let mut rows = Vec::new();
    for program in ["cat /dev/zero", "yes"] {
        let peer = pipe(program);
        let peer_rate = peer.bytes_per_s;
        rows.push((peer, peer_rate));
        rows.push((supervisor(&scene, program), peer_rate));
        rows.push((cli_exec(&scene, program), peer_rate));
        rows.push((over_the_socket(&server, program, false).await, peer_rate));
        rows.push((over_the_socket(&server, program, true).await, peer_rate));
    }
    println!(
        "\n{:<30} {:<14} {:>10} {:>8}  processes",
        "path", "program", "MB/s", "vs pipe"
    );
    for (row, peer) in &rows {
        println!(
            "{:<30} {:<14} {:>10.1} {:>7.2}x  {}",
            row.path,
            row.program,
            row.bytes_per_s / 1e6,
            row.bytes_per_s / peer,
            row.processes.join("; ")
        );
        if let Some(disk) = &row.disk {
            println!("{:<30} {:<14} {disk}", "", "");
        }
    }
    server.stop().await.unwrap();
}
