//! `sh` on the simulated kernel: the shared interpreter
//! (`crate::shell`) as a process's program. The interpreter runs as a
//! future; each system call it makes is left in a mailbox, and the
//! kernel answers it as the process's step comes: at once (a pipe, an
//! open), or when the clock has moved far enough (a child has exited, a
//! pipe has data or room).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::engine::Event;
use crate::process::{ExitStatus, Pid, ProcessState, Signal};
use crate::shell::ast::List;
use crate::shell::os::{
    Access, FIRST_PRIVATE_FD, Fd, Kind, Meta, Open as How, Os, SpawnError, Subshell, WriteError,
};
use crate::shell::{Shell, State};

use super::SimEngine;
use super::fd::{Open, ReadResult, WriteResult, device_open};
use super::fs::Errno;
use super::process::{Program, Sink};
use super::syscall::{Answer, Mailbox, Request, SimOs};
use super::tarball::{Node, NodeKind};

/// How many calls a shell makes in one step (a quantum of its CPU).
const CALLS_PER_STEP: u32 = 64;

/// A running shell: the interpreter's future and its mailbox.
pub(crate) struct ShellTask {
    future: Pin<Box<dyn Future<Output = i32>>>,
    mail: Rc<RefCell<Mailbox>>,
    /// Waiting for the kernel (a child, a pipe): it wants no CPU.
    pub waiting: bool,
    /// The child it waits for, by host pid.
    pub waiting_for: Option<Pid>,
    /// The terminal's login shell running a line: when it ends, the
    /// process goes back to the prompt with its state kept.
    pub login: bool,
}

// SAFETY: what a task holds that is not `Send` (the mailbox's `Rc`, the
// syntax tree's `Rc`s in the interpreter's state) is shared only with the
// task's own future and with the tasks of child shells forked from it,
// all of them programs of processes of one `SimEngine`. An engine moves
// between threads whole, and is used by one thread at a time (it is not
// `Sync`), so no two threads ever touch those counts at once.
unsafe impl Send for ShellTask {}

impl std::fmt::Debug for ShellTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShellTask")
            .field("waiting", &self.waiting)
            .finish()
    }
}

/// What a shell runs: a script's text, what it reads on standard input,
/// or a child shell's body.
pub(crate) enum Work {
    Script { text: String, tail: bool },
    Stdin,
    Body(Rc<List>),
}

impl ShellTask {
    /// When a program asleep in `nanosleep` wakes: a timer the idle
    /// clock may jump to.
    pub(crate) fn sleeps_until(&self) -> Option<u64> {
        match self.mail.borrow().request {
            Some(Request::SleepUntil(at)) => Some(at),
            _ => None,
        }
    }

    pub fn new(state: State, work: Work, pid: Pid, ppid: Pid) -> ShellTask {
        let mail = Rc::new(RefCell::new(Mailbox::new(pid, ppid)));
        let os = SimOs { mail: mail.clone() };
        let future: Pin<Box<dyn Future<Output = i32>>> = Box::pin(async move {
            let mut shell = Shell::new(state, os);
            match work {
                Work::Script { text, tail } => shell.run_script(&text, tail).await,
                Work::Stdin => {
                    let mut bytes = Vec::new();
                    while let Ok(chunk) = shell.os.read(0, 65536).await {
                        if chunk.is_empty() {
                            break;
                        }
                        bytes.extend(chunk);
                    }
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    shell.run_script(&text, false).await
                }
                Work::Body(body) => shell.run_body(&body).await,
            }
        });
        ShellTask::with(future, mail)
    }

    /// A portable applet (`grep`, `sort`, `xargs`...) as a process's
    /// program, over the same mailbox as a shell.
    pub fn applet(
        name: String,
        args: Vec<String>,
        env: Vec<String>,
        pid: Pid,
        ppid: Pid,
    ) -> ShellTask {
        let mail = Rc::new(RefCell::new(Mailbox::new(pid, ppid)));
        let mut os = SimOs { mail: mail.clone() };
        let future = Box::pin(async move {
            crate::userland::run_portable(&mut os, &name, &args, &env)
                .await
                .unwrap_or(127)
        });
        ShellTask::with(future, mail)
    }

