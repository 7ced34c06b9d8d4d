//! The live server under load: 200 viewers watching 50 containers sampled
//! at 4 Hz, plus a few stuck viewers that never read.
//!
//! Reports, over a measured window:
//! - sample-to-viewer latency: from the moment the server took a sample
//!   (the delta's clock, wall time on this host) to the moment a viewer
//!   had it decoded and applied, over every delta every viewer got;
//! - event-to-viewer latency: from sending an `exec` to each viewer
//!   receiving its `process_started` event;
//! - whether viewers kept up: deltas per viewer per second, and how many
//!   times a viewer fell behind and was sent a fresh snapshot instead;
//! - the server's CPU (user + system, in % of one CPU) and memory (peak
//!   resident set).
//!
//! As root the containers are real (10 of them burning a little CPU, so
//! their cgroups change every sample); otherwise the server runs the
//! simulated kernel with the same workload, and says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anchorage_shared::container::ContainerSpec;
use anchorage_shared::protocol::ServerMessage;
use anchorage_shared::{Command, Event};
use anchorage_tests::{DataDir, LiveClient, Server, TEST_TOKEN, is_root};

const VIEWERS: usize = 200;
const STUCK_VIEWERS: usize = 5;
const CONTAINERS: usize = 50;
const BURNERS: usize = 10;
const WINDOW: Duration = Duration::from_secs(30);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// CPU time (user + system) in clock ticks, and the peak resident set in KiB.
fn usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (ticks, hwm)
}

fn percentile(samples: &mut [u64], p: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

#[derive(Default)]
struct Seen {
    /// Milliseconds from sample to viewer, for every delta.
    delta_latency: Vec<u64>,
    deltas: u64,
    resyncs: u64,
    /// When each exec'd process's start arrived, by pid.
    started: Vec<(u32, Instant)>,
}

/// One measured window: the viewers' figures and the server's, with an
/// `exec` every 200 ms (`churn`) or with the containers alone.
async fn measure(server: &Server, driver: &mut LiveClient, seen: &[Arc<Mutex<Seen>>], churn: bool) {
    let server_pid = server.pid().unwrap();
    println!(
        "\n{} for {} s:",
        if churn {
            "an exec every 200 ms"
        } else {
            "the containers alone"
        },
        WINDOW.as_secs()
    );
    for record in seen {
        *record.lock().unwrap() = Seen::default();
    }
    let (cpu_before, _) = usage(server_pid);
    let started = Instant::now();
    let mut sent: HashMap<u32, Instant> = HashMap::new();
    let mut n = 0;
    while started.elapsed() < WINDOW {
        if !churn {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let container = format!("load-{}", BURNERS + n % (CONTAINERS - BURNERS));
        n += 1;
        let at = Instant::now();
        let events = driver
            .command(Command::Exec {
                container,
                argv: vec!["sleep".into(), "1".into()],
            })
            .await
            .unwrap()
            .unwrap();
        if let Some(Event::ProcessStarted { pid, .. }) = events.first() {
            sent.insert(*pid, at);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    let (cpu_after, peak_kib) = usage(server_pid);
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let cpu = (cpu_after - cpu_before) as f64 / ticks_per_second / elapsed.as_secs_f64() * 100.0;
    let mut delta_latency = Vec::new();
    let mut event_latency = Vec::new();
    let (mut deltas, mut resyncs) = (0, 0);
    for record in seen {
        let record = record.lock().unwrap();
        delta_latency.extend(&record.delta_latency);
        deltas += record.deltas;
        resyncs += record.resyncs;
        for (pid, arrived) in &record.started {
            if let Some(at) = sent.get(pid) {
                event_latency.push(arrived.duration_since(*at).as_millis() as u64);
            }
        }
    }
    let per_viewer_rate = deltas as f64 / VIEWERS as f64 / elapsed.as_secs_f64();
    println!(
        "sample to viewer: p50 {} ms, p99 {} ms, max {} ms ({} deltas)",
        percentile(&mut delta_latency, 0.5),
        percentile(&mut delta_latency, 0.99),
        percentile(&mut delta_latency, 1.0),
        delta_latency.len()
    );
    if churn {
        println!(
            "exec to viewer (process_started): p50 {} ms, p99 {} ms, max {} ms ({} events of {} execs)",
            percentile(&mut event_latency, 0.5),
            percentile(&mut event_latency, 0.99),
            percentile(&mut event_latency, 1.0),
            event_latency.len(),
            sent.len()
        );
    }
    println!(
        "kept up: {per_viewer_rate:.2} deltas per viewer per second (4 Hz sampling), {resyncs} resyncs"
    );
    println!(
        "server: {cpu:.1}% of one CPU, peak resident memory {:.1} MiB",
        peak_kib as f64 / 1024.0
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let real = is_root();
    let data = DataDir::new().unwrap();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--token",
        TEST_TOKEN,
        "--rate",
        "4",
        "--max-containers",
        "64",
    ];
    args.extend(["--engine", if real { "real" } else { "simulated" }]);
    let server = Server::start_with_env(&args, &[("ANCHORAGE_DATA_DIR", data.path())])
        .await
        .unwrap();
    println!(
        "engine: {} ({} containers, {BURNERS} burning CPU; {VIEWERS} viewers and {STUCK_VIEWERS} that never read; 4 Hz)",
        if real {
            "real containers"
        } else {
            "the simulated kernel (not root)"
        },
        CONTAINERS
    );

    let mut driver = LiveClient::connect(&server).await.unwrap();
    for n in 0..CONTAINERS {
        let mut spec = ContainerSpec::new("workshop");
        spec.name = Some(format!("load-{n}"));
        spec.auto_remove = false;
        if n < BURNERS {
            spec.command = vec!["cpuburn".into()];
            spec.limits.cpu_max = anchorage_shared::cgroup::CpuMax::from_cpus(0.03).unwrap();
        } else {
            spec.command = vec!["sleep".into(), "100000".into()];
        }
        spec.limits.memory_max = Some(64 << 20);
        driver
            .command(Command::Run { spec })
            .await
            .unwrap()
            .unwrap();
    }
    println!("{CONTAINERS} containers running");

    // Viewers: each keeps the host's state from the snapshot and deltas.
    let seen: Vec<Arc<Mutex<Seen>>> = (0..VIEWERS).map(|_| Arc::default()).collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for record in &seen {
        let mut viewer = LiveClient::connect(&server).await.unwrap();
        let record = record.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(Ok(message)) =
                    tokio::time::timeout(Duration::from_millis(500), viewer.next()).await
                else {
                    continue;
                };
                let mut seen = record.lock().unwrap();
                match message {
                    ServerMessage::Delta { delta, .. } => {
                        seen.deltas += 1;
                        seen.delta_latency
                            .push(now_ms().saturating_sub(delta.clock_ms));
                    }
                    ServerMessage::Snapshot { .. } => seen.resyncs += 1,
                    ServerMessage::Events { events } => {
                        for event in events {
                            if let Event::ProcessStarted { pid, .. } = event {
                                seen.started.push((pid, Instant::now()));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }));
    }
    // Stuck viewers: connected, never reading.
    let mut stuck = Vec::new();
    for _ in 0..STUCK_VIEWERS {
        stuck.push(LiveClient::connect(&server).await.unwrap());
    }
    println!("{VIEWERS} viewers connected");
    tokio::time::sleep(Duration::from_secs(2)).await;
    measure(&server, &mut driver, &seen, false).await;
    measure(&server, &mut driver, &seen, true).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    drop(stuck);
    server.stop().await.unwrap();
    drop(data);
}
