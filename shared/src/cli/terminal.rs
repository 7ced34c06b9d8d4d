//! A terminal on the simulated host: the shell `anchorage sim` and the
//! browser's terminal give you. A line is read by the login shell, the
//! same POSIX shell the workshop image has (pipes, redirections, loops,
//! variables that last from line to line), running as root in the host's
//! own namespaces: `ps` there shows the containers' processes with their
//! host pids, `cat /sys/fs/cgroup/...` shows their limits, and `echo 50000
//! 100000 > .../cpu.max` sets one. `anchorage` is a program on the host
//! whose verbs this terminal carries out.

use crate::engine::{Event, Stream};
use crate::shell::State;
use crate::sim::SimEngine;

use super::{ContainerCli, INTERRUPTED, Output, Pace, Session, Transcript};
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
This is a root shell on a simulated Linux host, the workshop image's POSIX
shell: pipes, redirections, &&, ||, if, for, while, case, functions and
variables that last from line to line. It runs:
  anchorage VERB ...   container verbs: run, create, start, ps, exec, logs, top,
                       inspect, images, kill, stop, rm, update
                       (`anchorage --help`, `anchorage VERB --help`)
  the workshop image's commands, as root on the host (`help` inside a
                       container, or `toolbox`, lists them): ps, grep, cat,
                       ls, ip, nsenter, unshare, ...
For example: echo 50000 100000 > /sys/fs/cgroup/anchorage/ID/cpu.max
";

/// Steps a line may take past its time limit to end by itself.
const LIMIT_GRACE_STEPS: u32 = 5;

/// A shell on the simulated host.
pub struct SimTerminal {
    session: Session<SimEngine>,
    /// The login shell's state between lines (`None` before the first).
    state: Option<State>,
    /// The time limit that interrupted the line, if one did (not the
    /// user).
    stopped_by_limit: Option<u64>,
    /// The start of a command that goes on over more lines (`for ...` with
    /// its `do` on the next), until it is whole.
    pending: String,
}

impl SimTerminal {
    pub fn new(engine: SimEngine, pace: Box<dyn Pace>) -> SimTerminal {
        SimTerminal {
            session: Session::new(engine, pace),
            state: None,
            stopped_by_limit: None,
            pending: String::new(),
        }
    }

    pub fn engine(&self) -> &SimEngine {
        &self.session.engine
    }

    pub fn session_mut(&mut self) -> &mut Session<SimEngine> {
        &mut self.session
    }

    /// The prompt, as a root shell on a real host shows it (`> ` while a
    /// command goes on over more lines).
    pub fn prompt(&self) -> String {
        if !self.pending.is_empty() {
            return "> ".into();
        }
        let cwd = self.session.engine.host_cwd();
        let shown = if cwd == "/root" { "~".to_string() } else { cwd };
        format!("root@{}:{shown}# ", self.session.engine.hostname())
    }

    /// Runs one line of input; a command that is not whole yet waits for
    /// the next lines, as a shell's `PS2` prompt does.
    pub fn run_line(&mut self, line: &str, out: &mut dyn Output) -> LineResult {
        let text = if self.pending.is_empty() {
            line.to_string()
        } else {
            format!("{}\n{line}", std::mem::take(&mut self.pending))
        };
        if matches!(crate::shell::parse(&text), Err(err) if err.at_end) {
            self.pending = text;
            return LineResult::Continue(self.state.as_ref().map_or(0, |s| s.status));
        }
        self.run_whole(&text, out)
    }

    /// At the end of the input: what is left of a command that never
    /// ended runs, and gets its syntax error.
    pub fn finish(&mut self, out: &mut dyn Output) -> Option<LineResult> {
        if self.pending.is_empty() {
            return None;
        }
        let text = std::mem::take(&mut self.pending);
        Some(self.run_whole(&text, out))
    }

