//! The simulated host's terminal as the kernel sees it: a login shell
//! (`-sh`, root in the host's namespaces) whose lines run the shared
//! shell in that process, and `/usr/bin/anchorage`, whose verbs the
//! terminal carries out (they drive the engine, which a process cannot).
//!
//! A line runs as the login shell's program until it ends; its state
//! (variables, functions, `$?`, the working directory) goes back to the
//! terminal for the next line. An `anchorage` process asks the terminal
//! for its verb and sleeps; the terminal runs it and hands back its
//! output, which the process writes to its standard output and error (a
//! pipe, a file, the terminal) as any program would, then exits with the
//! verb's status.

use super::fd::Open;
use super::process::{Program, Sink};
use super::shell::ShellTask;
use super::*;
use crate::shell::State;

/// An `anchorage` process: the verb it asked for, then what the verb
/// printed, written out as its reader takes it.
#[derive(Debug)]
pub(crate) struct Verb {
    pub argv: Vec<String>,
    /// Whether the terminal has been asked.
    pub asked: bool,
    pub done: Option<VerbDone>,
}

#[derive(Debug)]
pub(crate) struct VerbDone {
    pub status: i32,
    pub out: Vec<u8>,
    pub err: Vec<u8>,
}

/// How a terminal line ended.
pub struct LineEnd {
    pub state: State,
    /// `exit`: the status the terminal ends with.
    pub exit: Option<i32>,
    pub status: i32,
}

/// A finished line's end, kept in the engine until the terminal takes
/// it.
pub(crate) struct Parked(LineEnd);

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parked")
            .field("status", &self.0.status)
            .finish()
    }
}

// SAFETY: the state's `Rc`s (function bodies) are shared only with the
// terminal that started the line (which keeps the state it gave, to put
// back on Ctrl-C) and the engine's tasks; both move between threads with
// the engine, whole, and are used by one thread at a time, as
// `ShellTask`'s own `Send` says.
unsafe impl Send for Parked {}

/// Statuses of the login shell's children, reaped, by inner pid.
pub(crate) type Reaped = std::collections::HashMap<Pid, i32>;

/// How many reaped statuses the login shell keeps for `wait`.
const REAPED_KEPT: usize = 1024;

/// Where the engine's `anchorage` binary is on the host.
pub(crate) const ANCHORAGE_PATH: &str = "usr/bin/anchorage";

impl SimEngine {
    /// Sends a signal from the host's terminal to a command and all it
    /// started (its process group, as Ctrl-C does).
    pub fn host_signal(&mut self, pid: Pid, signal: Signal) -> Vec<Event> {
        let mut events = Vec::new();
        let shell = self.login_shell_pid();
        let mut group = vec![pid];
        let mut i = 0;
        while i < group.len() {
            let parent = group[i];
            group.extend(
                self.processes
                    .values()
                    .filter(|p| p.ppid == parent && p.state != ProcessState::Zombie)
                    .map(|p| p.pid),
            );
            i += 1;
        }
        for member in group {
            self.signal(shell, member, signal, &mut events);
        }
        events
    }

    /// The terminal's login shell on the host (its `$$`).
    pub fn host_shell(&mut self) -> Pid {
        self.login_shell_pid()
    }

    /// The terminal's working directory on the host.
    pub fn host_cwd(&self) -> String {
        self.login_shell
            .and_then(|pid| self.processes.get(&pid))
            .map_or_else(|| "/root".to_string(), |p| p.cwd.clone())
    }

    /// The terminal's environment on the host.
    pub fn host_env(&self) -> Vec<String> {
        self.login_shell
            .and_then(|pid| self.processes.get(&pid))
            .map_or_else(Vec::new, |p| p.env.clone())
    }

    fn login_shell_pid(&mut self) -> Pid {
        if let Some(pid) = self.login_shell.filter(|pid| self.is_alive(*pid)) {
            return pid;
        }
        self.cgroups.create(USER_CGROUP, CgroupLimits::default());
        let terminal = self.std_fds(
            Sink::Terminal(Stream::Stdout),
            Sink::Terminal(Stream::Stderr),
        );
        let pid = self.spawn_raw(
            Spawn {
                ppid: 1,
                argv: vec!["-sh".into()],
                env: vec![
                    "PATH=/usr/sbin:/usr/bin:/sbin:/bin".into(),
                    "HOME=/root".into(),
                    "USER=root".into(),
                ],
                cwd: "/root".into(),
                root: "/".into(),
                ns: self.namespaces.host.clone(),
                cgroup: USER_CGROUP.into(),
                container: None,
                fds: terminal,
            },
            Program::HostShell,
        );
        self.login_shell = Some(pid);
        pid
    }

    /// Starts a terminal line in the login shell, with the state the
    /// previous line left.
    pub fn host_line(&mut self, state: State, line: &str) -> Vec<Event> {
        let shell = self.login_shell_pid();
        let (inner, parent) = self.pids_inside(shell);
        let reaped = std::mem::take(&mut self.login_reaped);
        let task = ShellTask::login(state, line.to_string(), inner, parent, reaped);
        // Its descriptors as the line starts, to put back if it is cut
        // short in the middle of a redirection.
        let fds = self.processes[&shell].fds.clone();
        let kept = self.copy_fds(&fds);
        if let Some(old) = self.login_fds.replace(kept) {
            self.drop_fds(old);
        }
        if let Some(p) = self.processes.get_mut(&shell) {
            p.program = Program::Shell(Box::new(task));
            p.state = ProcessState::Running;
        }
        Vec::new()
    }