    /// A line typed at the terminal, run by its login shell with the
    /// state the previous line left.
    pub fn login(
        state: State,
        line: String,
        pid: Pid,
        ppid: Pid,
        reaped: super::login::Reaped,
    ) -> ShellTask {
        let mut mailbox = Mailbox::new(pid, ppid);
        mailbox.reaped = reaped;
        let mail = Rc::new(RefCell::new(mailbox));
        let os = SimOs { mail: mail.clone() };
        let keep = mail.clone();
        let future = Box::pin(async move {
            let mut shell = Shell::new(state, os);
            let exit = shell.run_script_interactive(&line).await;
            let status = shell.state.status;
            keep.borrow_mut().finished = Some((shell.state, exit));
            status
        });
        let mut task = ShellTask::with(future, mail);
        task.login = true;
        task
    }

    fn with(future: Pin<Box<dyn Future<Output = i32>>>, mail: Rc<RefCell<Mailbox>>) -> ShellTask {
        ShellTask {
            future,
            mail,
            waiting: false,
            waiting_for: None,
            login: false,
        }
    }
}

/// What `stat(2)` gives for a node. The simulated host keeps its files in
/// memory, as tmpfs does: a file takes whole 4 KiB pages, a directory or
/// a link none.
fn meta(node: &Node, ino: u64, nlink: u64) -> Meta {
    let (kind, size, rdev) = match &node.kind {
        NodeKind::File(data) => (Kind::File, data.len() as u64, (0, 0)),
        NodeKind::Dir => (Kind::Dir, 0, (0, 0)),
        NodeKind::Symlink(target) => (Kind::Symlink, target.len() as u64, (0, 0)),
        NodeKind::CharDevice(major, minor) => (Kind::CharDevice, 0, (*major, *minor)),
    };
    let blocks = match node.kind {
        NodeKind::File(_) => size.div_ceil(4096) * 8,
        _ => 0,
    };
    Meta {
        kind,
        mode: node.mode,
        size,
        uid: node.uid,
        gid: node.gid,
        mtime: node.mtime as i64,
        atime: node.mtime as i64,
        ctime: node.mtime as i64,
        nanos: [0; 3],
        blksize: 4096,
        dev: 0,
        ino,
        nlink,
        blocks,
        rdev,
    }
}

impl SimEngine {
    /// `stat(2)` (or `lstat`): the node looked at where it is stored,
    /// its device the mount it is on.
    fn stat_meta(&self, pid: Pid, path: &str, follow: bool) -> Result<Meta, Errno> {
        let abs = self.resolve(pid, path, follow)?;
        let node = self.lookup_ref(pid, &abs)?;
        let links = self.links_of(pid, &abs, &node);
        let mut meta = meta(&node, inode_of(&abs), links);
        meta.dev = self.device_of(pid, &abs);
        meta.size = self.size_of(pid, &abs, &node);
        if self.pseudo_size(pid, &abs, &node).is_some() {
            meta.blocks = 0;
        }
        Ok(meta)
    }
}

/// How a call was served.
enum Served {
    Answer(Answer),
    /// It waits; asked again at the next step.
    Wait(Request),
    /// The process is gone or runs another program.
    Gone,
}

impl SimEngine {
    /// The program of `sh` running `work` in process `pid`, with the
    /// process's environment and working directory. `arg0` is `$0`, and
    /// what messages start with when it runs a file.
    pub(crate) fn shell_program(
        &self,
        pid: Pid,
        work: Work,
        arg0: &str,
        invocation: &crate::shell::invoke::Invocation,
        line_base: u32,
    ) -> Program {
        let p = &self.processes[&pid];
        let name = match invocation.source {
            crate::shell::invoke::Source::File(_) => arg0,
            _ => "sh",
        };
        let cwd = self.seen_path(pid, &p.cwd);
        let mut state = State::new(&p.env, &cwd, name);
        state.arg0 = arg0.to_string();
        state.positional = invocation.positional.clone();
        state.line_base = line_base;
        invocation.apply(&mut state.options);
        self.shell_program_with(pid, state, work)
    }

    /// The program of a portable applet in process `pid`, with its
    /// environment.
    pub(crate) fn applet_program(&self, pid: Pid, name: &str, args: &[String]) -> Program {
        let (inner, parent) = self.pids_inside(pid);
        let env = self.processes[&pid].env.clone();
        Program::Shell(Box::new(ShellTask::applet(
            name.to_string(),
            args.to_vec(),
            env,
            inner,
            parent,
        )))
    }

