//! `anchorage exec`: another process in a running container's namespaces
//! and cgroup, with its output read by the engine.
//!
//! The engine may have threads (the server's runtime), so between `fork`
//! and `execve` the children make raw system calls only, on data prepared
//! before the fork: no allocation, no locks.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use anchorage_shared::chunk::Chunk;
use anchorage_shared::console::MAX_LINE_BYTES;
use anchorage_shared::engine::{EngineError, Event, Stream, TerminalSize};
use anchorage_shared::namespace::NamespaceKind;
use anchorage_shared::process::ExitStatus;
use nix::fcntl::OFlag;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use crate::cgroup::Cgroup;
use crate::process::kernel::DEFAULT_CAPABILITIES;
use crate::process::launch;
use crate::process::shim::LaunchConfig;

/// A process started by `exec`, followed until it ends.
pub struct ExecProcess {
    /// The command's host pid (PID 1's sibling inside the container).
    pub pid: u32,
    /// Its pid at each pid-namespace level, the host's first.
    pub ns_pids: Vec<u32>,
    /// The container it runs in.
    pub container: String,
    /// The process that joined the namespaces and waits for the command:
    /// the engine's child, which passes the command's status on.
    joiner: u32,
    /// Whether the engine waited for the joiner once output closed.
    settled: bool,
    /// Its stdout and stderr, each with the start of a line not yet
    /// ended (at most [`MAX_LINE_BYTES`]).
    streams: Vec<(OwnedFd, Stream, Vec<u8>)>,
    /// The terminal it runs on, for `OpenTerminal`.
    terminal: Option<Terminal>,
    /// When its terminal was hung up.
    hung_up: Option<std::time::Instant>,
    status: Option<ExitStatus>,
    reported: bool,
    /// Whether its client cannot take more output just now.
    held: bool,
    /// Whether the last look stopped at its budget with more to read.
    more: bool,
}

/// The engine's side of a pseudo-terminal.
struct Terminal {
    id: u64,
    master: OwnedFd,
    /// Whether every process closed its side (reads give EIO).
    closed: bool,
}

/// The most output one look takes from one stream: what is left waits
/// in the pipe (and the writer blocks once the pipe is full).
const READ_BUDGET: usize = 64 << 10;

/// Where an exec'd command's standard streams go.
#[derive(Clone, Copy, Debug)]
pub enum Io {
    /// stdin from /dev/null; stdout and stderr to pipes, as `Output`.
    Pipes,
    /// All three on a new pseudo-terminal of this size, which becomes the
    /// command's controlling terminal (so Ctrl-C is SIGINT to it).
    Terminal { id: u64, size: TerminalSize },
}

/// Reads what `fd` has now, at most [`READ_BUDGET`], onto `into`: whether
/// the stream ended, and whether the budget stopped it.
fn read_some(fd: &OwnedFd, into: &mut Vec<u8>) -> (bool, bool) {
    let mut buf = [0u8; 16 << 10];
    let mut taken = 0;
    while taken < READ_BUDGET {
        match nix::unistd::read(fd.as_fd(), &mut buf) {
            Ok(0) => return (true, false),
            Ok(n) => {
                into.extend_from_slice(&buf[..n]);
                taken += n;
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) => return (false, false),
            // EIO on a terminal: every process closed its other side.
            Err(_) => return (true, false),
        }
    }
    (false, true)
}

