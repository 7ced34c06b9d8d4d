//! The shell's system calls on the simulated kernel, from the caller's
//! side: each is a request left in the process's mailbox, and its answer
//! comes when the kernel serves the process's step (`sim/shell.rs`).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::process::{Pid, Signal};
use crate::shell::State;
use crate::shell::os::{
    Access, Fd, FsStats, Meta, Open as How, Os, SpawnError, Subshell, WriteError,
};

use super::files::FileOp;

pub(super) enum Request {
    Open(String, How),
    Close(Fd),
    DupPrivate(Fd),
    Dup2(Fd, Fd),
    IsOpen(Fd),
    Pipe,
    Read(Fd, usize),
    Write(Fd, Vec<u8>),
    Seek(Fd, i64),
    Truncate(Fd, u64),
    Stat(String, bool),
    StatFs(String),
    ReadLink(String),
    File(FileOp),
    Access(String, Access),
    ReadDir(String),
    Chdir(String),
    Spawn(String, Vec<String>, Vec<String>),
    Exec(String, Vec<String>, Vec<String>),
    Subshell(Box<Subshell>),
    Wait(Pid),
    Kill(Pid, Signal),
    Hold(i64),
    Ids,
    Now,
    /// `nanosleep` for so many milliseconds; the kernel turns it into
    /// [`Request::SleepUntil`] the clock's time it ends.
    Sleep(u64),
    SleepUntil(u64),
    NetLinks,
    NetAddresses,
    NetRoutes(bool),
    NetChange(crate::net::NetRequest),
    Yield,
}

pub(super) enum Answer {
    Fd(Result<Fd, String>),
    Done(Result<(), String>),
    Yes(bool),
    Pipe(Result<(Fd, Fd), String>),
    Data(Result<Vec<u8>, String>),
    Wrote(Result<(), WriteError>),
    Meta(Result<Meta, String>),
    FsStats(Result<FsStats, String>),
    Names(Option<Vec<String>>),
    Path(Result<String, String>),
    Spawned(Result<Pid, SpawnError>),
    Forked(Result<Pid, String>),
    Status(Option<i32>),
    Ids((u32, u32)),
    Now((i64, u32)),
    Offset(Result<u64, String>),
    Links(Result<Vec<crate::net::Link>, String>),
    Addresses(Result<Vec<crate::net::Address>, String>),
    Routes(Result<Vec<crate::net::Route>, String>),
}

pub(super) struct Mailbox {
    pub(super) request: Option<Request>,
    pub(super) answer: Option<Answer>,
    /// Its pid and its parent's, in its own pid namespace.
    pub(super) pid: Pid,
    pub(super) ppid: Pid,
    pub(super) umask: u32,
    /// Children reaped while it waited for another, by inner pid.
    pub(super) reaped: std::collections::HashMap<Pid, i32>,
    /// A login shell's line, ended: its state, and `exit`'s status.
    pub(super) finished: Option<(State, Option<i32>)>,
}

impl Mailbox {
    pub(super) fn new(pid: Pid, ppid: Pid) -> Mailbox {
        Mailbox {
            request: None,
            answer: None,
            pid,
            ppid,
            umask: 0o022,
            reaped: std::collections::HashMap::new(),
            finished: None,
        }
    }
}

/// The simulated kernel, as the interpreter sees it.
pub(crate) struct SimOs {
    pub(super) mail: Rc<RefCell<Mailbox>>,
}

/// A system call in flight: left in the mailbox at the first poll, its
/// answer taken at a later one.
struct Call {
    mail: Rc<RefCell<Mailbox>>,
    request: Option<Request>,
}

impl Future for Call {
    type Output = Answer;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Answer> {
        if let Some(request) = self.request.take() {
            self.mail.borrow_mut().request = Some(request);
            return Poll::Pending;
        }
        match self.mail.borrow_mut().answer.take() {
            Some(answer) => Poll::Ready(answer),
            None => Poll::Pending,
        }
    }
}

impl SimOs {
    fn call(&self, request: Request) -> Call {
        Call {
            mail: self.mail.clone(),
            request: Some(request),
        }
    }
}