    fn shell_program_with(&self, pid: Pid, state: State, work: Work) -> Program {
        let (inner, parent) = self.pids_inside(pid);
        Program::Shell(Box::new(ShellTask::new(state, work, inner, parent)))
    }

    /// A process's pid and its parent's, as seen in its pid namespace.
    pub(crate) fn pids_inside(&self, pid: Pid) -> (Pid, Pid) {
        let Some(p) = self.processes.get(&pid) else {
            return (pid, 0);
        };
        let own = p.own_pid_ns();
        let parent = self
            .processes
            .get(&p.ppid)
            .and_then(|q| q.pid_in(own))
            .unwrap_or(0);
        (p.pid_in(own).unwrap_or(pid), parent)
    }

    /// Reaps every child of `parent` that has ended: each one's pid as
    /// the parent sees it, and its status as `$?` gives it.
    pub(crate) fn reap_all(&mut self, parent: Pid) -> Vec<(Pid, i32)> {
        let own = self.processes.get(&parent).map(|p| p.own_pid_ns());
        let zombies: Vec<(Pid, Pid, i32)> = self
            .zombies
            .range((parent, 0)..=(parent, Pid::MAX))
            .filter_map(|(_, child)| self.processes.get(child))
            .map(|c| {
                let inner = own.and_then(|ns| c.pid_in(ns)).unwrap_or(c.pid);
                let status = c.exit.unwrap_or(ExitStatus::Code(0)).shell_code();
                (c.pid, inner, status)
            })
            .collect();
        zombies
            .into_iter()
            .map(|(host, inner, status)| {
                self.release(host);
                (inner, status)
            })
            .collect()
    }

    /// A child's host pid from its pid as its parent sees it.
    fn child_by_inner(&self, parent: Pid, inner: Pid) -> Option<Pid> {
        let own = self.processes.get(&parent)?.own_pid_ns();
        self.processes
            .values()
            .find(|c| c.ppid == parent && c.pid_in(own) == Some(inner))
            .map(|c| c.pid)
    }

    /// One step of a shell: the calls it makes until one waits, its
    /// budget is spent, or it ends.
    pub(crate) fn step_shell(
        &mut self,
        pid: Pid,
        mut task: Box<ShellTask>,
        cpu_usec: u64,
        events: &mut Vec<Event>,
    ) -> Option<Program> {
        let mut budget = CALLS_PER_STEP;
        let mut context = Context::from_waker(Waker::noop());
        loop {
            let request = task.mail.borrow_mut().request.take();
            if let Some(request) = request {
                if !task.waiting && cpu_usec == 0 {
                    // Throttled or starved: it goes on when it gets a CPU.
                    task.mail.borrow_mut().request = Some(request);
                    return Some(Program::Shell(task));
                }
                match self.serve(pid, request, &mut task, events) {
                    Served::Answer(answer) => {
                        task.waiting = false;
                        task.waiting_for = None;
                        task.mail.borrow_mut().answer = Some(answer);
                    }
                    Served::Wait(request) => {
                        task.waiting = true;
                        task.mail.borrow_mut().request = Some(request);
                        return Some(Program::Shell(task));
                    }
                    Served::Gone => return None,
                }
            }
            if budget == 0 {
                return Some(Program::Shell(task));
            }
            budget -= 1;
            match task.future.as_mut().poll(&mut context) {
                Poll::Ready(status) => {
                    let finished = task.mail.borrow_mut().finished.take();
                    match finished {
                        Some((state, exit)) if task.login => {
                            let end = super::login::LineEnd {
                                state,
                                exit,
                                status,
                            };
                            let reaped = std::mem::take(&mut task.mail.borrow_mut().reaped);
                            self.login_line_finished(pid, end, reaped);
                            // The process runs on: the prompt's program.
                            return self.processes.get_mut(&pid).map(|p| {
                                std::mem::replace(&mut p.program, Program::Exiting { code: 0 })
                            });
                        }
                        _ => self.exit_process(pid, ExitStatus::Code(status & 0xff), events),
                    }
                    return None;
                }
                Poll::Pending => {
                    if task.mail.borrow().request.is_none() {
                        // Nothing asked: it cannot go on (not expected).
                        return Some(Program::Shell(task));
                    }
                }
            }
        }
    }

