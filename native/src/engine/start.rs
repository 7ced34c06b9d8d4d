//! Starting a container: its supervisor is spawned, and its answer (the
//! init runs, or why not) read within a bound. On the terminal the
//! command waits for it (at most [`START_TIMEOUT`]); a server, whose
//! engine thread serves every client, waits [`START_BUDGET`] and then
//! reads the answer in a later [`Engine::advance`](anchorage_shared::Engine::advance),
//! so a slow or hung supervisor stalls no one.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anchorage_shared::container::Container;
use anchorage_shared::engine::{EngineError, Event};
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::{RealEngine, io_refused, observe};
use crate::cgroup::{self, Cgroup};
use crate::process::shim;

/// How long `anchorage run` and `start` wait for the supervisor to say
/// whether the init runs; past it the supervisor is killed.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a server's engine thread waits for that answer before it goes
/// on and reads it later (a start takes 15 to 60 ms here: most are
/// answered at once).
const START_BUDGET: Duration = Duration::from_millis(250);

/// A start whose answer has not come yet (a server's).
#[derive(Debug)]
pub(super) struct PendingStart {
    container: Container,
    dir: PathBuf,
    report: OwnedFd,
    supervisor: u32,
    answer: Vec<u8>,
    since: Instant,
}

/// Waits at most `bound` for a process to be gone (or a zombie).
pub(super) fn wait_gone(pid: u32, bound: Duration) {
    let deadline = Instant::now() + bound;
    while shim::start_ticks(pid).is_some() && !shim::is_zombie(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What reading a supervisor's first line came to.
enum Answer {
    /// The line, whole.
    Line(String),
    /// Not yet.
    Waiting,
    /// The pipe closed first: the supervisor died without answering.
    Closed,
}

/// Reads what there is of the first line, waiting at most `wait`.
fn read_answer(fd: &OwnedFd, answer: &mut Vec<u8>, wait: Duration) -> Answer {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::ZERO);
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) => return Answer::Waiting,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return Answer::Closed,
        }
        let mut buf = [0u8; 256];
        match nix::unistd::read(fd.as_fd(), &mut buf) {
            Ok(0) | Err(_) => return Answer::Closed,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if let Some(end) = answer.iter().position(|b| *b == b'\n') {
                    // Bytes after the line are later wake-ups: not needed.
                    return Answer::Line(String::from_utf8_lossy(&answer[..end]).into_owned());
                }
                if answer.len() > 64 << 10 {
                    return Answer::Closed;
                }
            }
        }
    }
}