macro_rules! answer {
    ($self:ident, $request:expr, $variant:ident) => {
        match $self.call($request).await {
            Answer::$variant(value) => value,
            _ => unreachable!("the kernel answers each call in kind"),
        }
    };
}

impl Os for SimOs {
    async fn open(&mut self, path: &str, how: How) -> Result<Fd, String> {
        answer!(self, Request::Open(path.into(), how), Fd)
    }
    async fn close(&mut self, fd: Fd) {
        let _ = answer!(self, Request::Close(fd), Done);
    }
    async fn dup_private(&mut self, fd: Fd) -> Result<Fd, String> {
        answer!(self, Request::DupPrivate(fd), Fd)
    }
    async fn dup2(&mut self, from: Fd, to: Fd) -> Result<(), String> {
        answer!(self, Request::Dup2(from, to), Done)
    }
    async fn is_open(&mut self, fd: Fd) -> bool {
        answer!(self, Request::IsOpen(fd), Yes)
    }
    async fn pipe(&mut self) -> Result<(Fd, Fd), String> {
        answer!(self, Request::Pipe, Pipe)
    }
    async fn read(&mut self, fd: Fd, max: usize) -> Result<Vec<u8>, String> {
        answer!(self, Request::Read(fd, max), Data)
    }
    async fn write(&mut self, fd: Fd, data: &[u8]) -> Result<(), WriteError> {
        answer!(self, Request::Write(fd, data.to_vec()), Wrote)
    }
    async fn seek(&mut self, fd: Fd, offset: i64) -> Result<u64, String> {
        answer!(self, Request::Seek(fd, offset), Offset)
    }
    async fn truncate(&mut self, fd: Fd, len: u64) -> Result<(), String> {
        answer!(self, Request::Truncate(fd, len), Done)
    }
    async fn stat(&mut self, path: &str) -> Result<Meta, String> {
        answer!(self, Request::Stat(path.into(), true), Meta)
    }
    async fn lstat(&mut self, path: &str) -> Result<Meta, String> {
        answer!(self, Request::Stat(path.into(), false), Meta)
    }
    async fn readlink(&mut self, path: &str) -> Result<String, String> {
        answer!(self, Request::ReadLink(path.into()), Path)
    }
    async fn access(&mut self, path: &str, how: Access) -> bool {
        answer!(self, Request::Access(path.into(), how), Yes)
    }
    async fn mkdir(&mut self, path: &str, mode: u32) -> Result<(), String> {
        let mode = mode & !self.mail.borrow().umask;
        answer!(self, Request::File(FileOp::Mkdir(path.into(), mode)), Done)
    }
    async fn unlink(&mut self, path: &str) -> Result<(), String> {
        answer!(self, Request::File(FileOp::Unlink(path.into())), Done)
    }
    async fn rmdir(&mut self, path: &str) -> Result<(), String> {
        answer!(self, Request::File(FileOp::Rmdir(path.into())), Done)
    }
    async fn symlink(&mut self, target: &str, link: &str) -> Result<(), String> {
        let op = FileOp::Symlink {
            target: target.into(),
            link: link.into(),
        };
        answer!(self, Request::File(op), Done)
    }
    async fn link(&mut self, existing: &str, new: &str) -> Result<(), String> {
        answer!(
            self,
            Request::File(FileOp::Link(existing.into(), new.into())),
            Done
        )
    }
    async fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
        answer!(
            self,
            Request::File(FileOp::Rename(from.into(), to.into())),
            Done
        )
    }
    async fn chmod(&mut self, path: &str, mode: u32) -> Result<(), String> {
        answer!(self, Request::File(FileOp::Chmod(path.into(), mode)), Done)
    }
    async fn ids(&mut self) -> (u32, u32) {
        answer!(self, Request::Ids, Ids)
    }
    async fn now(&mut self) -> (i64, u32) {
        answer!(self, Request::Now, Now)
    }
    async fn cpus(&mut self) -> u32 {
        // No affinity is modelled: every CPU of the host.
        super::HOST_CPUS as u32
    }
    async fn net_links(&mut self) -> Result<Vec<crate::net::Link>, String> {
        answer!(self, Request::NetLinks, Links)
    }
    async fn net_addresses(&mut self) -> Result<Vec<crate::net::Address>, String> {
        answer!(self, Request::NetAddresses, Addresses)
    }
    async fn net_routes(&mut self, v6: bool) -> Result<Vec<crate::net::Route>, String> {
        answer!(self, Request::NetRoutes(v6), Routes)
    }
    async fn net_change(&mut self, request: crate::net::NetRequest) -> Result<(), String> {
        answer!(self, Request::NetChange(request), Done)
    }
    async fn sleep(&mut self, ms: u64) {
        answer!(self, Request::Sleep(ms), Done).unwrap_or_default()
    }
    async fn statfs(&mut self, path: &str) -> Result<FsStats, String> {
        answer!(self, Request::StatFs(path.into()), FsStats)
    }
    async fn chroot(&mut self, path: &str) -> Result<(), String> {
        answer!(self, Request::File(FileOp::Chroot(path.into())), Done)
    }
    async fn umount(&mut self, target: &str, lazy: bool, force: bool) -> Result<(), String> {
        let op = FileOp::Umount {
            target: target.into(),
            lazy,
            force,
        };
        answer!(self, Request::File(op), Done)
    }
    async fn utime(&mut self, path: &str, atime: i64, mtime: i64) -> Result<(), String> {
        let _ = atime;
        let op = FileOp::SetTime(path.into(), mtime.max(0) as u64);
        answer!(self, Request::File(op), Done)
    }
    async fn chown(
        &mut self,
        path: &str,
        uid: Option<u32>,
        gid: Option<u32>,
        follow: bool,
    ) -> Result<(), String> {
        let op = FileOp::Chown {
            path: path.into(),
            uid,
            gid,
            follow,
        };
        answer!(self, Request::File(op), Done)
    }
    async fn read_dir(&mut self, path: &str) -> Option<Vec<String>> {
        answer!(self, Request::ReadDir(path.into()), Names)
    }
    async fn chdir(&mut self, path: &str) -> Result<String, String> {
        answer!(self, Request::Chdir(path.into()), Path)
    }
    async fn umask(&mut self, mask: Option<u32>) -> u32 {
        let mut mail = self.mail.borrow_mut();
        let old = mail.umask;
        if let Some(mask) = mask {
            mail.umask = mask;
        }
        old
    }
    async fn spawn(
        &mut self,
        path: &str,
        argv: &[String],
        env: &[String],
    ) -> Result<Pid, SpawnError> {
        answer!(
            self,
            Request::Spawn(path.into(), argv.to_vec(), env.to_vec()),
            Spawned
        )
    }
    async fn exec(&mut self, path: &str, argv: &[String], env: &[String]) -> (String, i32) {
        // The kernel replaces the program: this call never returns.
        let _ = self
            .call(Request::Exec(path.into(), argv.to_vec(), env.to_vec()))
            .await;
        ("exec failed".into(), 126)
    }
    async fn subshell(&mut self, sub: Subshell) -> Result<Pid, String> {
        answer!(self, Request::Subshell(Box::new(sub)), Forked)
    }
    async fn wait(&mut self, pid: Pid) -> Option<i32> {
        answer!(self, Request::Wait(pid), Status)
    }
    async fn kill(&mut self, pid: Pid, signal: Signal) -> Result<(), String> {
        answer!(self, Request::Kill(pid, signal), Done)
    }
    fn ppid(&self) -> Pid {
        self.mail.borrow().ppid
    }
    async fn hold(&mut self, bytes: i64) {
        answer!(self, Request::Hold(bytes), Done).unwrap_or_default()
    }
    async fn yield_now(&mut self) {
        answer!(self, Request::Yield, Done).unwrap_or_default()
    }
    fn pid(&self) -> Pid {
        self.mail.borrow().pid
    }
    fn interrupted(&mut self) -> bool {
        false
    }
}
