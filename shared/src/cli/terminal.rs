//! A terminal on the simulated host: the shell `anchorage sim` and the
//! browser's terminal give you. Lines run as on a real host: `anchorage`
//! verbs go to the engine, anything else runs as a root process in the
//! host's own namespaces (so `ps` there shows the containers' processes
//! with their host pids, and `cat /sys/fs/cgroup/...` shows their limits).

use crate::engine::{EngineError, Stream};
use crate::process::parse_script;
use crate::sim::SimEngine;

use super::{ContainerCli, Output, Pace, Session};
use clap::Parser;

/// What a line asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineResult {
    /// Carry on; the line's exit status.
    Continue(i32),
    /// `exit`: the terminal ends with this status.
    Exit(i32),
}

const HELP: &str = "\
This is a shell on a simulated Linux host. It runs:
  anchorage VERB ...   container verbs: run, create, start, ps, exec, logs, top,
                       inspect, images, kill, stop, rm, update
                       (`anchorage --help`, `anchorage VERB --help`)
  any workshop command as root on the host: ps, ls, cat, hostname, id, uname, ip,
                       mount, kill, sleep, echo, nsenter, unshare, ...
  cd DIR, exit [N], help
Separate commands with `;`. `#` starts a comment.
";

/// A shell on the simulated host.
pub struct SimTerminal {
    session: Session<SimEngine>,
    status: i32,
}

impl SimTerminal {
    pub fn new(engine: SimEngine, pace: Box<dyn Pace>) -> SimTerminal {
        SimTerminal {
            session: Session::new(engine, pace),
            status: 0,
        }
    }

    pub fn engine(&self) -> &SimEngine {
        &self.session.engine
    }

    pub fn session_mut(&mut self) -> &mut Session<SimEngine> {
        &mut self.session
    }

    /// The prompt, as a root shell on a real host shows it.
    pub fn prompt(&self) -> String {
        let cwd = self.session.engine.host_cwd();
        let shown = if cwd == "/root" { "~".to_string() } else { cwd };
        format!("root@{}:{shown}# ", self.session.engine.hostname())
    }

    /// Runs one line of input.
    pub fn run_line(&mut self, line: &str, out: &mut dyn Output) -> LineResult {
        self.session.begin_line();
        let result = self.run_jobs(line, out);
        if let Some(limit) = self.session.timed_out() {
            out.print(
                Stream::Stderr,
                &format!(
                    "sh: this line was interrupted, as Ctrl-C would, after {} of simulated time (the limit a line may wait; `anchorage sim --line-timeout` sets it)\n",
                    humantime::format_duration(std::time::Duration::from_millis(limit))
                ),
            );
        }
        result
    }

    fn run_jobs(&mut self, line: &str, out: &mut dyn Output) -> LineResult {
        let jobs = match parse_script(line) {
            Ok(jobs) => jobs,
            Err(msg) => {
                out.print(Stream::Stderr, &format!("sh: {msg}\n"));
                self.status = 2;
                return LineResult::Continue(2);
            }
        };
        for job in jobs {
            // Reading the line and starting it takes a moment, in which
            // what runs in the background carries on.
            self.session.elapse(crate::sim::QUANTUM_MS);
            if job.background || !job.redirects.is_empty() {
                out.print(
                    Stream::Stderr,
                    "sh: `&` and redirections are for shells inside containers: on this terminal use `anchorage run -d` to run in the background\n",
                );
                self.status = 2;
                continue;
            }
            let status = self.status;
            let env = self.session.engine.host_env();
            let shell = self.session.engine.host_shell();
            let argv = job.argv(&|name| match name {
                "?" => Some(status.to_string()),
                "$" => Some(shell.to_string()),
                other => env
                    .iter()
                    .find_map(|pair| pair.strip_prefix(other)?.strip_prefix('='))
                    .map(str::to_string),
            });
            let Some(command) = argv.first() else {
                continue;
            };
            self.status = match command.as_str() {
                "exit" => {
                    let code = argv
                        .get(1)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(self.status);
                    return LineResult::Exit(code);
                }
                "help" => {
                    out.print(Stream::Stdout, HELP);
                    0
                }
                "cd" => match self
                    .session
                    .engine
                    .host_chdir(argv.get(1).map_or("/root", String::as_str))
                {
                    Ok(()) => 0,
                    Err(msg) => {
                        out.print(Stream::Stderr, &format!("sh: cd: {msg}\n"));
                        2
                    }
                },
                "anchorage" => match ContainerCli::try_parse_from(&argv) {
                    Ok(cli) => self.session.execute(cli.verb, out),
                    Err(err) => {
                        let stream = if err.use_stderr() {
                            Stream::Stderr
                        } else {
                            Stream::Stdout
                        };
                        out.print(stream, &err.render().to_string());
                        err.exit_code()
                    }
                },
                _ => self.host_command(argv, out),
            };
        }
        LineResult::Continue(self.status)
    }

    /// Runs a command as a root process on the host and waits for it.
    fn host_command(&mut self, argv: Vec<String>, out: &mut dyn Output) -> i32 {
        match self.session.engine.host_exec(argv) {
            Ok((pid, events)) => {
                self.session.record(&events);
                let mut status = self.session.follow_process(pid, events, out);
                if status == super::INTERRUPTED {
                    // Ctrl-C: the terminal sends SIGINT to the command.
                    let events = self
                        .session
                        .engine
                        .host_signal(pid, crate::process::Signal::Int);
                    self.session.record(&events);
                    out.print(Stream::Stderr, "^C\n");
                    status = self.session.follow_process(pid, events, out);
                }
                self.session.engine.host_wait(pid);
                status
            }
            Err(err @ EngineError::Exec { .. }) => {
                out.print(Stream::Stderr, &format!("sh: {err}\n"));
                2
            }
            Err(err) => {
                out.print(Stream::Stderr, &format!("sh: {err}\n"));
                1
            }
        }
    }

    /// Lets time pass while nobody types (an interactive terminal calls
    /// this with the wall time between lines).
    pub fn idle(&mut self, ms: u64) {
        self.session.elapse(ms);
    }
}