impl RealEngine {
    /// Starts a created container's supervisor and waits (within a bound)
    /// for it to say whether the init is running.
    pub(super) fn start(
        &mut self,
        dir: &Path,
        container: &Container,
        warm: Option<cgroup::WarmAttach>,
    ) -> Result<Vec<Event>, EngineError> {
        let _warm = warm.or_else(|| {
            self.layout
                .as_ref()
                .map(|layout| Cgroup::open(layout, &container.cgroup).warm_attach())
        });
        let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::Refused(format!("pipe: {}", e.desc())))?;
        if crate::process::single_threaded() {
            // Without threads, a fork is the supervisor (no exec of this
            // binary to wait for).
            // SAFETY: one thread; the child runs the supervisor and ends
            // with _exit.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {
                    let null = fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open("/dev/null");
                    // SAFETY: descriptor juggling in the child: the report
                    // pipe on 3, nothing else of the caller's kept.
                    unsafe {
                        if let Ok(null) = &null {
                            let fd = std::os::fd::AsRawFd::as_raw_fd(null);
                            libc::dup2(fd, 0);
                            libc::dup2(fd, 1);
                            libc::dup2(fd, 2);
                        }
                        libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&report_w), 3);
                        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
                        let report = std::os::fd::FromRawFd::from_raw_fd(3);
                        let code = shim::run(dir, report);
                        libc::_exit(code);
                    }
                }
                Ok(nix::unistd::ForkResult::Parent { child }) => {
                    drop(report_w);
                    self.forked.push(child);
                    return self.started(container, report_r, dir, child.as_raw() as u32);
                }
                Err(e) => {
                    return Err(EngineError::Refused(format!(
                        "start the container's supervisor: {}",
                        e.desc()
                    )));
                }
            }
        }
        let mut command = std::process::Command::new(&self.binary);
        command
            .arg("__shim")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let report_fd = std::os::fd::AsRawFd::as_raw_fd(&report_w);
        // SAFETY: dup2 is async-signal-safe; it puts the pipe on fd 3
        // (without close-on-exec) for the supervisor.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(report_fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(io_refused("start the container's supervisor"))?;
        drop(report_w);
        let supervisor = child.id();
        self.shims.push(child);
        self.started(container, report_r, dir, supervisor)
    }

    /// Reads the supervisor's answer and turns it into events: at once
    /// when it comes within the bound; a server's later, from `advance`.
    fn started(
        &mut self,
        container: &Container,
        report: OwnedFd,
        dir: &Path,
        supervisor: u32,
    ) -> Result<Vec<Event>, EngineError> {
        let wait = if self.waiting {
            START_TIMEOUT
        } else {
            START_BUDGET
        };
        let mut answer = Vec::new();
        match read_answer(&report, &mut answer, wait) {
            Answer::Line(line) => {
                // The pipe then stays open until the supervisor ends, so
                // `advance` wakes when it does.
                self.watch.push(report);
                Self::answered(container, &line, dir)
            }
            Answer::Closed => Self::answered(container, "", dir),
            Answer::Waiting if self.waiting => {
                // Killed, and what it started with it (its init and cgroup),
                // before the caller removes the container.
                Self::kill_supervisor(supervisor);
                wait_gone(supervisor, Duration::from_secs(2));
                if let Some(state) = shim::read_state(dir) {
                    self.settle(dir, container, state);
                }
                Err(EngineError::Refused(format!(
                    "the supervisor of container {} did not say in {} s whether it started: it was killed, and what it had started with it",
                    container.name,
                    START_TIMEOUT.as_secs()
                )))
            }
            Answer::Waiting => {
                self.pending_starts.push(PendingStart {
                    container: container.clone(),
                    dir: dir.to_path_buf(),
                    report,
                    supervisor,
                    answer,
                    since: Instant::now(),
                });
                Ok(Vec::new())
            }
        }
    }

    fn kill_supervisor(pid: u32) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }

    /// Whether a start of this container waits for its answer.
    pub(super) fn starting(&self, id: &str) -> bool {
        self.pending_starts.iter().any(|p| p.container.id == id)
    }

    /// Drops a pending start (its container is being removed): its
    /// supervisor's pid.
    pub(super) fn forget_start(&mut self, id: &str) -> Option<u32> {
        let index = self
            .pending_starts
            .iter()
            .position(|p| p.container.id == id)?;
        Some(self.pending_starts.remove(index).supervisor)
    }

    /// The pipes of starts still waiting for their answer, for `poll`.
    pub(super) fn pending_fds(&self) -> impl Iterator<Item = std::os::fd::BorrowedFd<'_>> {
        self.pending_starts.iter().map(|p| p.report.as_fd())
    }

    /// The answers that came for pending starts, as events; a start
    /// unanswered past [`START_TIMEOUT`] has its supervisor killed (the
    /// container then ends with the reason).
    pub(super) fn collect_starts(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        let pending = std::mem::take(&mut self.pending_starts);
        for mut start in pending {
            match read_answer(&start.report, &mut start.answer, Duration::ZERO) {
                Answer::Line(line) => {
                    if let Ok(answered) = Self::answered(&start.container, &line, &start.dir) {
                        events.extend(answered);
                    }
                    // A refusal is in its state: its end comes as an event.
                    self.watch.push(start.report);
                }
                Answer::Closed => {}
                Answer::Waiting if start.since.elapsed() >= START_TIMEOUT => {
                    Self::kill_supervisor(start.supervisor);
                }
                Answer::Waiting => self.pending_starts.push(start),
            }
        }
        events
    }

    /// A supervisor's answer as events, or why the container did not start.
    fn answered(
        container: &Container,
        answer: &str,
        dir: &Path,
    ) -> Result<Vec<Event>, EngineError> {
        let mut events = Vec::new();
        if let Some(pid) = answer.strip_prefix("ok\t") {
            let init_pid: u32 = pid.parse().unwrap_or(0);
            events.push(Event::ContainerStarted {
                id: container.id.clone(),
                init_pid,
                namespaces: observe::namespaces_of(init_pid),
            });
            events.push(Event::ProcessStarted {
                pid: init_pid,
                ppid: 0,
                ns_pids: vec![init_pid, 1],
                argv: container.command.clone(),
                container: Some(container.id.clone()),
            });
            return Ok(events);
        }
        if let Some(rest) = answer.strip_prefix("exited\t") {
            // The command could not run: the init started and ended (its
            // reason is on its stderr, in the console).
            let init_pid: u32 = rest
                .split('\t')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            events.push(Event::ContainerStarted {
                id: container.id.clone(),
                init_pid,
                namespaces: Vec::new(),
            });
            events.push(Event::ProcessStarted {
                pid: init_pid,
                ppid: 0,
                ns_pids: vec![init_pid, 1],
                argv: container.command.clone(),
                container: Some(container.id.clone()),
            });
            return Ok(events);
        }
        if let Some(rest) = answer.strip_prefix("err\t") {
            let (_, message) = rest.split_once('\t').unwrap_or(("125", rest));
            return Err(EngineError::Refused(format!(
                "container {} could not start: {message}",
                container.name
            )));
        }
        let detail = fs::read_to_string(dir.join("shim.err")).unwrap_or_default();
        Err(EngineError::Refused(if detail.is_empty() {
            format!(
                "the supervisor of container {} ended without saying whether it started (was it killed?)",
                container.name
            )
        } else {
            format!(
                "the supervisor of container {} failed: {detail}",
                container.name
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pipe() -> (OwnedFd, fs::File) {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        (r, fs::File::from(w))
    }

    #[test]
    fn an_answer_is_read_in_pieces_within_the_bound() {
        let (r, mut w) = pipe();
        let mut answer = Vec::new();
        w.write_all(b"ok\t12").unwrap();
        let started = Instant::now();
        assert!(matches!(
            read_answer(&r, &mut answer, Duration::from_millis(30)),
            Answer::Waiting
        ));
        assert!(started.elapsed() >= Duration::from_millis(25));
        assert!(started.elapsed() < Duration::from_secs(2));
        // The rest comes later; what came after the line is not needed.
        w.write_all(b"34\nexited\t1234\t0\n").unwrap();
        match read_answer(&r, &mut answer, Duration::ZERO) {
            Answer::Line(line) => assert_eq!(line, "ok\t1234"),
            _ => panic!("the line was whole"),
        }
    }

    #[test]
    fn a_supervisor_gone_without_a_word_is_told_from_one_still_busy() {
        let (r, w) = pipe();
        let mut answer = Vec::new();
        assert!(matches!(
            read_answer(&r, &mut answer, Duration::ZERO),
            Answer::Waiting
        ));
        drop(w);
        assert!(matches!(
            read_answer(&r, &mut answer, Duration::from_secs(5)),
            Answer::Closed
        ));
    }
}
