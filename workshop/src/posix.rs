//! `sh`: the shared POSIX shell (`anchorage_shared::shell`) over real
//! system calls — `fork`, `pipe`, `dup2`, `execve`, `waitpid` — as BusyBox's
//! `ash` makes them: every part of a pipeline in a child, the last
//! command of a child shell run in place.

use std::ffi::CString;
use std::io::{self, IsTerminal};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::sync::atomic::{AtomicBool, Ordering};

use anchorage_shared::process::{Pid, Signal};
use anchorage_shared::shell::os::{
    Access, FIRST_PRIVATE_FD, Fd, FsStats, Kind, Meta, Open, Os, SpawnError, Subshell, WriteError,
};
use anchorage_shared::shell::{self, Parser, Shell, State};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};

/// Set by SIGINT while the shell is interactive.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// The real system, for the shell: with the statuses of children reaped
/// while it waited for another (as `ash`, it reaps any child that ends).
#[derive(Default)]
pub struct RealOs {
    reaped: std::collections::HashMap<Pid, i32>,
}

fn message(errno: Errno) -> String {
    crate::files::strerror(errno).to_string()
}

fn io_message(err: &io::Error) -> String {
    err.raw_os_error()
        .map(|n| message(Errno::from_raw(n)))
        .unwrap_or_else(|| err.to_string())
}

fn meta(m: &std::fs::Metadata) -> Meta {
    let t = m.file_type();
    let kind = if t.is_symlink() {
        Kind::Symlink
    } else if t.is_dir() {
        Kind::Dir
    } else if t.is_fifo() {
        Kind::Fifo
    } else if t.is_char_device() {
        Kind::CharDevice
    } else if t.is_block_device() {
        Kind::BlockDevice
    } else if t.is_socket() {
        Kind::Socket
    } else {
        Kind::File
    };
    Meta {
        kind,
        mode: m.mode() & 0o7777,
        size: m.size(),
        uid: m.uid(),
        gid: m.gid(),
        mtime: m.mtime(),
        atime: m.atime(),
        ctime: m.ctime(),
        nanos: [
            m.atime_nsec() as u32,
            m.mtime_nsec() as u32,
            m.ctime_nsec() as u32,
        ],
        blksize: m.blksize(),
        dev: m.dev(),
        ino: m.ino(),
        nlink: m.nlink(),
        blocks: m.blocks(),
        rdev: (
            nix::sys::stat::major(m.rdev()) as u32,
            nix::sys::stat::minor(m.rdev()) as u32,
        ),
    }
}

fn cstrings(items: &[String]) -> Vec<CString> {
    items
        .iter()
        .map(|s| CString::new(s.as_bytes()).unwrap_or_default())
        .collect()
}

/// The default action for the signals a shell leaves to its commands.
fn default_signals() {
    for signal in [
        nix::sys::signal::Signal::SIGPIPE,
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGQUIT,
    ] {
        // SAFETY: restoring a default action is always sound.
        unsafe {
            let _ = nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl);
        }
    }
}

/// `execve`, and for a file that is not a binary, `/bin/sh FILE`, as
/// `ash` does: returns only with why not.
fn execute(path: &str, argv: &[String], env: &[String]) -> Errno {
    let Ok(program) = CString::new(path) else {
        return Errno::ENOENT;
    };
    let args = cstrings(argv);
    let vars = cstrings(env);
    let err = nix::unistd::execve(&program, &args, &vars).unwrap_err();
    if err == Errno::ENOEXEC {
        let mut script = vec!["sh".to_string(), path.to_string()];
        script.extend(argv.iter().skip(1).cloned());
        let shell = c"/bin/sh";
        let _ = nix::unistd::execve(shell, &cstrings(&script), &vars);
    }
    err
}

fn exec_failure(errno: Errno) -> (String, i32) {
    match errno {
        Errno::ENOENT => ("not found".into(), 127),
        other => (message(other), 126),
    }
}