    fn serve(
        &mut self,
        pid: Pid,
        request: Request,
        task: &mut ShellTask,
        events: &mut Vec<Event>,
    ) -> Served {
        use Served::Answer as A;
        match request {
            Request::Open(path, how) => A(Answer::Fd(self.shell_open(pid, &path, how))),
            Request::Close(fd) => {
                self.fd_close(pid, fd);
                A(Answer::Done(Ok(())))
            }
            Request::DupPrivate(fd) => A(Answer::Fd(
                self.fd_dup(pid, fd, FIRST_PRIVATE_FD)
                    .ok_or_else(|| "Bad file descriptor".to_string()),
            )),
            Request::Dup2(from, to) => A(Answer::Done(if self.fd_dup2(pid, from, to) {
                Ok(())
            } else {
                Err("Bad file descriptor".into())
            })),
            Request::IsOpen(fd) => A(Answer::Yes(
                self.processes
                    .get(&pid)
                    .is_some_and(|p| p.fds.contains_key(&fd)),
            )),
            Request::Pipe => {
                let (read, write) = self.fd_pipe(pid);
                A(Answer::Pipe(Ok((read, write))))
            }
            Request::Read(fd, max) => match self.fd_read(pid, fd, max) {
                ReadResult::Data(data) => A(Answer::Data(Ok(data))),
                ReadResult::End => A(Answer::Data(Ok(Vec::new()))),
                ReadResult::Wait => Served::Wait(Request::Read(fd, max)),
                ReadResult::Error(message) => A(Answer::Data(Err(message))),
            },
            Request::Write(fd, data) => match self.fd_write(pid, fd, &data, false, events) {
                WriteResult::Wrote(n) if n >= data.len() => A(Answer::Wrote(Ok(()))),
                WriteResult::Wrote(n) => Served::Wait(Request::Write(fd, data[n..].to_vec())),
                WriteResult::Wait => Served::Wait(Request::Write(fd, data)),
                WriteResult::Broken => {
                    // `ash` leaves SIGPIPE's default action: it ends here.
                    self.exit_process(pid, ExitStatus::Signaled(Signal::Pipe), events);
                    Served::Gone
                }
                WriteResult::Error(message) => A(Answer::Wrote(Err(WriteError::Other(message)))),
            },
            Request::Seek(fd, offset) => A(Answer::Offset(
                self.fd_seek(pid, fd, offset)
                    .map_err(|e| e.message().to_string()),
            )),
            Request::Truncate(fd, len) => A(Answer::Done(
                self.fd_truncate(pid, fd, len)
                    .map_err(|e| e.message().to_string()),
            )),
            Request::Stat(path, follow) => A(Answer::Meta(
                self.stat_meta(pid, &path, follow)
                    .map_err(|e| e.message().to_string()),
            )),
            Request::StatFs(path) => A(Answer::FsStats(
                self.statfs(pid, &path).map_err(|e| e.message().to_string()),
            )),
            Request::ReadLink(path) => A(Answer::Path(match self.lstat(pid, &path) {
                Ok((_, node)) => match node.kind {
                    NodeKind::Symlink(target) => Ok(target),
                    _ => Err(Errno::Inval.message().into()),
                },
                Err(err) => Err(err.message().into()),
            })),
            Request::File(op) => A(Answer::Done(
                self.file_op(pid, op).map_err(|e| e.message().to_string()),
            )),
            Request::Access(path, how) => {
                let yes = match self.stat(pid, &path) {
                    Ok((_, node)) => match how {
                        Access::Read | Access::Write => true,
                        Access::Execute => node.mode & 0o111 != 0 || node.is_dir(),
                    },
                    Err(_) => false,
                };
                A(Answer::Yes(yes))
            }
            Request::ReadDir(path) => {
                let names = self
                    .stat(pid, &path)
                    .ok()
                    .and_then(|(abs, _)| self.read_dir(pid, &abs).ok());
                A(Answer::Names(names))
            }
            Request::Chdir(path) => A(Answer::Path(match self.stat(pid, &path) {
                Ok((abs, node)) if node.is_dir() => {
                    if let Some(p) = self.processes.get_mut(&pid) {
                        p.cwd = abs.clone();
                    }
                    Ok(self.seen_path(pid, &abs))
                }
                Ok(_) => Err(Errno::NotDir.message().into()),
                Err(err) => Err(err.message().into()),
            })),
            Request::Spawn(path, argv, env) => {
                let mut spawn = self.child_spawn(pid, argv);
                spawn.env = env;
                A(Answer::Spawned(
                    match self.fork_exec_at(spawn, Some(&path), events) {
                        Ok(child) => {
                            let inner = self.pids_inside(child).0;
                            Ok(inner)
                        }
                        Err(err) => Err(SpawnError::Fork(err.message().into())),
                    },
                ))
            }
            Request::Exec(path, argv, env) => {
                if let Some(p) = self.processes.get_mut(&pid) {
                    p.env = env;
                }
                self.execve_at(pid, Some(&path), argv);
                Served::Gone
            }
            Request::Subshell(sub) => A(Answer::Forked(self.fork_shell(pid, *sub, events))),
            Request::Wait(inner) => {
                // As `ash`: any child that ended is reaped, its status kept.
                let reaped = self.reap_all(pid);
                task.mail.borrow_mut().reaped.extend(reaped);
                if let Some(status) = task.mail.borrow_mut().reaped.remove(&inner) {
                    return A(Answer::Status(Some(status)));
                }
                match self.child_by_inner(pid, inner) {
                    Some(child) => {
                        task.waiting_for = Some(child);
                        Served::Wait(Request::Wait(inner))
                    }
                    None => A(Answer::Status(None)),
                }
            }
            Request::Yield => A(Answer::Done(Ok(()))),
            Request::NetLinks => A(Answer::Links(self.net_of(pid).map(|n| n.links()))),
            Request::NetAddresses => A(Answer::Addresses(self.net_of(pid).map(|n| n.addresses()))),
            Request::NetRoutes(v6) => A(Answer::Routes(self.net_of(pid).map(|n| n.routes(v6)))),
            Request::NetChange(request) => {
                let Some(p) = self.processes.get(&pid) else {
                    return Served::Gone;
                };
                // A container's processes lack CAP_NET_ADMIN (the
                // runtime's default set); the host's root has it.
                let admin = p.container.is_none();
                let net = p.ns[&crate::namespace::NamespaceKind::Net];
                A(Answer::Done(
                    self.namespaces
                        .net_apply(net, request, admin)
                        .map_err(str::to_string),
                ))
            }
            Request::Sleep(ms) => {
                Served::Wait(Request::SleepUntil(self.clock_ms.saturating_add(ms)))
            }
            Request::SleepUntil(at) if at <= self.clock_ms => A(Answer::Done(Ok(()))),
            Request::SleepUntil(at) => Served::Wait(Request::SleepUntil(at)),
            Request::Now => A(Answer::Now((
                self.now_epoch() as i64,
                (self.clock_ms % 1000) as u32 * 1_000_000,
            ))),
            Request::Ids => A(Answer::Ids(
                self.processes
                    .get(&pid)
                    .map_or((65534, 65534), |p| self.ids_seen_by(p, p)),
            )),
            Request::Hold(bytes) if bytes < 0 => {
                self.uncharge_memory(pid, bytes.unsigned_abs());
                A(Answer::Done(Ok(())))
            }
            Request::Hold(bytes) => {
                if self.charge_memory(pid, bytes.unsigned_abs(), events) || self.is_alive(pid) {
                    A(Answer::Done(Ok(())))
                } else {
                    // The OOM killer chose this process.
                    Served::Gone
                }
            }
            Request::Kill(inner, signal) => {
                let own = self.processes.get(&pid).map(|p| p.own_pid_ns());
                let target = self
                    .processes
                    .values()
                    .find(|q| own.is_some_and(|ns| q.pid_in(ns) == Some(inner)))
                    .map(|q| q.pid);
                match target {
                    Some(target) => {
                        self.signal(pid, target, signal, events);
                        A(Answer::Done(Ok(())))
                    }
                    None => A(Answer::Done(Err("No such process".into()))),
                }
            }
        }
    }