impl ExecProcess {
    /// Output since the last call, and the exit once both streams ended.
    /// Each look takes a bounded amount from each stream, so memory stays
    /// constant whatever the command writes, and whole lines go out
    /// together (a line over 16 KiB in pieces).
    pub fn collect(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        self.more = false;
        if let Some(since) = self.hung_up
            && since.elapsed() > std::time::Duration::from_secs(2)
            && self.status.is_none()
        {
            let group = nix::unistd::Pid::from_raw(-(self.pid as i32));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        }
        if self.held {
            return events;
        }
        if let Some(terminal) = &mut self.terminal {
            let mut data = Vec::new();
            if !terminal.closed {
                let (ended, more) = read_some(&terminal.master, &mut data);
                terminal.closed = ended;
                self.more = more;
            }
            if !data.is_empty() {
                events.push(Event::TerminalOutput {
                    terminal: terminal.id,
                    data: Chunk(data),
                });
            }
            if terminal.closed {
                let id = terminal.id;
                if !self.reported
                    && let Some(status) = self.wait_joiner(true)
                {
                    events.push(Event::TerminalExited {
                        terminal: id,
                        status,
                    });
                    events.push(Event::ProcessExited {
                        pid: self.pid,
                        ns_pids: self.ns_pids.clone(),
                        status,
                        container: Some(self.container.clone()),
                    });
                    self.reported = true;
                }
            }
            return events;
        }
        let mut ended = Vec::new();
        for (index, (fd, stream, pending)) in self.streams.iter_mut().enumerate() {
            let (done, more) = read_some(fd, pending);
            self.more |= more;
            if done {
                ended.push(index);
            }
            let cut = if done || pending.len() >= MAX_LINE_BYTES {
                pending.len()
            } else {
                pending
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
            };
            if cut > 0 {
                let rest = pending.split_off(cut);
                let data = std::mem::replace(pending, rest);
                events.push(Event::Output {
                    container: Some(self.container.clone()),
                    pid: self.pid,
                    stream: *stream,
                    data: Chunk(data),
                });
            }
        }
        for index in ended.into_iter().rev() {
            self.streams.remove(index);
        }
        // Output closed: the command has most likely ended, and its joiner
        // follows within a moment. Wait that moment once, so the exit goes
        // out with the output's end (and an OOM kill finds its victim).
        self.wait_joiner(self.streams.is_empty());
        if let Some(status) = self.status
            && self.streams.is_empty()
            && !self.reported
        {
            self.reported = true;
            events.push(Event::ProcessExited {
                pid: self.pid,
                ns_pids: self.ns_pids.clone(),
                status,
                container: Some(self.container.clone()),
            });
        }
        events
    }

    /// Whether output is waiting that the last look left for the next.
    pub fn has_more(&self) -> bool {
        self.more && !self.held
    }