impl Os for RealOs {
    async fn open(&mut self, path: &str, how: Open) -> Result<Fd, String> {
        let flags = match how {
            Open::Read => OFlag::O_RDONLY,
            Open::Write => OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC,
            Open::Append => OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND,
            Open::ReadWrite => OFlag::O_RDWR | OFlag::O_CREAT,
        };
        nix::fcntl::open(
            path,
            flags | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )
        .map(IntoRawFd::into_raw_fd)
        .map_err(message)
    }

    async fn close(&mut self, fd: Fd) {
        // SAFETY: the shell closes descriptors it owns.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }

    async fn dup_private(&mut self, fd: Fd) -> Result<Fd, String> {
        // SAFETY: F_DUPFD_CLOEXEC only reads `fd`.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        nix::fcntl::fcntl(borrowed, FcntlArg::F_DUPFD_CLOEXEC(FIRST_PRIVATE_FD)).map_err(message)
    }

    async fn dup2(&mut self, from: Fd, to: Fd) -> Result<(), String> {
        // SAFETY: dup2 on descriptors the shell manages.
        if unsafe { nix::libc::dup2(from, to) } < 0 {
            return Err(message(Errno::last()));
        }
        Ok(())
    }

    async fn is_open(&mut self, fd: Fd) -> bool {
        // SAFETY: F_GETFD only asks.
        unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) >= 0 }
    }

    async fn pipe(&mut self) -> Result<(Fd, Fd), String> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(message)?;
        Ok((read.into_raw_fd(), write.into_raw_fd()))
    }

    async fn read(&mut self, fd: Fd, max: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; max.max(1)];
        loop {
            // SAFETY: `fd` stays open for the call.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            match nix::unistd::read(borrowed, &mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(Errno::EINTR) if !INTERRUPTED.load(Ordering::Relaxed) => continue,
                Err(err) => return Err(message(err)),
            }
        }
    }

    async fn write(&mut self, fd: Fd, data: &[u8]) -> Result<(), WriteError> {
        let mut rest = data;
        while !rest.is_empty() {
            // SAFETY: `fd` stays open for the call.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            match nix::unistd::write(borrowed, rest) {
                Ok(n) => rest = &rest[n..],
                Err(Errno::EINTR) => continue,
                Err(Errno::EPIPE) => return Err(WriteError::BrokenPipe),
                Err(err) => return Err(WriteError::Other(message(err))),
            }
        }
        Ok(())
    }

    async fn seek(&mut self, fd: Fd, offset: i64) -> Result<u64, String> {
        // SAFETY: the descriptor is the program's own; borrowed for one call.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        nix::unistd::lseek(fd, offset, nix::unistd::Whence::SeekSet)
            .map(|at| at as u64)
            .map_err(message)
    }

    async fn truncate(&mut self, fd: Fd, len: u64) -> Result<(), String> {
        // SAFETY: as in `seek`.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        nix::unistd::ftruncate(fd, len as i64).map_err(message)
    }

    async fn stat(&mut self, path: &str) -> Result<Meta, String> {
        std::fs::metadata(path)
            .map(|m| meta(&m))
            .map_err(|e| io_message(&e))
    }

    async fn lstat(&mut self, path: &str) -> Result<Meta, String> {
        std::fs::symlink_metadata(path)
            .map(|m| meta(&m))
            .map_err(|e| io_message(&e))
    }

    async fn readlink(&mut self, path: &str) -> Result<String, String> {
        std::fs::read_link(path)
            .map(|target| target.to_string_lossy().into_owned())
            .map_err(|e| io_message(&e))
    }

    async fn access(&mut self, path: &str, how: Access) -> bool {
        let mode = match how {
            Access::Read => nix::unistd::AccessFlags::R_OK,
            Access::Write => nix::unistd::AccessFlags::W_OK,
            Access::Execute => nix::unistd::AccessFlags::X_OK,
        };
        nix::unistd::access(path, mode).is_ok()
    }

    async fn mkdir(&mut self, path: &str, mode: u32) -> Result<(), String> {
        nix::unistd::mkdir(path, Mode::from_bits_truncate(mode)).map_err(message)
    }

    async fn unlink(&mut self, path: &str) -> Result<(), String> {
        nix::unistd::unlink(path).map_err(message)
    }

    async fn rmdir(&mut self, path: &str) -> Result<(), String> {
        std::fs::remove_dir(path).map_err(|e| io_message(&e))
    }

    async fn symlink(&mut self, target: &str, link: &str) -> Result<(), String> {
        std::os::unix::fs::symlink(target, link).map_err(|e| io_message(&e))
    }

    async fn link(&mut self, existing: &str, new: &str) -> Result<(), String> {
        std::fs::hard_link(existing, new).map_err(|e| io_message(&e))
    }

    async fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
        std::fs::rename(from, to).map_err(|e| io_message(&e))
    }

    async fn chmod(&mut self, path: &str, mode: u32) -> Result<(), String> {
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            path,
            Mode::from_bits_truncate(mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(message)
    }

    async fn ids(&mut self) -> (u32, u32) {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    }

    async fn now(&mut self) -> (i64, u32) {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => (since.as_secs() as i64, since.subsec_nanos()),
            Err(_) => (0, 0),
        }
    }

    async fn cpus(&mut self) -> u32 {
        nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map(|set| {
                (0..nix::sched::CpuSet::count())
                    .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
                    .count() as u32
            })
            .unwrap_or(1)
    }

    async fn net_links(&mut self) -> Result<Vec<anchorage_shared::net::Link>, String> {
        crate::net::links()
    }

    async fn net_addresses(&mut self) -> Result<Vec<anchorage_shared::net::Address>, String> {
        crate::net::addresses()
    }

    async fn net_routes(&mut self, v6: bool) -> Result<Vec<anchorage_shared::net::Route>, String> {
        crate::net::routes(v6)
    }

    async fn net_change(
        &mut self,
        request: anchorage_shared::net::NetRequest,
    ) -> Result<(), String> {
        crate::net::change(request)
    }

    async fn sleep(&mut self, ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    async fn statfs(&mut self, path: &str) -> Result<FsStats, String> {
        let s = nix::sys::statvfs::statvfs(path).map_err(message)?;
        Ok(FsStats {
            block_size: if s.fragment_size() == 0 {
                s.block_size()
            } else {
                s.fragment_size()
            },
            blocks: s.blocks(),
            free: s.blocks_free(),
            available: s.blocks_available(),
            files: s.files(),
            files_free: s.files_free(),
        })
    }

    async fn chroot(&mut self, path: &str) -> Result<(), String> {
        nix::unistd::chroot(path).map_err(message)
    }

    async fn umount(&mut self, target: &str, lazy: bool, force: bool) -> Result<(), String> {
        let mut flags = nix::mount::MntFlags::empty();
        if lazy {
            flags |= nix::mount::MntFlags::MNT_DETACH;
        }
        if force {
            flags |= nix::mount::MntFlags::MNT_FORCE;
        }
        nix::mount::umount2(target, flags).map_err(message)
    }

    async fn utime(&mut self, path: &str, atime: i64, mtime: i64) -> Result<(), String> {
        let at = nix::sys::time::TimeSpec::new(atime, 0);
        let mt = nix::sys::time::TimeSpec::new(mtime, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &at,
            &mt,
            nix::sys::stat::UtimensatFlags::FollowSymlink,
        )
        .map_err(message)
    }

    async fn chown(
        &mut self,
        path: &str,
        uid: Option<u32>,
        gid: Option<u32>,
        follow: bool,
    ) -> Result<(), String> {
        let flag = if follow {
            nix::fcntl::AtFlags::empty()
        } else {
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW
        };
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            uid.map(nix::unistd::Uid::from_raw),
            gid.map(nix::unistd::Gid::from_raw),
            flag,
        )
        .map_err(message)
    }

    async fn read_dir(&mut self, path: &str) -> Option<Vec<String>> {
        let entries = std::fs::read_dir(path).ok()?;
        Some(
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
        )
    }

    async fn chdir(&mut self, path: &str) -> Result<String, String> {
        std::env::set_current_dir(path).map_err(|e| io_message(&e))?;
        std::env::current_dir()
            .map(|p| p.display().to_string())
            .map_err(|e| io_message(&e))
    }

    async fn umask(&mut self, mask: Option<u32>) -> u32 {
        let new = Mode::from_bits_truncate(mask.unwrap_or(0o022));
        let old = nix::sys::stat::umask(new);
        if mask.is_none() {
            nix::sys::stat::umask(old);
        }
        old.bits()
    }

    async fn spawn(
        &mut self,
        path: &str,
        argv: &[String],
        env: &[String],
    ) -> Result<Pid, SpawnError> {
        // The child says why its exec failed on a pipe that closes on a
        // successful exec.
        let (read, write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| SpawnError::Fork(message(e)))?;
        // SAFETY: the shell is one thread; the child only execs or exits.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                drop(read);
                default_signals();
                let errno = execute(path, argv, env);
                let _ = nix::unistd::write(&write, &(errno as i32).to_ne_bytes());
                // SAFETY: leaving the child without running destructors.
                unsafe { nix::libc::_exit(127) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                drop(write);
                let mut buf = [0u8; 4];
                let mut file = std::fs::File::from(read);
                match io::Read::read(&mut file, &mut buf) {
                    Ok(4) => {
                        let _ = waitpid(child, None);
                        let (why, status) = exec_failure(Errno::from_raw(i32::from_ne_bytes(buf)));
                        Err(SpawnError::Exec(why, status))
                    }
                    _ => Ok(child.as_raw() as Pid),
                }
            }
            Err(err) => Err(SpawnError::Fork(message(err))),
        }
    }

    async fn exec(&mut self, path: &str, argv: &[String], env: &[String]) -> (String, i32) {
        default_signals();
        exec_failure(execute(path, argv, env))
    }

    async fn subshell(&mut self, sub: Subshell) -> Result<Pid, String> {
        // SAFETY: the shell is one thread; the child runs the shell and
        // leaves with _exit.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                // The parent's private descriptors are not the child's.
                // SAFETY: close_range on descriptors this process owns.
                unsafe {
                    nix::libc::syscall(
                        nix::libc::SYS_close_range,
                        FIRST_PRIVATE_FD as u32,
                        u32::MAX,
                        0u32,
                    );
                }
                default_signals();
                let mut shell = Shell::new(sub.state, RealOs::default());
                let status = shell::block_on(shell.run_body(&sub.body));
                // SAFETY: leaving the child without running the parent's
                // destructors.
                unsafe { nix::libc::_exit(status) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => Ok(child.as_raw() as Pid),
            Err(err) => Err(message(err)),
        }
    }

    async fn wait(&mut self, pid: Pid) -> Option<i32> {
        if let Some(status) = self.reaped.remove(&pid) {
            return Some(status);
        }
        loop {
            let (child, status) = match waitpid(nix::unistd::Pid::from_raw(-1), None) {
                Ok(WaitStatus::Exited(child, code)) => (child, code),
                Ok(WaitStatus::Signaled(child, signal, _)) => (child, 128 + signal as i32),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => return None,
            };
            let child = child.as_raw() as Pid;
            if child == pid {
                return Some(status);
            }
            self.reaped.insert(child, status);
        }
    }

    async fn kill(&mut self, pid: Pid, signal: Signal) -> Result<(), String> {
        let signal = nix::sys::signal::Signal::try_from(signal.number()).map_err(message)?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).map_err(message)
    }

    fn pid(&self) -> Pid {
        nix::unistd::getpid().as_raw() as Pid
    }

    fn ppid(&self) -> Pid {
        nix::unistd::getppid().as_raw() as Pid
    }

    fn interrupted(&mut self) -> bool {
        INTERRUPTED.swap(false, Ordering::Relaxed)
    }
}

