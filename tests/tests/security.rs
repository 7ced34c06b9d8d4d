//! The security review's attacks, each tried as the review tried it and
//! each asserted refused or bounded: output floods on every path, logs and
//! image bombs that would fill the disk, volume names that escape, a
//! container reaching the image store, limits past the server's caps,
//! nested namespaces and the keyring, a fork bomb without a limit, and
//! slow clients. Real containers need root (CI runs these as root).

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anchorage_shared::cgroup::CgroupLimits;
use anchorage_shared::container::{ContainerSpec, VolumeMount};
use anchorage_shared::protocol::ServerMessage;
use anchorage_shared::{Command, EngineError, Event};
use anchorage_tests::Need::{Root, Tool};
use anchorage_tests::{DataDir, LiveClient, Scene, Server, http_post, runnable};

const MIB: u64 = 1 << 20;

/// A field of `/proc/PID/status`, in bytes (`VmRSS`, `VmHWM`).
fn memory(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The bytes of a container's console log files, all together.
fn log_bytes(s: &Scene, id: &str) -> u64 {
    fs::read_dir(s.data().join("containers").join(id))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("console.log"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// The host pid of a container's supervisor.
fn supervisor(s: &Scene, id: &str) -> u32 {
    let state: serde_json::Value = serde_json::from_slice(
        &fs::read(s.data().join("containers").join(id).join("state.json")).unwrap(),
    )
    .unwrap();
    state["shim_pid"].as_u64().unwrap() as u32
}

/// The image `bb`: Debian's static busybox, imported into the scene's store.
fn busybox(s: &Scene) {
    let tarball = anchorage_tests::busybox_tarball(s.scratch());
    s.ok(&[
        "image",
        "import",
        "-q",
        "--name",
        "bb",
        &tarball.display().to_string(),
    ]);
}

#[test]
fn output_without_newlines_keeps_the_cli_exec_and_the_supervisor_bounded() {
    if !runnable(&[Root]) {
        return;
    }
    let s = Scene::new();
    // The supervisor of `cat /dev/zero`, its log capped small.
    let id = s
        .ok(&[
            "run",
            "-d",
            "--log-opt",
            "max-size=1m,max-file=2",
            "workshop",
            "cat",
            "/dev/zero",
        ])
        .trim()
        .to_string();
    std::thread::sleep(Duration::from_millis(500));
    let shim = supervisor(&s, &id);
    let start = memory(shim, "VmRSS:");
    // The same flood through `anchorage exec`, read as fast as it comes.
    s.ok(&["run", "-d", "--name", "idle", "workshop", "sleep", "1000"]);
    let mut exec = s
        .command(&["exec", "idle", "cat", "/dev/zero"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = exec.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            assert!(
                buf[..n].iter().all(|b| *b == 0),
                "the bytes arrive as they were"
            );
            total += n as u64;
        }
        total
    });
    std::thread::sleep(Duration::from_millis(500));
    let exec_start = memory(exec.id(), "VmRSS:");
    std::thread::sleep(Duration::from_secs(4));
    let exec_peak = memory(exec.id(), "VmHWM:");
    let shim_peak = memory(shim, "VmHWM:");
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &exec.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let _ = exec.wait();
    let copied = reader.join().unwrap();
    assert!(copied > 50 * MIB, "only {copied} bytes came through exec");
    assert!(
        exec_peak < exec_start + 16 * MIB,
        "anchorage exec grew from {exec_start} to {exec_peak} bytes"
    );
    assert!(
        shim_peak < start + 16 * MIB,
        "the supervisor grew from {start} to {shim_peak} bytes"
    );
    let on_disk = log_bytes(&s, &id);
    assert!(
        on_disk <= 2 * (MIB + 16),
        "the log holds {on_disk} bytes, past its 2 MiB"
    );
    // `logs` reads it back within the cap, fast.
    let started = Instant::now();
    let logs = s.run(&["logs", &id]);
    assert!(logs.status.success());
    assert!(logs.stdout.len() as u64 <= 2 * MIB && logs.stdout.len() as u64 > MIB / 2);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_long_line_is_kept_whole_in_16_kib_pieces_and_yes_fills_no_disk_past_the_cap() {
    if !runnable(&[Root, Tool("/bin/busybox")]) {
        return;
    }
    let s = Scene::new();
    busybox(&s);
    s.ok(&[
        "run",
        "--name",
        "long",
        "bb",
        "/bin/busybox",
        "sh",
        "-c",
        "head -c 40000 /dev/zero | tr '\\0' x; echo; echo after",
    ]);
    let logs = s.ok(&["logs", "-t", "long"]);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 2, "one time per line, not per piece");
    assert_eq!(lines[0].rsplit(' ').next().unwrap().len(), 40000);
    assert!(lines[1].ends_with(" after"));
    assert_eq!(s.ok(&["logs", "--tail", "1", "long"]), "after\n");

    // `yes` writes tens of megabytes a second; the log keeps 5 files of
    // 20 MiB at most (Docker's `local` driver).
    let id = s
        .ok(&["run", "-d", "bb", "/bin/busybox", "yes"])
        .trim()
        .to_string();
    std::thread::sleep(Duration::from_secs(4));
    let on_disk = log_bytes(&s, &id);
    assert!(on_disk > 20 * MIB, "it rotated: {on_disk} bytes");
    assert!(
        on_disk <= 5 * (20 * MIB + 16),
        "{on_disk} bytes, past the 100 MiB cap"
    );
    let started = Instant::now();
    let tail = s.ok(&["logs", "--tail", "3", &id]);
    assert!(
        tail == "y\ny\ny\n",
        "--tail 3 printed {} bytes, starting {:?}",
        tail.len(),
        &tail[..tail.len().min(20)]
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "--tail reads from the end"
    );
}

/// Reads a client's messages for `seconds`: the bytes of `pid`'s output
/// among them (all zeros, as `cat /dev/zero` wrote them).
async fn read_output(client: &mut LiveClient, pid: u32, seconds: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut bytes = 0u64;
    while Instant::now() < deadline {
        if let Ok(Ok(ServerMessage::Events { events })) =
            tokio::time::timeout(Duration::from_secs(1), client.next()).await
        {
            for event in events {
                if let Event::Output {
                    pid: from, data, ..
                } = event
                {
                    assert_eq!(from, pid);
                    assert!(data.as_bytes().iter().all(|b| *b == 0));
                    bytes += data.len() as u64;
                }
            }
        }
    }
    bytes
}

#[tokio::test]
async fn an_exec_flood_over_the_socket_stays_bounded_and_reaches_only_its_client() {
    if !runnable(&[Root]) {
        return;
    }
    let data = DataDir::new().unwrap();
    let server = Server::start_with_env(
        &["--listen", "127.0.0.1:0", "--engine", "real"],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let pid = server.pid().unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    let mut viewer = LiveClient::connect(&server).await.unwrap();
    let mut spec = ContainerSpec::new("workshop");
    spec.name = Some("flood".into());
    spec.command = vec!["sleep".into(), "1000".into()];
    client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap();
    let before = memory(pid, "VmRSS:");
    let events = client
        .command(Command::Exec {
            container: "flood".into(),
            argv: vec!["cat".into(), "/dev/zero".into()],
        })
        .await
        .unwrap()
        .unwrap();
    let exec_pid = events
        .iter()
        .find_map(|e| match e {
            Event::ProcessStarted { pid, .. } => Some(*pid),
            _ => None,
        })
        .unwrap();
    // The client reads a while, stops reading (its output is held, the
    // command blocks), then reads again: nothing is lost or piled up.
    let mut received = read_output(&mut client, exec_pid, 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = memory(pid, "VmRSS:");
    received += read_output(&mut client, exec_pid, 2).await;
    let after = memory(pid, "VmHWM:").max(memory(pid, "VmRSS:"));
    assert!(received > MIB, "only {received} bytes reached the client");
    assert!(
        held < before + 16 * MIB && after < before + 16 * MIB,
        "the server grew from {before} to {held} (held) and {after} bytes"
    );
    // The viewer saw none of it.
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Ok(Ok(ServerMessage::Events { events })) =
            tokio::time::timeout(Duration::from_millis(200), viewer.next()).await
        {
            assert!(
                !events
                    .iter()
                    .any(|e| matches!(e, Event::Output { pid, .. } if *pid == exec_pid)),
                "an exec's output went to a viewer"
            );
        }
    }
    client
        .command(Command::Remove {
            container: "flood".into(),
            force: true,
        })
        .await
        .unwrap()
        .unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_image_bomb_is_refused_at_the_size_cap_and_leaves_nothing() {
    if !runnable(&[Root, Tool("/usr/bin/zstd")]) {
        return;
    }
    // 50 MiB of zeros, in a tar.zst of a few kilobytes.
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("zeros"), vec![0u8; 50 << 20]).unwrap();
    let bomb = work.path().join("bomb.tar.zst");
    let made = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C {} -cf - zeros | zstd -q -o {}",
            work.path().display(),
            bomb.display()
        ))
        .status()
        .unwrap();
    assert!(made.success());
    assert!(fs::metadata(&bomb).unwrap().len() < 100_000);

    // On the command line.
    let s = Scene::new();
    let out = s.run(&[
        "image",
        "import",
        "--max-image-size",
        "10m",
        &bomb.display().to_string(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("more than 10MiB of files"), "{err}");
    assert!(err.contains("--max-image-size"), "{err}");
    assert_eq!(
        err.matches("more than 10MiB").count(),
        1,
        "the cause is named once: {err}"
    );

    // Uploaded to a server.
    let data = DataDir::new().unwrap();
    let server = Server::start_with_env(
        &[
            "--listen",
            "127.0.0.1:0",
            "--engine",
            "real",
            "--max-image-size",
            "10m",
        ],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let images_before = fs::read_dir(data.path().join("images")).unwrap().count();
    let (status, body) = http_post(
        server.addr,
        &format!("/api/images?file=bomb.tar.zst&token={}", server.token),
        &fs::read(&bomb).unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("--max-image-size"), "{body}");
    let left = |sub: &str| {
        fs::read_dir(data.path().join(sub))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(left("uploads"), 0);
    assert_eq!(left("tmp"), 0);
    assert_eq!(left("images"), images_before);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn volumes_that_escape_the_data_directory_or_follow_a_link_are_refused() {
    if !runnable(&[Root]) {
        return;
    }
    let s = Scene::new();
    let outside = s.scratch().join("voltrav");
    let escape = format!("../../../../../../..{}:/v", outside.display());
    let out = s.run(&["run", "--rm", "-v", &escape, "workshop", "true"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a volume name"));
    assert!(!outside.exists(), "nothing was made outside");

    // A host path that is a link, or inside the data directory.
    let link = s.scratch().join("link");
    std::os::unix::fs::symlink("/etc", &link).unwrap();
    let out = s.run(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/h", link.display()),
        "workshop",
        "true",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a symbolic link (to /etc)"));
    s.ok(&["images"]);
    for inside in ["images", "containers", "."] {
        let path = s.data().join(inside);
        let out = s.run(&[
            "run",
            "--rm",
            "-v",
            &format!("{}:/x", path.display()),
            "workshop",
            "true",
        ]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("inside anchorage's data directory"),
            "{inside}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A named volume planted as a link: refused, and nothing chowned
    // through it.
    let target = s.scratch().join("target");
    fs::create_dir(&target).unwrap();
    fs::create_dir_all(s.data().join("volumes")).unwrap();
    std::os::unix::fs::symlink(&target, s.data().join("volumes/evil")).unwrap();
    let out = s.run(&["run", "--rm", "-v", "evil:/v", "workshop", "true"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&target).unwrap().uid(), 0);
    assert!(!target.join("_data").exists());

    // Over the socket: the same refusals, and no host path at all unless
    // the server allows them.
    let data = DataDir::new().unwrap();
    let server = Server::start_with_env(
        &["--listen", "127.0.0.1:0", "--engine", "real"],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    let mut spec = ContainerSpec::new("workshop");
    spec.security.seccomp = anchorage_shared::container::Seccomp::Unconfined;
    let err = client
        .command(Command::Run { spec })
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("--allow-unconfined"), "{err}");
    for (source, refusal) in [
        ("../../../../../../../tmp/voltrav", "is not a volume name"),
        ("/tmp", "mounts named volumes only"),
    ] {
        let mut spec = ContainerSpec::new("workshop");
        spec.volumes = vec![VolumeMount {
            source: source.into(),
            target: "/v".into(),
        }];
        let err = client
            .command(Command::Run { spec })
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains(refusal), "{source}: {err}");
    }
    assert!(!Path::new("/tmp/voltrav").exists());
    server.stop().await.unwrap();
}

#[test]
fn no_container_owns_the_image_store_or_another_container() {
    if !runnable(&[Root]) {
        return;
    }
    let s = Scene::new();
    let map = |name: &str| -> u64 {
        s.ok(&["run", "-d", "--name", name, "workshop", "sleep", "100"]);
        let inspect = s.inspect(name);
        inspect["user_namespace"]["uid_map"][0]["outside"]
            .as_u64()
            .unwrap()
    };
    let (a, b) = (map("a"), map("b"));
    assert_ne!(a, b, "each container has ids of its own");
    let images = s.data().join("images");
    use std::os::unix::fs::MetadataExt;
    let store_owner = fs::read_dir(&images)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("rootfs").is_dir())
        .map(|e| {
            fs::metadata(e.path().join("rootfs/bin/toolbox"))
                .unwrap()
                .uid()
        })
        .next()
        .unwrap();
    for range in [a, b] {
        let ours = range..range + 65536;
        assert!(
            !ours.contains(&u64::from(store_owner)),
            "a container's range {range} owns the image store ({store_owner})"
        );
    }
    // Root in a container sees its image as its own, and cannot reach
    // the store even through a host path above it.
    let out = s.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/up", s.scratch().display()),
        "workshop",
        "sh",
        "-c",
        "ls -ld /bin/toolbox; touch /up/data/images/PWNED; echo $?",
    ]);
    assert!(out.contains(" root "), "{out}");
    assert!(out.trim_end().ends_with('1'), "{out}");
    assert!(!images.join("PWNED").exists());
}

#[tokio::test]
async fn limits_out_of_range_or_past_the_servers_caps_are_refused() {
    if !runnable(&[Root]) {
        return;
    }
    let data = DataDir::new().unwrap();
    let server = Server::start_with_env(
        &[
            "--listen",
            "127.0.0.1:0",
            "--engine",
            "real",
            "--max-memory",
            "1g",
            "--max-pids",
            "2000",
        ],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let mut client = LiveClient::connect(&server).await.unwrap();
    let run = |limits: CgroupLimits| {
        let mut spec = ContainerSpec::new("workshop");
        spec.command = vec!["sleep".into(), "100".into()];
        spec.limits = limits;
        Command::Run { spec }
    };
    let base = CgroupLimits::default();
    for (limits, says) in [
        (
            CgroupLimits {
                memory_max: Some(u64::MAX),
                ..base
            },
            "6 MiB to 16 TiB",
        ),
        (
            CgroupLimits {
                cpu_weight: 0,
                ..base
            },
            "1 to 10000",
        ),
        (
            CgroupLimits {
                cpu_weight: 1_000_000_000,
                ..base
            },
            "1 to 10000",
        ),
        (
            CgroupLimits {
                memory_max: Some(8 << 30),
                ..base
            },
            "--max-memory",
        ),
        (
            CgroupLimits {
                pids_max: Some(1_000_000),
                ..base
            },
            "--max-pids",
        ),
    ] {
        let err = client.command(run(limits)).await.unwrap().unwrap_err();
        assert!(err.to_string().contains(says), "{limits:?}: {err}");
    }
    let events = client.command(run(base)).await.unwrap().unwrap();
    let id = events
        .iter()
        .find_map(|e| match e {
            Event::ContainerCreated { id, .. } => Some(id.clone()),
            _ => None,
        })
        .unwrap();
    let err = client
        .command(Command::SetLimits {
            container: id.clone(),
            limits: CgroupLimits {
                memory_max: None,
                ..base
            },
        })
        .await
        .unwrap();
    // No limit asked for gets the default (within the cap); past the cap
    // is refused.
    assert!(err.is_ok(), "{err:?}");
    let err = client
        .command(Command::SetLimits {
            container: id.clone(),
            limits: CgroupLimits {
                memory_max: Some(4 << 30),
                ..base
            },
        })
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, EngineError::Refused(_)) && err.to_string().contains("--max-memory"));
    client
        .command(Command::Remove {
            container: id,
            force: true,
        })
        .await
        .unwrap()
        .unwrap();
    server.stop().await.unwrap();
}

#[test]
fn seccomp_refuses_nested_namespaces_and_the_keyring_unless_unconfined() {
    if !runnable(&[Root]) {
        return;
    }
    let s = Scene::new();
    for command in [&["unshare", "-U", "true"][..], &["keyctl", "new_session"]] {
        let mut args = vec!["run", "--rm", "workshop"];
        args.extend_from_slice(command);
        let out = s.run(&args);
        assert_eq!(out.status.code(), Some(1), "{command:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut args = vec![
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "workshop",
        ];
        args.extend_from_slice(command);
        let out = s.run(&args);
        assert!(
            out.status.success(),
            "{command:?} unconfined: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    s.ok(&["run", "-d", "--name", "shown", "workshop", "sleep", "100"]);
    assert_eq!(s.inspect("shown")["security"]["seccomp"], "default");
}

#[test]
fn a_fork_bomb_on_the_command_line_is_held_at_the_default_pids_limit() {
    if !runnable(&[Root]) {
        return;
    }
    let s = Scene::new();
    let help = s.ok(&["run", "--help"]);
    assert!(help.contains("1024"), "run --help says what applies");
    s.ok(&["run", "-d", "--name", "bomb", "workshop", "forkbomb"]);
    std::thread::sleep(Duration::from_secs(2));
    let inspect = s.inspect("bomb");
    assert_eq!(inspect["limits"]["pids_max"], 1024);
    // And at most half the host's CPUs, so the host keeps one.
    assert!(
        inspect["limits"]["cpu_max"]["quota_usec"]
            .as_u64()
            .is_some()
    );
    let current = inspect["cgroup_usage"]["pids_current"].as_u64().unwrap();
    assert!(current <= 1024 && current > 100, "pids.current {current}");
    // The host still forks.
    assert!(
        std::process::Command::new("true")
            .status()
            .unwrap()
            .success()
    );
    s.ok(&["rm", "-f", "bomb"]);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "free",
        "--pids-limit",
        "-1",
        "--cpus",
        "max",
        "workshop",
        "sleep",
        "100",
    ]);
    let free = s.inspect("free");
    assert!(free["limits"]["pids_max"].is_null());
    assert!(free["limits"]["cpu_max"]["quota_usec"].is_null());
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_capped_and_names_agree() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start_with(&[
        "--listen",
        "127.0.0.1:0",
        "--engine",
        "simulated",
        "--token",
        anchorage_tests::TEST_TOKEN,
        "--max-connections-per-client",
        "20",
    ])
    .await
    .unwrap();
    let port = server.addr.port();
    // Slowloris: headers begun, never finished.
    let mut slow = Vec::new();
    for _ in 0..30 {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    let mut refused = 0;
    let mut cut = 0;
    for stream in &mut slow {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buf)).await {
            Ok(Ok(n)) if String::from_utf8_lossy(&buf[..n]).contains("429") => refused += 1,
            Ok(_) => cut += 1,
            Err(_) => panic!("a slow client kept its connection for 15 s"),
        }
    }
    assert_eq!(refused, 10, "connections past the cap are answered 429");
    assert_eq!(
        cut, 20,
        "the rest are closed once the header deadline passes"
    );
    assert!(started.elapsed() < Duration::from_secs(14));
    drop(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A websocket keeps its connection's slot for as long as it is open.
    let mut open = Vec::new();
    for _ in 0..20 {
        open.push(LiveClient::connect(&server).await.unwrap());
    }
    assert!(
        LiveClient::connect(&server).await.is_err(),
        "a 21st websocket from one address is refused"
    );
    drop(open);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Host with or without a port, and Origin by the same rule.
    let get = |host: String, origin: Option<String>| async move {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let origin = origin
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET /ws?token={} HTTP/1.1\r\nHost: {host}\r\n{origin}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            anchorage_tests::TEST_TOKEN
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 512];
        let n = stream.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n])
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        for with_port in [false, true] {
            let host = if with_port {
                format!("{host}:{port}")
            } else {
                host.to_string()
            };
            for origin in ["localhost", "127.0.0.1", "[::1]"] {
                let status = get(host.clone(), Some(format!("http://{origin}:{port}"))).await;
                assert_eq!(status, "101", "Host {host}, Origin {origin}");
            }
            assert_eq!(get(host.clone(), None).await, "101", "Host {host}");
            assert_eq!(
                get(host.clone(), Some("http://localhost:1".into())).await,
                "403",
                "another port is another site"
            );
        }
    }
    assert_eq!(get("evil.example".into(), None).await, "403");
    server.stop().await.unwrap();
}