    /// The pipes (or terminal) still open, to wait on.
    pub fn fds(&self) -> impl Iterator<Item = std::os::fd::BorrowedFd<'_>> {
        let open = !self.held;
        self.streams
            .iter()
            .filter(move |_| open)
            .map(|(fd, _, _)| fd.as_fd())
            .chain(
                self.terminal
                    .as_ref()
                    .filter(|t| open && !t.closed)
                    .map(|t| t.master.as_fd()),
            )
    }

    /// Reaps the joiner if it ended; once after output closed (`settle`),
    /// waits up to 20 ms for it.
    fn wait_joiner(&mut self, settle: bool) -> Option<ExitStatus> {
        let settle = settle && !self.settled;
        self.settled |= settle;
        let until = std::time::Instant::now() + std::time::Duration::from_millis(20);
        while self.status.is_none() {
            let pid = nix::unistd::Pid::from_raw(self.joiner as i32);
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => self.status = Some(ExitStatus::Code(code)),
                Ok(WaitStatus::Signaled(_, signal, _)) => {
                    self.status = Some(
                        signal
                            .as_str()
                            .trim_start_matches("SIG")
                            .parse()
                            .map_or(ExitStatus::Code(128 + signal as i32), ExitStatus::Signaled),
                    )
                }
                Err(nix::errno::Errno::ECHILD) => self.status = Some(ExitStatus::Code(255)),
                _ if settle && std::time::Instant::now() < until => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
                _ => {}
            }
            break;
        }
        self.status
    }

    /// Stops or resumes reading its output.
    pub fn hold(&mut self, held: bool) {
        self.held = held;
    }

    /// The terminal this process runs on, if any.
    pub fn terminal_id(&self) -> Option<u64> {
        self.terminal.as_ref().map(|t| t.id)
    }

    /// Types on its terminal.
    pub fn type_keys(&self, data: &[u8]) -> Result<(), EngineError> {
        let Some(terminal) = &self.terminal else {
            return Ok(());
        };
        let mut rest = data;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while !rest.is_empty() {
            match nix::unistd::write(terminal.master.as_fd(), rest) {
                Ok(n) => rest = &rest[n..],
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) if std::time::Instant::now() < deadline => {
                    // The terminal's input queue is full: its program is
                    // not reading. Give it a moment.
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(nix::errno::Errno::EAGAIN) => {
                    return Err(EngineError::Refused(
                        "the terminal takes no more input: its program is not reading it".into(),
                    ));
                }
                Err(err) => {
                    return Err(EngineError::Refused(format!(
                        "the terminal is closed: {}",
                        err.desc()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Sets its terminal's size; the kernel sends SIGWINCH.
    pub fn resize(&self, size: TerminalSize) -> Result<(), EngineError> {
        let Some(terminal) = &self.terminal else {
            return Ok(());
        };
        let winsize = libc::winsize {
            ws_row: size.rows,
            ws_col: size.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
        let rc = unsafe { libc::ioctl(terminal.master.as_raw_fd(), libc::TIOCSWINSZ, &winsize) };
        if rc != 0 {
            return Err(EngineError::Refused(format!(
                "cannot resize the terminal: {}",
                nix::errno::Errno::last().desc()
            )));
        }
        Ok(())
    }

    /// Hangs up its terminal: SIGHUP to the command's process group (it
    /// leads its own session), then SIGKILL if it has not ended in 2 s.
    pub fn hang_up(&mut self) {
        if self.terminal.is_some() && self.hung_up.is_none() {
            let group = nix::unistd::Pid::from_raw(-(self.pid as i32));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGHUP);
            self.hung_up = Some(std::time::Instant::now());
        }
    }

    /// The joiner's host pid (it sits in the container's cgroup too).
    pub fn joiner(&self) -> u32 {
        self.joiner
    }

    pub fn finished(&self) -> bool {
        self.reported
    }
}

/// A process's pid at each pid-namespace level, from `NSpid` in its status.
pub fn ns_pids(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("NSpid:").map(|pids| {
                    pids.split_whitespace()
                        .filter_map(|p| p.parse().ok())
                        .collect()
                })
            })
        })
        .filter(|pids: &Vec<u32>| !pids.is_empty())
        .unwrap_or_else(|| vec![pid])
}

fn c(text: &str) -> Result<CString, EngineError> {
    CString::new(text).map_err(|_| EngineError::InvalidSpec(format!("`{text}` holds a NUL byte")))
}

/// Capability masks for `capset`: Docker's default set.
fn capability_mask() -> u64 {
    DEFAULT_CAPABILITIES
        .iter()
        .fold(0u64, |mask, cap| mask | (1u64 << cap.index()))
}

/// Writes a message to stderr and exits, from a forked child.
fn die(message: &[u8], status: i32) -> ! {
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, message.as_ptr().cast(), message.len());
        libc::_exit(status)
    }
}