fn new_state(arg0: &str) -> State {
    let env: Vec<String> = std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/".into());
    State::new(&env, &cwd, arg0)
}

/// `sh [-eufxCis] [-o NAME] [-c SCRIPT [NAME [ARG...]] | FILE [ARG...]]`,
/// read as both engines read it (`shell::invoke`).
pub fn main(args: &[String]) -> i32 {
    use anchorage_shared::shell::invoke::{self, Source};
    // Commands get SIGPIPE's default action, and so does the shell (as
    // `ash` leaves it): a builtin writing to a closed pipe ends there.
    default_signals();
    let invocation = match invoke::parse(args) {
        Ok(invocation) => invocation,
        Err(message) => {
            eprintln!("sh: {message}");
            return 2;
        }
    };
    let (text, name, tail, line_base) = match &invocation.source {
        Source::Command(script) => (script.clone(), "sh".to_string(), true, 0),
        Source::File(file) => match std::fs::read(file) {
            Ok(bytes) => (
                String::from_utf8_lossy(&bytes).into_owned(),
                file.clone(),
                false,
                1,
            ),
            Err(err) => {
                eprintln!("sh: can't open '{file}': {}", io_message(&err));
                return 2;
            }
        },
        // A terminal's shell reads lines as they are typed (`-i` asks for
        // it; `chroot DIR` runs `$SHELL -i`).
        Source::Stdin if invocation.positional.is_empty() && io::stdin().is_terminal() => {
            return interactive();
        }
        Source::Stdin => {
            let mut text = String::new();
            let _ = io::Read::read_to_string(&mut io::stdin(), &mut text);
            (text, "sh".to_string(), false, 1)
        }
    };
    let mut state = new_state(&name);
    state.name = name.clone();
    if let Some(arg0) = &invocation.arg0 {
        state.arg0 = arg0.clone();
    }
    state.positional = invocation.positional.clone();
    state.line_base = line_base;
    invocation.apply(&mut state.options);
    let mut shell = Shell::new(state, RealOs::default());
    shell::block_on(shell.run_script(&text, tail))
}

