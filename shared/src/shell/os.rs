//! The shell's one seam to the system it runs on: descriptors, files,
//! processes. `toolbox`'s `sh` answers it with real system calls, the
//! simulated kernel with its own processes and pipes, so one interpreter
//! runs on both engines.
//!
//! Every call is `async`: the real system answers at once (a call that
//! blocks, blocks the thread, as a real shell's does), while the
//! simulated kernel answers when its clock has moved far enough (a
//! child has exited, a pipe has data).

use std::rc::Rc;

use super::ast::List;
use super::run::State;
use crate::process::{Pid, Signal};

pub type Fd = i32;

/// Descriptors the shell keeps for itself start here (`ash` uses 10), so
/// a script's `3>` or `9<` never meets one.
pub const FIRST_PRIVATE_FD: Fd = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    Read,
    /// `>`: created or truncated.
    Write,
    /// `>>`
    Append,
    /// `<>`: read and write, created if missing.
    ReadWrite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// The permission bits, with set-id and sticky bits.
    pub mode: u32,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    /// Modification time, Unix seconds.
    pub mtime: i64,
    /// Last access and last status change, Unix seconds.
    pub atime: i64,
    pub ctime: i64,
    /// The nanoseconds of the access, modification and change times.
    pub nanos: [u32; 3],
    /// The block size for I/O the file system prefers.
    pub blksize: u64,
    pub dev: u64,
    pub ino: u64,
    /// Hard links to it (a directory's count includes `.` and each
    /// subdirectory's `..`).
    pub nlink: u64,
    /// The 512-byte blocks it takes.
    pub blocks: u64,
    /// A device file's major and minor numbers.
    pub rdev: (u32, u32),
}

/// What `statfs(2)` says of the file system a path is on: its size in
/// blocks of `block_size` bytes (`f_frsize`), and its inodes. A file
/// system without storage (proc, sysfs, cgroupfs) has none of either.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsStats {
    pub block_size: u64,
    pub blocks: u64,
    pub free: u64,
    /// Free to a process without privilege (ext4 keeps some for root).
    pub available: u64,
    pub files: u64,
    pub files_free: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Execute,
}

/// Why a write did not complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// No reader is left: the writer has been sent SIGPIPE (a process
    /// that ignores it goes on, with EPIPE).
    BrokenPipe,
    Other(String),
}

/// Why a program did not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// No process could be made (`pids.max`, memory): a non-interactive
    /// shell ends on it, as `ash` does.
    Fork(String),
    /// The program could not run: why, and the status (126, 127).
    Exec(String, i32),
}

/// A child shell to start, as `fork` would make it: the state it starts
/// with and what it runs.
pub struct Subshell {
    pub state: State,
    pub body: Rc<List>,
}

/// What the shell asks of the system. Errors are `strerror`'s words
/// (`No such file or directory`), for the shell to put in its messages.
#[allow(async_fn_in_trait)]
pub trait Os {
    async fn open(&mut self, path: &str, how: Open) -> Result<Fd, String>;
    async fn close(&mut self, fd: Fd);
    /// A copy of `fd` at [`FIRST_PRIVATE_FD`] or above, closed on exec.
    async fn dup_private(&mut self, fd: Fd) -> Result<Fd, String>;
    /// `dup2`: `to` becomes a copy of `from` (and stays open on exec).
    async fn dup2(&mut self, from: Fd, to: Fd) -> Result<(), String>;
    /// Whether `fd` is open.
    async fn is_open(&mut self, fd: Fd) -> bool;
    /// A pipe: its read end, its write end (both private).
    async fn pipe(&mut self) -> Result<(Fd, Fd), String>;
    /// Up to `max` bytes; empty at end of file.
    async fn read(&mut self, fd: Fd, max: usize) -> Result<Vec<u8>, String>;
    async fn write(&mut self, fd: Fd, data: &[u8]) -> Result<(), WriteError>;
    /// `lseek(fd, offset, SEEK_SET)`: the new offset.
    async fn seek(&mut self, fd: Fd, offset: i64) -> Result<u64, String>;
    /// `ftruncate(2)`.
    async fn truncate(&mut self, fd: Fd, len: u64) -> Result<(), String>;