    fn shell_open(&mut self, pid: Pid, path: &str, how: How) -> Result<Fd, String> {
        let lowest = 0;
        // The descriptor the shell gets is its own until it moves it.
        match path {
            "/dev/null" => return Ok(self.fd_install(pid, Open::Null, lowest, true)),
            "/dev/stdout" | "/dev/stderr" | "/dev/stdin" => {
                let n = match path {
                    "/dev/stdin" => 0,
                    "/dev/stdout" => 1,
                    _ => 2,
                };
                return self
                    .fd_dup(pid, n, lowest)
                    .ok_or_else(|| "No such device or address".to_string());
            }
            _ => {}
        }
        match how {
            How::Read => {
                let (abs, node) = self.stat(pid, path).map_err(|e| e.message().to_string())?;
                if self.read_refused(pid, &abs, &node) {
                    return Err(Errno::Access.message().to_string());
                }
                match node.kind {
                    NodeKind::Dir => Ok(self.fd_install(
                        pid,
                        Open::Read {
                            path: abs,
                            offset: 0,
                        },
                        lowest,
                        true,
                    )),
                    NodeKind::CharDevice(major, minor) => {
                        let open =
                            device_open(major, minor).map_err(|e| e.message().to_string())?;
                        Ok(self.fd_install(pid, open, lowest, true))
                    }
                    _ => Ok(self.fd_install(
                        pid,
                        Open::Read {
                            path: abs,
                            offset: 0,
                        },
                        lowest,
                        true,
                    )),
                }
            }
            How::Write | How::Append | How::ReadWrite => {
                if let Some(control) = self.control_file(pid, path) {
                    let (cgroup, file) = control.map_err(|e| e.message().to_string())?;
                    let sink = Sink::Control { cgroup, file };
                    return Ok(self.fd_install(pid, Open::Sink(sink), lowest, true));
                }
                if let Ok((_, node)) = self.stat(pid, path)
                    && let NodeKind::CharDevice(major, minor) = node.kind
                {
                    let open = device_open(major, minor).map_err(|e| e.message().to_string())?;
                    return Ok(self.fd_install(pid, open, lowest, true));
                }
                let append = how != How::Write;
                let abs = self
                    .write_file(pid, path, b"", append)
                    .map_err(|e| e.message().to_string())?;
                // `>` and `<>` write from the start, `>>` at the end.
                let at = (how != How::Append).then_some(0);
                let sink = Sink::File { path: abs, at };
                Ok(self.fd_install(pid, Open::Sink(sink), lowest, true))
            }
        }
    }