    /// Whether `abs` (resolved in `pid`'s mount namespace) is the host's
    /// `/usr/bin/anchorage`.
    pub(crate) fn is_host_binary(&self, pid: Pid, abs: &str) -> bool {
        abs.strip_prefix('/') == Some(ANCHORAGE_PATH)
            && self.processes.get(&pid).is_some_and(|p| {
                p.ns[&NamespaceKind::Mnt] == self.namespaces.host[&NamespaceKind::Mnt]
            })
    }

    /// Whether the login shell is still running the line (or has just
    /// ended it).
    pub fn host_line_running(&self) -> bool {
        self.line_end.is_some()
            || self
                .login_shell
                .and_then(|pid| self.processes.get(&pid))
                .is_some_and(|p| {
                    p.state != ProcessState::Zombie
                        && matches!(&p.program, Program::Shell(task) if task.login)
                })
    }

    /// The line that has ended since the last look, if one has.
    pub fn host_line_end(&mut self) -> Option<LineEnd> {
        self.line_end.take().map(|parked| parked.0)
    }

    /// Ends the running line at once (Ctrl-C at the prompt): its commands
    /// get SIGINT, the login shell goes back to its prompt.
    /// `started` are the processes the line started; `cwd` is where the
    /// shell was before it.
    pub fn host_line_abort(&mut self, started: &[Pid], cwd: &str) -> Vec<Event> {
        let shell = self.login_shell_pid();
        let mut events = Vec::new();
        for child in started {
            if self.is_alive(*child) {
                events.extend(self.host_signal(*child, Signal::Int));
            }
        }
        let fds = self.login_fds.take();
        if let Some(p) = self.processes.get_mut(&shell) {
            p.program = Program::HostShell;
            p.state = ProcessState::Sleeping;
            p.cwd = cwd.to_string();
        }
        // Descriptors as they were before the line, whatever redirection
        // it was in.
        if let Some(fds) = fds
            && let Some(p) = self.processes.get_mut(&shell)
        {
            let now = std::mem::replace(&mut p.fds, fds);
            self.drop_fds(now);
        }
        // Its children are reaped as a login shell's are.
        self.reap_login_children();
        events
    }

    /// Called when the login shell's line has finished: it keeps its
    /// state for the terminal and goes back to waiting at the prompt.
    pub(crate) fn login_line_finished(&mut self, pid: Pid, end: LineEnd, reaped: Reaped) {
        self.line_end = Some(Parked(end));
        self.login_reaped = reaped;
        if let Some(fds) = self.login_fds.take() {
            self.drop_fds(fds);
        }
        if let Some(p) = self.processes.get_mut(&pid) {
            p.program = Program::HostShell;
            p.state = ProcessState::Sleeping;
        }
        self.reap_login_children();
    }

    /// The login shell reaps what its lines left, as an interactive
    /// shell does at its prompt, keeping their statuses for `wait`.
    pub(crate) fn reap_login_children(&mut self) {
        let Some(shell) = self.login_shell else {
            return;
        };
        let reaped = self.reap_all(shell);
        self.login_reaped.extend(reaped);
        // Bounded as the host's task table is: the lowest pids go first.
        while self.login_reaped.len() > REAPED_KEPT {
            let Some(lowest) = self.login_reaped.keys().min().copied() else {
                break;
            };
            self.login_reaped.remove(&lowest);
        }
    }

    /// The `anchorage` processes that wait for the terminal to run their
    /// verb, each asked once: their pids and arguments.
    pub fn host_verbs(&mut self) -> Vec<(Pid, Vec<String>)> {
        let mut asked = Vec::new();
        for p in self.processes.values_mut() {
            if let Program::Verb(verb) = &mut p.program
                && !verb.asked
            {
                verb.asked = true;
                asked.push((p.pid, verb.argv.clone()));
            }
        }
        asked
    }

    /// Whether a process's standard output and error are the terminal,
    /// where a verb may print as it goes.
    pub fn host_prints_to_terminal(&self, pid: Pid) -> bool {
        [1, 2].iter().all(|fd| {
            self.description_of(pid, *fd)
                .and_then(|id| self.files.get(id))
                .is_some_and(|d| matches!(d.open, Open::Sink(Sink::Terminal(_))))
        })
    }

    /// A verb has been carried out: the process writes what it printed
    /// and exits with its status.
    pub fn host_verb_done(&mut self, pid: Pid, status: i32, out: Vec<u8>, err: Vec<u8>) {
        if let Some(p) = self.processes.get_mut(&pid)
            && let Program::Verb(verb) = &mut p.program
        {
            verb.done = Some(VerbDone { status, out, err });
            p.state = ProcessState::Running;
        }
    }

    /// One step of an `anchorage` process.
    pub(crate) fn step_verb(
        &mut self,
        pid: Pid,
        mut verb: Box<Verb>,
        events: &mut Vec<Event>,
    ) -> Option<Program> {
        let Some(done) = &mut verb.done else {
            return Some(Program::Verb(verb));
        };
        for (fd, pending) in [(1, &mut done.out), (2, &mut done.err)] {
            if pending.is_empty() {
                continue;
            }
            match self.fd_write(pid, fd, pending, false, events) {
                super::fd::WriteResult::Wrote(n) => {
                    pending.drain(..n.min(pending.len()));
                }
                super::fd::WriteResult::Wait => {}
                super::fd::WriteResult::Broken => {
                    self.exit_process(pid, ExitStatus::Signaled(Signal::Pipe), events);
                    return None;
                }
                super::fd::WriteResult::Error(_) => pending.clear(),
            }
        }
        if done.out.is_empty() && done.err.is_empty() {
            let status = done.status;
            self.exit_process(pid, ExitStatus::Code(status & 0xff), events);
            return None;
        }
        Some(Program::Verb(verb))
    }
}