/// Reads a line from the terminal; `Ok(None)` at end of input, and
/// `Err(Interrupted)` when Ctrl-C discarded the line being typed.
fn read_line() -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(io::stdin(), &mut byte) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => break,
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
            Err(Errno::EINTR) => {
                if INTERRUPTED.swap(false, Ordering::Relaxed) {
                    return Err(io::ErrorKind::Interrupted.into());
                }
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// The prompt, a line (more while a command is unfinished, after `> `),
/// the command; until end of input or `exit`. Ctrl-C interrupts the
/// command running (it shares the shell's process group), not the shell,
/// and at the prompt discards the line.
fn interactive() -> i32 {
    // A handler, not SIG_IGN: commands get the default action back at
    // exec. No SA_RESTART, so a read at the prompt returns on Ctrl-C.
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_interrupt),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGQUIT,
    ] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { nix::sys::signal::sigaction(signal, &action) };
    }
    let mut state = new_state("sh");
    state.interactive = true;
    state.options.mode = "is";
    state.line_base = 1;
    let mut shell = Shell::new(state, RealOs::default());
    let mut pending = String::new();
    loop {
        let prompt = if !pending.is_empty() {
            "> ".to_string()
        } else {
            let sign = if nix::unistd::geteuid().is_root() {
                "#"
            } else {
                "$"
            };
            format!("{} {sign} ", shell.state.cwd)
        };
        eprint!("{prompt}");
        match read_line() {
            Ok(Some(line)) => pending.push_str(&line),
            Ok(None) => {
                eprintln!();
                return shell.state.status;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                eprintln!();
                pending.clear();
                shell.state.status = 130;
                continue;
            }
            Err(_) => return shell.state.status,
        }
        // An unfinished command (an open quote, `if` without `fi`) waits
        // for more lines.
        let mut parser = Parser::new(&pending);
        let complete = loop {
            match parser.next_command() {
                Ok(Some(_)) => continue,
                Ok(None) => break true,
                Err(err) => break !err.at_end,
            }
        };
        if !complete {
            continue;
        }
        let text = std::mem::take(&mut pending);
        let status = shell::block_on(shell.run_script_interactive(&text));
        if let Some(code) = status {
            return code;
        }
        if INTERRUPTED.swap(false, Ordering::Relaxed) {
            eprintln!();
        }
    }
}