    /// `fork` of a shell: a child process running `sub`, its descriptors
    /// copied but for the parent's own.
    /// The net namespace stack a process is in.
    fn net_of(&self, pid: Pid) -> Result<&super::net::NetStack, String> {
        self.processes
            .get(&pid)
            .and_then(|p| {
                self.namespaces
                    .net(p.ns[&crate::namespace::NamespaceKind::Net])
            })
            .ok_or_else(|| "Invalid argument".to_string())
    }

    /// Whether a waiting shell's call could be answered now.
    pub(crate) fn shell_can_go(&self, pid: Pid, task: &ShellTask) -> bool {
        match &task.mail.borrow().request {
            Some(Request::Read(fd, _)) => !self.fd_would_wait(pid, *fd),
            Some(Request::Write(fd, _)) => self.fd_has_room(pid, *fd),
            Some(Request::SleepUntil(at)) => *at <= self.clock_ms,
            Some(Request::Wait(_)) => task.waiting_for.is_none_or(|c| {
                self.processes
                    .get(&c)
                    .is_none_or(|c| c.state == ProcessState::Zombie)
            }),
            _ => true,
        }
    }

    fn fork_shell(
        &mut self,
        pid: Pid,
        sub: Subshell,
        events: &mut Vec<Event>,
    ) -> Result<Pid, String> {
        let argv = self.processes[&pid].argv.clone();
        let spawn = self.child_spawn(pid, argv);
        let child = self
            .fork(spawn, events)
            .map_err(|err| err.message().to_string())?;
        let private: Vec<i32> = self.processes[&child]
            .fds
            .keys()
            .copied()
            .filter(|n| *n >= FIRST_PRIVATE_FD)
            .collect();
        for n in private {
            self.fd_close(child, n);
        }
        let program = self.shell_program_with(child, sub.state, Work::Body(sub.body));
        if let Some(p) = self.processes.get_mut(&child) {
            p.state = program.state();
            p.program = program;
        }
        Ok(self.pids_inside(child).0)
    }
}

/// A stable inode number for a path (the simulated file systems keep
/// none).
fn inode_of(abs: &str) -> u64 {
    abs.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1099511628211)
    })
}