    fn run_whole(&mut self, line: &str, out: &mut dyn Output) -> LineResult {
        self.session.begin_line();
        self.stopped_by_limit = None;
        let result = if line.trim() == "help" {
            out.print(Stream::Stdout, HELP);
            LineResult::Continue(0)
        } else {
            self.run_in_login_shell(line, out)
        };
        if let Some(limit) = self.stopped_by_limit {
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

    fn run_in_login_shell(&mut self, line: &str, out: &mut dyn Output) -> LineResult {
        // Reading the line takes a moment, in which what runs in the
        // background carries on.
        let mut pending = self.session.elapse(crate::sim::QUANTUM_MS);
        let shell = self.session.engine.host_shell();
        let state = match self.state.take() {
            Some(state) => state,
            None => {
                let env = self.session.engine.host_env();
                let cwd = self.session.engine.host_cwd();
                let mut state = State::new(&env, &cwd, "sh");
                state.interactive = true;
                state.options.mode = "i";
                state
            }
        };
        let before = state.clone();
        pending.extend(self.session.engine.host_line(state, line));
        // What the line starts, to interrupt; background jobs of earlier
        // lines are not this line's.
        let mut started = Vec::new();
        // And all they start, in containers too (`nsenter ... hostname`).
        let mut family = std::collections::BTreeSet::from([shell]);
        // Once the limit is reached, the few steps a finished verb's line
        // needs to end (its process exits, the shell goes on).
        let mut grace = LIMIT_GRACE_STEPS;
        loop {
            for event in pending.drain(..) {
                match &event {
                    Event::ProcessStarted { pid, ppid, .. } if family.contains(ppid) => {
                        family.insert(*pid);
                        if *ppid == shell {
                            started.push(*pid);
                        }
                    }
                    // What the host's processes print is the terminal's
                    // (this line's, and background jobs'), and so is what
                    // this line's commands print in a container.
                    Event::Output {
                        container,
                        pid,
                        stream,
                        data,
                    } if container.is_none() || family.contains(pid) => {
                        out.write(*stream, data.as_bytes())
                    }
                    _ => {}
                }
            }
            if let Some(end) = self.session.engine.host_line_end() {
                self.state = Some(end.state);
                return match end.exit {
                    Some(code) => LineResult::Exit(code),
                    None => LineResult::Continue(end.status),
                };
            }
            for (pid, argv) in self.session.engine.host_verbs() {
                self.carry_out(pid, argv, out);
            }
            if !self.session.engine.host_line_running() {
                // The login shell was killed, or became another program
                // (`exec`): the next line gets a new one.
                self.state = None;
                return LineResult::Continue(0);
            }
            if self.session.interrupted() && grace == 0 {
                self.stopped_by_limit = self.session.timed_out();
                // Ctrl-C: the line's commands get SIGINT; the shell is back
                // at its prompt with what it knew before the line.
                let events = self.session.engine.host_line_abort(&started, &before.cwd);
                self.session.record(&events);
                out.print(Stream::Stderr, "^C\n");
                let mut state = before;
                state.status = INTERRUPTED;
                self.state = Some(state);
                return LineResult::Continue(INTERRUPTED);
            }
            if self.session.interrupted() {
                grace = grace.saturating_sub(1);
            }
            pending = self.session.wait_step();
        }
    }

    /// Carries out the verb an `anchorage` process asked for: printed as
    /// it goes when its output is the terminal, else given to the
    /// process to write where its output goes (a pipe, a file).
    fn carry_out(&mut self, pid: crate::process::Pid, argv: Vec<String>, out: &mut dyn Output) {
        let direct = self.session.engine.host_prints_to_terminal(pid);
        let mut captured = Transcript::default();
        let sink: &mut dyn Output = if direct { out } else { &mut captured };
        let status = match ContainerCli::try_parse_from(&argv) {
            Ok(cli) => self.session.execute(cli.verb, sink),
            Err(err) => {
                let stream = if err.use_stderr() {
                    Stream::Stderr
                } else {
                    Stream::Stdout
                };
                sink.print(stream, &err.render().to_string());
                err.exit_code()
            }
        };
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        for (stream, text) in captured.lines {
            match stream {
                Stream::Stdout => stdout.extend(text.into_bytes()),
                Stream::Stderr => stderr.extend(text.into_bytes()),
            }
        }
        if status == INTERRUPTED && self.session.timed_out().is_some() {
            self.stopped_by_limit = self.session.timed_out();
        }
        self.session
            .engine
            .host_verb_done(pid, status, stdout, stderr);
    }

    /// Lets time pass while nobody types (an interactive terminal calls
    /// this with the wall time between lines).
    pub fn idle(&mut self, ms: u64) {
        self.session.elapse(ms);
    }
}
