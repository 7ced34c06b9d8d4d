//! `anchorage sim`: a simulated host on the terminal. It reads command
//! lines, typed at a prompt or as a script on stdin (or from a file), and
//! prints what a real host would, so one script runs on the simulator and
//! for real.

use anchorage_shared::host::CgroupLayout;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anchorage_shared::cli::{LineResult, Output, Pace, SimTerminal, SimulatedTime};
use anchorage_shared::engine::Stream;
use anchorage_shared::sim::SimEngine;

/// Writes the terminal's output to stdout and stderr as it comes.
pub(crate) struct Console;

impl Output for Console {
    fn write(&mut self, stream: Stream, bytes: &[u8]) {
        // A closed pipe (`anchorage sim | head`) is not an error worth a
        // panic: the output has nowhere to go.
        let _ = match stream {
            Stream::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Stream::Stderr => io::stderr().lock().write_all(bytes),
        };
    }
}

/// Real time, for a person at the keyboard: `sleep 5` takes five seconds,
/// and Ctrl-C stops a wait.
pub(crate) struct WallClock {
    pub(crate) interrupted: Arc<AtomicBool>,
}

impl Pace for WallClock {
    fn pause(&mut self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    fn interrupted(&mut self) -> bool {
        self.interrupted.swap(false, Ordering::SeqCst)
    }

    fn real_time(&self) -> bool {
        true
    }
}

/// Catches Ctrl-C on a thread of its own, so it interrupts waits instead of
/// ending the simulation.
pub(crate) fn catch_ctrl_c() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            runtime.block_on(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    set.store(true, Ordering::SeqCst);
                }
            })
        })?;
    Ok(flag)
}

/// Runs the terminal; returns the exit status of the last command, as a
/// shell does. A script runs as fast as the simulation can go, the same
/// every time, each line waiting at most `line_timeout_ms` of simulated
/// time (`None`: no limit), on a host whose cgroups are laid out as
/// `cgroups` says.
pub fn run(
    hostname: &str,
    script: Option<&Path>,
    trace: bool,
    line_timeout_ms: Option<u64>,
    cgroups: CgroupLayout,
) -> anyhow::Result<i32> {
    let engine = SimEngine::with_cgroups(hostname, cgroups);
    let (input, interactive): (Box<dyn BufRead>, bool) = match script {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|err| {
                anyhow::anyhow!("cannot read the script {}: {err}", path.display())
            })?;
            (Box::new(io::BufReader::new(file)), false)
        }
        None => {
            let stdin = io::stdin();
            let interactive = stdin.is_terminal();
            (Box::new(stdin.lock()), interactive)
        }
    };
    let mut terminal = if interactive {
        let interrupted = catch_ctrl_c()?;
        println!(
            "A simulated Linux host ({} CPUs, {} of memory) with the `workshop` image. Type `help`; Ctrl-D leaves.",
            anchorage_shared::sim::HOST_CPUS,
            anchorage_shared::cgroup::format_size(anchorage_shared::sim::HOST_MEMORY_BYTES)
        );
        SimTerminal::new(engine, Box::new(WallClock { interrupted }))
    } else {
        SimTerminal::new(engine, Box::new(SimulatedTime::new(line_timeout_ms)))
    };

    let mut status = 0;
    let mut last = Instant::now();
    let mut lines = input.lines();
    loop {
        if interactive {
            print!("{}", terminal.prompt());
            io::stdout().flush()?;
        }
        let Some(line) = lines.next() else {
            if interactive {
                println!();
            }
            match terminal.finish(&mut Console) {
                Some(LineResult::Continue(code)) => status = code,
                Some(LineResult::Exit(code)) => return Ok(code),
                None => {}
            }
            break;
        };
        let line = line?;
        if interactive {
            // The simulated clock kept time while the user typed.
            let idle = last.elapsed().as_millis() as u64;
            terminal.idle(idle);
            terminal.session_mut().interrupted();
        }
        if trace && !line.trim().is_empty() {
            eprintln!("+ {line}");
        }
        match terminal.run_line(&line, &mut Console) {
            LineResult::Continue(code) => status = code,
            LineResult::Exit(code) => return Ok(code),
        }
        last = Instant::now();
    }
    Ok(status)
}