    async fn stat(&mut self, path: &str) -> Result<Meta, String>;
    async fn lstat(&mut self, path: &str) -> Result<Meta, String>;
    /// `stat(2)` when `follow`, else `lstat(2)`: how `-L` and `-P` pick.
    async fn stat_as(&mut self, path: &str, follow: bool) -> Result<Meta, String> {
        if follow {
            self.stat(path).await
        } else {
            self.lstat(path).await
        }
    }
    /// Where a symbolic link points (`readlink(2)`).
    async fn readlink(&mut self, path: &str) -> Result<String, String>;
    async fn access(&mut self, path: &str, how: Access) -> bool;
    /// `mkdir(2)`: `mode` before the umask.
    async fn mkdir(&mut self, path: &str, mode: u32) -> Result<(), String>;
    /// `unlink(2)`: a file or a link, never a directory.
    async fn unlink(&mut self, path: &str) -> Result<(), String>;
    /// `rmdir(2)`: an empty directory.
    async fn rmdir(&mut self, path: &str) -> Result<(), String>;
    /// `symlink(2)`: `link` made, pointing at `target`.
    async fn symlink(&mut self, target: &str, link: &str) -> Result<(), String>;
    /// `link(2)`: `new` made, a second name for the file `existing`.
    async fn link(&mut self, existing: &str, new: &str) -> Result<(), String>;
    /// `rename(2)`.
    async fn rename(&mut self, from: &str, to: &str) -> Result<(), String>;
    /// `chmod(2)`: the permission, set-id and sticky bits.
    async fn chmod(&mut self, path: &str, mode: u32) -> Result<(), String>;
    /// `statfs(2)`: the size and use of the file system `path` is on.
    async fn statfs(&mut self, path: &str) -> Result<FsStats, String>;
    /// `chroot(2)`: `path` becomes the process's `/`.
    async fn chroot(&mut self, path: &str) -> Result<(), String>;
    /// `umount2(2)`: with `lazy`, `MNT_DETACH`; with `force`, `MNT_FORCE`.
    async fn umount(&mut self, target: &str, lazy: bool, force: bool) -> Result<(), String>;
    /// `utimensat(2)`: the access and modification times, Unix seconds.
    async fn utime(&mut self, path: &str, atime: i64, mtime: i64) -> Result<(), String>;
    /// `chown(2)`, or `lchown(2)` when not `follow`: `None` keeps that id.
    async fn chown(
        &mut self,
        path: &str,
        uid: Option<u32>,
        gid: Option<u32>,
        follow: bool,
    ) -> Result<(), String>;
    async fn read_dir(&mut self, path: &str) -> Option<Vec<String>>;
    /// Changes the working directory: the new one, absolute.
    async fn chdir(&mut self, path: &str) -> Result<String, String>;
    async fn umask(&mut self, mask: Option<u32>) -> u32;

    /// Starts a program (found by the shell already) with the shell's
    /// descriptors, as `fork` then `execve`: its pid, or why not and the
    /// status that gives (`Permission denied`, 126). A file that is not a
    /// binary is run by `/bin/sh`, as `ash` runs it.
    async fn spawn(
        &mut self,
        path: &str,
        argv: &[String],
        env: &[String],
    ) -> Result<Pid, SpawnError>;
    /// The shell becomes the program (`exec`): returns only if it could
    /// not, with why and the status.
    async fn exec(&mut self, path: &str, argv: &[String], env: &[String]) -> (String, i32);
    /// Forks a child shell that runs `sub` with the shell's descriptors.
    async fn subshell(&mut self, sub: Subshell) -> Result<Pid, String>;
    /// Waits for a child to end: its status as `$?` gives it (128 plus
    /// the signal that killed it), or `None` if it is not a child.
    async fn wait(&mut self, pid: Pid) -> Option<i32>;
    async fn kill(&mut self, pid: Pid, signal: Signal) -> Result<(), String>;
    /// The effective user and group ids, as the process's user namespace
    /// maps them (`geteuid`, `getegid`).
    async fn ids(&mut self) -> (u32, u32);
    /// The wall clock (`CLOCK_REALTIME`): Unix seconds and nanoseconds.
    async fn now(&mut self) -> (i64, u32);
    /// How many CPUs the process may run on (`sched_getaffinity`).
    async fn cpus(&mut self) -> u32;
    /// The devices of the process's net namespace (an `RTM_GETLINK` dump).
    async fn net_links(&mut self) -> Result<Vec<crate::net::Link>, String>;
    /// Its addresses: IPv4's, then IPv6's, each device's in the kernel's
    /// order (`RTM_GETADDR`).
    async fn net_addresses(&mut self) -> Result<Vec<crate::net::Address>, String>;
    /// One family's routes in every table, in the kernel's dump order
    /// (`RTM_GETROUTE`).
    async fn net_routes(&mut self, v6: bool) -> Result<Vec<crate::net::Route>, String>;
    /// Changes the namespace's devices, addresses or routes; the error is
    /// `strerror`'s (`Operation not permitted` without CAP_NET_ADMIN).
    async fn net_change(&mut self, request: crate::net::NetRequest) -> Result<(), String>;
    /// Sleeps `ms` milliseconds (`nanosleep`). The simulated kernel's
    /// clock and its other processes go on meanwhile.
    async fn sleep(&mut self, ms: u64);
    /// The shell's own pid, as seen in its pid namespace (`$$`).
    fn pid(&self) -> Pid;
    fn ppid(&self) -> Pid;
    /// Whether Ctrl-C came since the last look.
    fn interrupted(&mut self) -> bool;
    /// The program now holds `bytes` more memory than it started with (an
    /// applet's buffered lines). A real kernel counts that by itself; the
    /// simulated one charges it to the process and its memory cgroup,
    /// whose OOM killer may end the process here.
    ///
    /// A negative `bytes` gives memory back (lines `tail` let go of).
    async fn hold(&mut self, bytes: i64) {
        let _ = bytes;
    }
    /// A point where the program may be preempted: a loop or a function
    /// call that makes no other system call still lets the simulated
    /// kernel's other processes (and its clock) go on. The real kernel
    /// preempts by itself.
    async fn yield_now(&mut self) {}
}