/// Starts `argv` in the container `container` whose init is `init_pid`.
pub fn spawn(
    container: &str,
    init_pid: u32,
    argv: &[String],
    launch: &LaunchConfig,
    cgroup: Option<&Cgroup>,
    io: Io,
) -> Result<ExecProcess, EngineError> {
    // Everything the children need, made now.
    let root = PathBuf::from(format!("/proc/{init_pid}/root"));
    let program = launch::find_command(&root, &argv[0], &launch.plan.env).map_err(|err| {
        EngineError::Exec {
            program: argv[0].clone(),
            reason: err.reason,
        }
    })?;
    let order = [
        NamespaceKind::User,
        NamespaceKind::Cgroup,
        NamespaceKind::Ipc,
        NamespaceKind::Uts,
        NamespaceKind::Net,
        NamespaceKind::Pid,
        NamespaceKind::Mnt,
    ];
    let mut namespaces = Vec::new();
    for kind in order {
        let path = format!("/proc/{init_pid}/ns/{}", kind.proc_name());
        let file =
            File::open(&path).map_err(|e| EngineError::Refused(format!("open {path}: {e}")))?;
        namespaces.push(file);
    }
    let procs: Vec<File> = match cgroup {
        Some(cgroup) => cgroup
            .procs_files()
            .iter()
            .map(|p| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .map_err(|e| EngineError::Refused(format!("open {}: {e}", p.display())))
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let program = c(&program)?;
    let argv_c: Vec<CString> = argv.iter().map(|a| c(a)).collect::<Result<_, _>>()?;
    let mut env = launch.plan.env.clone();
    if matches!(io, Io::Terminal { .. }) && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm-256color".into());
    }
    let env_c: Vec<CString> = env.iter().map(|e| c(e)).collect::<Result<_, _>>()?;
    let mut argv_p: Vec<*const libc::c_char> = argv_c.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env_c.iter().map(|e| e.as_ptr()).collect();
    env_p.push(std::ptr::null());
    let cwd = c(if launch.plan.cwd.is_empty() {
        "/"
    } else {
        &launch.plan.cwd
    })?;
    let slash = c("/")?;
    let null = c("/dev/null")?;
    let keep = capability_mask();
    // Compiled now: the child only installs it.
    let filters = launch::filters_for(launch.plan.seccomp).map_err(EngineError::Refused)?;
    let rootless = launch.ids.rootless;
    let last_cap = caps::runtime::thread_all_supported()
        .iter()
        .map(|c| c.index())
        .max()
        .unwrap_or(40);

    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::Refused(format!("pipe: {}", e.desc())))?;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::Refused(format!("pipe: {}", e.desc())))?;
    let (out_wr, err_wr) = (out_w.as_raw_fd(), err_w.as_raw_fd());
    // The joiner tells the engine the command's host pid through this.
    let (pid_r, pid_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::Refused(format!("pipe: {}", e.desc())))?;
    let pid_wr = pid_w.as_raw_fd();
    let pty = match io {
        Io::Pipes => None,
        Io::Terminal { id, size } => {
            let winsize = nix::pty::Winsize {
                ws_row: size.rows,
                ws_col: size.cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            let pty = nix::pty::openpty(Some(&winsize), None)
                .map_err(|e| EngineError::Refused(format!("openpty: {}", e.desc())))?;
            for fd in [&pty.master, &pty.slave] {
                let _ = nix::fcntl::fcntl(
                    fd,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
                );
            }
            Some((id, pty))
        }
    };
    let slave_fd = pty.as_ref().map_or(-1, |(_, pty)| pty.slave.as_raw_fd());

    // SAFETY: after fork the children use raw system calls on data made
    // above, and end in execve or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(EngineError::Refused(format!(
            "fork: {}",
            nix::errno::Errno::last().desc()
        )));
    }
    if pid == 0 {
        unsafe {
            // Into the container's cgroup, while still host root.
            let self_pid = b"0\n";
            for file in &procs {
                libc::write(file.as_raw_fd(), self_pid.as_ptr().cast(), self_pid.len());
            }
            for file in &namespaces {
                if libc::setns(file.as_raw_fd(), 0) != 0 {
                    die(
                        b"anchorage exec: cannot enter the container's namespaces\n",
                        126,
                    );
                }
            }
            if libc::setresgid(0, 0, 0) != 0 {
                die(b"anchorage exec: setresgid failed\n", 126);
            }
            if !rootless {
                libc::setgroups(0, std::ptr::null());
            }
            if libc::setresuid(0, 0, 0) != 0 {
                die(b"anchorage exec: setresuid failed\n", 126);
            }
            // The pid namespace applies to children: the command is one.
            let child = libc::fork();
            if child < 0 {
                // Said to the engine (pid 0, then why): at pids.max this
                // is the container's own fork refused.
                let errno = *libc::__errno_location();
                let mut said = [0u8; 8];
                said[4..].copy_from_slice(&(errno as u32).to_ne_bytes());
                libc::write(pid_wr, said.as_ptr().cast(), said.len());
                libc::_exit(126);
            }
            if child == 0 {
                if slave_fd >= 0 {
                    // Its own session, with the terminal as controlling
                    // terminal: Ctrl-C there is SIGINT here.
                    libc::setsid();
                    libc::dup2(slave_fd, 0);
                    libc::dup2(slave_fd, 1);
                    libc::dup2(slave_fd, 2);
                    libc::ioctl(0, libc::TIOCSCTTY, 0);
                } else {
                    let devnull = libc::open(null.as_ptr(), libc::O_RDONLY);
                    libc::dup2(devnull, 0);
                    libc::dup2(out_wr, 1);
                    libc::dup2(err_wr, 2);
                }
                // Not dumpable: the container cannot open this process's
                // (host) binary through /proc before the exec (CVE-2019-5736).
                libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
                libc::chdir(slash.as_ptr());
                if libc::chdir(cwd.as_ptr()) != 0 {
                    die(b"anchorage exec: cannot enter the working directory\n", 126);
                }
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                for cap in 0..=last_cap {
                    if keep & (1u64 << cap) == 0 {
                        libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0);
                    }
                }
                #[repr(C)]
                struct Header {
                    version: u32,
                    pid: i32,
                }
                #[repr(C)]
                struct Data {
                    effective: u32,
                    permitted: u32,
                    inheritable: u32,
                }
                let header = Header {
                    version: 0x2008_0522,
                    pid: 0,
                };
                let low = keep as u32;
                let high = (keep >> 32) as u32;
                let data = [
                    Data {
                        effective: low,
                        permitted: low,
                        inheritable: low,
                    },
                    Data {
                        effective: high,
                        permitted: high,
                        inheritable: high,
                    },
                ];
                libc::syscall(libc::SYS_capset, &header, data.as_ptr());
                if crate::process::seccomp::install(&filters).is_err() {
                    die(b"anchorage exec: cannot install the seccomp filter\n", 126);
                }
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                );
                libc::execve(program.as_ptr(), argv_p.as_ptr(), env_p.as_ptr());
                die(b"anchorage exec: the command cannot run\n", 126);
            }
            // The joiner: say the command's host pid, wait for it and
            // pass on its status, a signal as the same signal.
            // The joiner never execs: it keeps no descriptor of the
            // engine's but the one it reports on (so the command gets
            // SIGPIPE once the engine stops reading, and no socket of a
            // server outlives it).
            let report = pid_wr as u32;
            libc::syscall(libc::SYS_close_range, 3u32, report - 1, 0u32);
            libc::syscall(libc::SYS_close_range, report + 1, u32::MAX, 0u32);
            let bytes = (child as u32).to_ne_bytes();
            libc::write(pid_wr, bytes.as_ptr().cast(), bytes.len());
            libc::close(pid_wr);
            let mut status = 0;
            while libc::waitpid(child, &mut status, 0) < 0 {}
            if libc::WIFEXITED(status) {
                libc::_exit(libc::WEXITSTATUS(status));
            }
            let signal = libc::WTERMSIG(status);
            libc::signal(signal, libc::SIG_DFL);
            libc::kill(libc::getpid(), signal);
            libc::_exit(128 + signal);
        }
    }
    drop((out_w, err_w, pid_w));
    for fd in [&out_r, &err_r] {
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
    }
    // The command's pid, or nothing when the joiner failed (it said why on
    // stderr, and its status says so): then the joiner stands for it.
    let mut bytes = [0u8; 4];
    let command_pid = loop {
        match nix::unistd::read(pid_r.as_fd(), &mut bytes) {
            Ok(4) => break u32::from_ne_bytes(bytes),
            Err(nix::errno::Errno::EINTR) => continue,
            _ => break pid as u32,
        }
    };
    if command_pid == 0 {
        // The fork inside was refused: why follows.
        let errno = match nix::unistd::read(pid_r.as_fd(), &mut bytes) {
            Ok(4) => u32::from_ne_bytes(bytes) as i32,
            _ => libc::EAGAIN,
        };
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        let message = std::io::Error::from_raw_os_error(errno).to_string();
        let message = message.split(" (os error").next().unwrap_or(&message);
        return Err(EngineError::Exec {
            program: argv[0].clone(),
            reason: match &launch.cgroup {
                Some(cgroup) => format!("fork failed: {message} (cgroup {cgroup})"),
                None => format!("fork failed: {message}"),
            },
        });
    }
    let terminal = pty.map(|(id, pty)| {
        drop(pty.slave);
        let _ = nix::fcntl::fcntl(
            &pty.master,
            nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK),
        );
        Terminal {
            id,
            master: pty.master,
            closed: false,
        }
    });
    let streams = if terminal.is_some() {
        Vec::new()
    } else {
        vec![
            (out_r, Stream::Stdout, Vec::new()),
            (err_r, Stream::Stderr, Vec::new()),
        ]
    };
    Ok(ExecProcess {
        pid: command_pid,
        ns_pids: ns_pids(command_pid),
        container: container.to_string(),
        joiner: pid as u32,
        settled: false,
        streams,
        terminal,
        hung_up: None,
        status: None,
        reported: false,
        held: false,
        more: false,
    })
}
