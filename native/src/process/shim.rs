//! The supervisor: one per running container, so containers outlive the
//! `anchorage` command that started them (as `docker run -d` does).
//!
//! `anchorage run` writes the container's `launch.json` and starts
//! `anchorage __shim DIR` in a session of its own, with a pipe on fd 3.
//! The supervisor `clone`s the container's init into new user, pid,
//! mount, uts, ipc and net namespaces, writes its uid and gid maps, puts
//! it in its cgroup, and lets it go on (a byte on a pipe). The init sets
//! itself up ([`launch`](super::launch)) and execs; a failure comes back
//! on a close-on-exec pipe, so "nothing" there means the exec happened.
//! The supervisor reports `ok PID` (or the error) on fd 3, then copies the
//! container's stdout and stderr into `console.jsonl`, waits for the init,
//! and records how it ended in `state.json` (with `oom_killed` from the
//! cgroup's `memory.events`).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anchorage_shared::container::LogOptions;
use anchorage_shared::engine::Stream;
use anchorage_shared::process::ExitStatus;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::wait::{WaitStatus, waitpid};
use serde::{Deserialize, Serialize};

use super::console::LogWriter;
use super::kernel::Linux;
use super::launch::{self, Plan, Prepared, Shift};
use crate::cgroup::{self, Cgroup};

/// The ids a container's user namespace maps: container ids from 0 to
/// `count`, onto host ids from `uid_first` and `gid_first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMapping {
    pub uid_first: u32,
    pub gid_first: u32,
    pub count: u32,
    /// Set up without root: one id, and `setgroups` denied, as the kernel
    /// requires.
    pub rootless: bool,
}

impl IdMapping {
    pub fn uid_map(&self) -> String {
        format!("0 {} {}\n", self.uid_first, self.count)
    }

    pub fn gid_map(&self) -> String {
        format!("0 {} {}\n", self.gid_first, self.count)
    }
}

/// What the supervisor is told to start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchConfig {
    pub plan: Plan,
    pub ids: IdMapping,
    /// The cgroup to put the init in (`/anchorage/ID`), if limits apply.
    pub cgroup: Option<String>,
    pub auto_remove: bool,
    /// How much of the console is kept.
    #[serde(default)]
    pub log: LogOptions,
    /// How the image's files (and named volumes) are shifted to the
    /// container's ids, when it has ids of its own.
    #[serde(default)]
    pub shift: Option<Shift>,
}

/// How a container's run is going, as the supervisor records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub shim_pid: u32,
    /// The supervisor's start time in clock ticks after boot, to tell it
    /// from a later process with its pid.
    #[serde(default)]
    pub shim_start: Option<u64>,
    pub init_pid: Option<u32>,
    /// The init's start time in clock ticks after boot (`/proc/PID/stat`
    /// field 22): with the pid, it tells the init from a later process
    /// that got the same pid.
    pub init_start: Option<u64>,
    /// Unix milliseconds.
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub exit: Option<ExitStatus>,
    pub oom_killed: bool,
    /// Why it could not start.
    pub error: Option<String>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A process's start time in clock ticks after boot.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a process has ended and waits to be reaped.
pub fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat[stat.rfind(')')? + 2..].to_string();
            after.chars().next()
        })
        .is_none_or(|state| state == 'Z' || state == 'X')
}

impl RunState {
    /// Whether the supervisor that wrote this still runs.
    pub fn supervisor_alive(&self) -> bool {
        let ticks = start_ticks(self.shim_pid);
        ticks.is_some()
            && (self.shim_start.is_none() || ticks == self.shim_start)
            && !is_zombie(self.shim_pid)
    }

    /// Whether the recorded init is still the same process, and running
    /// (a zombie whose supervisor died waits for a reaper, but has ended).
    pub fn init_alive(&self) -> bool {
        match (self.init_pid, self.init_start) {
            (Some(pid), Some(start)) => start_ticks(pid) == Some(start) && !is_zombie(pid),
            _ => false,
        }
    }
}

/// Space the supervisor keeps in the container's directory so that its
/// state can still be written when the container has filled the disk.
const RESERVE: &str = "reserve";
const RESERVE_BYTES: usize = 64 << 10;

/// Writes the state whole, or not at all; on a full disk, the reserve
/// is given up for it.
pub fn write_state(dir: &Path, state: &RunState) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(state).expect("states always encode");
    let path = dir.join("state.json");
    match crate::tarball::store::write_atomically(&path, &bytes) {
        Err(e)
            if matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
                && fs::remove_file(dir.join(RESERVE)).is_ok() =>
        {
            crate::tarball::store::write_atomically(&path, &bytes)
        }
        result => result,
    }
}

pub fn read_state(dir: &Path) -> Option<RunState> {
    serde_json::from_slice(&fs::read(dir.join("state.json")).ok()?).ok()
}

/// `anchorage __shim DIR`: supervises one container; its exit status is
/// for the logs only (no one waits for it).
pub fn main(dir: &Path) -> i32 {
    // fd 3 is the pipe to the `anchorage` that started us.
    // SAFETY: the spawner put the pipe's write end on fd 3 for us alone.
    let report = unsafe { File::from_raw_fd(3) };
    run(dir, report)
}

/// Supervises the container in `dir`, reporting on `report`: the body of
/// `anchorage __shim`, or of a supervisor forked without an exec.
pub fn run(dir: &Path, report: File) -> i32 {
    let _ = nix::unistd::setsid();
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGHUP,
        nix::sys::signal::Signal::SIGPIPE,
    ] {
        // SAFETY: ignoring a signal is always sound.
        unsafe {
            let _ = nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigIgn);
        }
    }
    match supervise(dir, report) {
        Ok(()) => 0,
        Err(message) => {
            let _ = fs::write(dir.join("shim.err"), &message);
            1
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {}", e.desc()))
}

fn supervise(dir: &Path, mut report: File) -> Result<(), String> {
    let config: LaunchConfig = serde_json::from_slice(
        &fs::read(dir.join("launch.json")).map_err(|e| format!("launch.json: {e}"))?,
    )
    .map_err(|e| format!("launch.json: {e}"))?;
    let mut state = RunState {
        shim_pid: std::process::id(),
        shim_start: start_ticks(std::process::id()),
        ..RunState::default()
    };
    // From now on the container is starting, and whoever looks can tell
    // whether its supervisor still lives.
    write_state(dir, &state).map_err(|e| format!("state.json: {e}"))?;
    let _ = fs::write(dir.join(RESERVE), vec![0u8; RESERVE_BYTES]);
    let cgroup = match &config.cgroup {
        Some(path) => {
            let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let layout = cgroup::detect(&mountinfo).map_err(|e| e.to_string())?;
            Some(Cgroup::open(&layout, path))
        }
        None => None,
    };
    // As root, the root and the volumes are made here, with the host's
    // view and rights, and handed to the init as descriptors.
    let prepared = if config.ids.rootless {
        None
    } else {
        match launch::prepare(&mut Linux, &config.plan, config.shift) {
            Ok(prepared) => Some(prepared),
            Err(err) => return fail(dir, &mut state, &mut report, err.status, &err.to_string()),
        }
    };
    let filters = match launch::filters_for(config.plan.seccomp) {
        Ok(filters) => filters,
        Err(reason) => return fail(dir, &mut state, &mut report, 125, &reason),
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let (fail_r, fail_w) = pipe()?;
    // Held open by this process alone, until it ends: the init sees the
    // end when it must know whether its supervisor still lives.
    let (alive_r, alive_w) = pipe()?;

    let mut stack = vec![0u8; 1 << 20];
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNET;
    let child_config = config.clone();
    // The supervisor's ends, which the init's copy of every descriptor
    // would otherwise keep open: with them closed, the init reads an end
    // of file where the supervisor died, and the engine reading `report`
    // sees its end when the supervisor's goes.
    use std::os::fd::AsRawFd;
    let ours = [
        go_w.as_raw_fd(),
        out_r.as_raw_fd(),
        err_r.as_raw_fd(),
        fail_r.as_raw_fd(),
        report.as_raw_fd(),
        alive_w.as_raw_fd(),
    ];
    let callback = Box::new(|| {
        for fd in ours {
            // SAFETY: the child's copies of the supervisor's descriptors,
            // which nothing in the child uses.
            unsafe { libc::close(fd) };
        }
        init(
            &child_config,
            prepared.as_ref(),
            &filters,
            InitPipes {
                out: &out_w,
                err: &err_w,
                go: &go_r,
                fail: &fail_w,
                alive: &alive_r,
            },
        )
    });
    // SAFETY: this process is single-threaded, and the child gets its own
    // copy of memory (no CLONE_VM) and its own stack.
    let child = unsafe { nix::sched::clone(callback, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| format!("clone: {}", e.desc()))?;
    drop((out_w, err_w, go_r, fail_w, alive_r));
    // The init has its own copies of the prepared mounts.
    drop(prepared);
    // The init is recorded at once: a look from now on sees it (running,
    // though its command has not started until `started_ms` is set), and
    // were this supervisor killed, finds what to kill.
    state.init_pid = Some(child.as_raw() as u32);
    state.init_start = start_ticks(child.as_raw() as u32);
    if let Err(e) = write_state(dir, &state) {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(child, None);
        return fail(
            dir,
            &mut state,
            &mut report,
            125,
            &format!("state.json: {e}"),
        );
    }

    let setup = (|| -> Result<(), String> {
        let proc = PathBuf::from(format!("/proc/{child}"));
        if config.ids.rootless {
            fs::write(proc.join("setgroups"), "deny").map_err(|e| format!("setgroups: {e}"))?;
        }
        fs::write(proc.join("uid_map"), config.ids.uid_map())
            .map_err(|e| format!("uid_map: {e}"))?;
        fs::write(proc.join("gid_map"), config.ids.gid_map())
            .map_err(|e| format!("gid_map: {e}"))?;
        Ok(())
    })();
    if let Err(message) = setup {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(child, None);
        return fail(dir, &mut state, &mut report, 125, &message);
    }
    let mut go = File::from(go_w);
    go.write_all(b"g")
        .map_err(|e| format!("release the init: {e}"))?;
    // The init builds its root meanwhile; it waits for this second byte
    // before it makes its cgroup namespace (rooted where it then is).
    if let Some(cgroup) = &cgroup
        && let Err(e) = cgroup.add(child.as_raw() as u32)
    {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(child, None);
        return fail(dir, &mut state, &mut report, 125, &e.to_string());
    }
    go.write_all(b"c")
        .map_err(|e| format!("release the init: {e}"))?;
    drop(go);
    let mut failure = String::new();
    let _ = File::from(fail_r).read_to_string(&mut failure);
    if !failure.is_empty() {
        let _ = waitpid(child, None);
        let (status, message) = failure
            .split_once('\t')
            .map(|(s, m)| (s.parse().unwrap_or(125), m.to_string()))
            .unwrap_or((125, failure.clone()));
        if status == 126 || status == 127 {
            // The command could not run: the container's init started
            // and ended at once, with the reason on its stderr (as the
            // simulator shows it).
            state.init_pid = Some(child.as_raw() as u32);
            state.started_ms = Some(now_ms());
            if let Ok(mut log) = LogWriter::open(dir, config.log) {
                log.write(now_ms(), Stream::Stderr, format!("{message}\n").as_bytes());
                log.finish(now_ms());
            }
            state.exit = Some(ExitStatus::Code(status));
            state.finished_ms = Some(now_ms());
            write_state(dir, &state).map_err(|e| format!("state.json: {e}"))?;
            let _ = writeln!(report, "exited\t{child}\t{status}");
            drop(report);
            if config.auto_remove {
                retire(dir, cgroup.as_ref());
            }
            return Ok(());
        }
        return fail(dir, &mut state, &mut report, status, &message);
    }

    let pid = child.as_raw() as u32;
    state.started_ms = Some(now_ms());
    write_state(dir, &state).map_err(|e| format!("state.json: {e}"))?;
    let _ = writeln!(report, "ok\t{pid}");
    // `report` stays open until the end: its closing tells the engine
    // (if it still listens) that the container has ended.

    copy_console(dir, config.log, out_r, err_r);
    let exit = loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => break ExitStatus::Code(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                break ExitStatus::Signaled(
                    signal
                        .as_str()
                        .trim_start_matches("SIG")
                        .parse()
                        .unwrap_or(anchorage_shared::process::Signal::Kill),
                );
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("wait for the init: {}", e.desc())),
        }
    };
    state.exit = Some(exit);
    state.finished_ms = Some(now_ms());
    state.oom_killed = cgroup
        .as_ref()
        .and_then(|c| c.usage().ok())
        .is_some_and(|usage| usage.oom_kill > 0);
    write_state(dir, &state).map_err(|e| format!("state.json: {e}"))?;
    // The end is recorded: whoever waits may go on while we clean up (an
    // exited `--rm` container is listed nowhere from now on).
    drop(report);
    if config.auto_remove {
        retire(dir, cgroup.as_ref());
    }
    Ok(())
}

/// Where removed containers leave their record, console and state for an
/// attached `anchorage run --rm` to read its ending from.
pub fn retired_dir(containers: &Path) -> PathBuf {
    containers.join(".removed")
}

/// `--rm`: the container goes (cgroup, writable layer, mount points), but
/// its record, console and state move to `containers/.removed/ID` for
/// whoever follows it; the engine deletes them once read, or when old.
pub fn retire(dir: &Path, cgroup: Option<&Cgroup>) {
    if let Some(cgroup) = cgroup {
        let _ = cgroup.destroy();
    }
    // The image's root, attached in the supervisor's mount namespace:
    // detached first, so nothing below removes the image's files.
    let _ = nix::mount::umount2(&dir.join("lower"), nix::mount::MntFlags::MNT_DETACH);
    for heavy in ["upper", "work", "merged"] {
        let _ = crate::tarball::store::remove_tree(&dir.join(heavy));
    }
    let (Some(containers), Some(id)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let retired = retired_dir(containers);
    let _ = fs::create_dir_all(&retired);
    if fs::rename(dir, retired.join(id)).is_err() {
        let _ = crate::tarball::store::remove_tree(dir);
    }
}

/// Records and reports a container that did not start.
fn fail(
    dir: &Path,
    state: &mut RunState,
    report: &mut File,
    status: i32,
    message: &str,
) -> Result<(), String> {
    // The init, if cloned, never ran the container's command.
    state.init_pid = None;
    state.init_start = None;
    state.started_ms = None;
    state.exit = Some(ExitStatus::Code(status));
    state.error = Some(message.to_string());
    state.finished_ms = Some(now_ms());
    write_state(dir, state).map_err(|e| format!("state.json: {e}"))?;
    let _ = writeln!(report, "err\t{status}\t{message}");
    Ok(())
}

/// Removes a container's cgroup (killing what is left in it) and files.
pub fn remove_container(dir: &Path, cgroup: Option<&Cgroup>) {
    if let Some(cgroup) = cgroup {
        let _ = cgroup.destroy();
    }
    let _ = crate::tarball::store::remove_tree(dir);
}

/// Copies the container's output into its console log until both
/// streams end (when the init has exited, the kernel has killed the rest
/// of its pid namespace and their ends close). Memory stays constant (a
/// read buffer, and at most one unfinished line per stream), and each byte
/// is looked at once. Without a log (a full disk) the output is still read,
/// so the container never blocks on it.
fn copy_console(dir: &Path, options: LogOptions, out: OwnedFd, err: OwnedFd) {
    let mut log = LogWriter::open(dir, options).ok();
    let mut streams = vec![(out, Stream::Stdout), (err, Stream::Stderr)];
    let mut buf = vec![0u8; 64 << 10];
    while !streams.is_empty() {
        let mut fds: Vec<PollFd> = streams
            .iter()
            .map(|(fd, _)| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        if nix::poll::poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|p| p.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut ended = Vec::new();
        for (index, (fd, stream)) in streams.iter().enumerate() {
            if !ready[index] {
                continue;
            }
            match nix::unistd::read(fd.as_fd(), &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EBADF) => ended.push(index),
                Ok(n) => {
                    if let Some(log) = &mut log {
                        log.write(now_ms(), *stream, &buf[..n]);
                    }
                }
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(_) => ended.push(index),
            }
        }
        if let Some(log) = &mut log {
            log.flush();
        }
        for index in ended.into_iter().rev() {
            streams.remove(index);
        }
    }
    if let Some(log) = &mut log {
        log.finish(now_ms());
    }
}

/// The container's init, in its new namespaces: waits to be let go, sets
/// the container up and execs; on failure writes `STATUS\tMESSAGE` on
/// the failure pipe and exits.
/// The init's ends of the pipes to its supervisor: its stdout and
/// stderr, the go-ahead bytes, the report of a failure, and the pipe whose
/// end says the supervisor has gone.
struct InitPipes<'a> {
    out: &'a OwnedFd,
    err: &'a OwnedFd,
    go: &'a OwnedFd,
    fail: &'a OwnedFd,
    alive: &'a OwnedFd,
}

fn init(
    config: &LaunchConfig,
    prepared: Option<&Prepared>,
    filters: &[super::seccomp::Installable],
    pipes: InitPipes<'_>,
) -> isize {
    let InitPipes {
        out,
        err,
        go,
        fail,
        alive,
    } = pipes;
    let report = |status: i32, message: String| -> isize {
        let _ = nix::unistd::write(fail, format!("{status}\t{message}").as_bytes());
        status as isize
    };
    // stdin from /dev/null; stdout and stderr to the supervisor.
    let null = match File::open("/dev/null") {
        Ok(null) => null,
        Err(e) => return report(125, format!("open /dev/null: {e}")),
    };
    if nix::unistd::dup2_stdin(&null).is_err()
        || nix::unistd::dup2_stdout(out).is_err()
        || nix::unistd::dup2_stderr(err).is_err()
    {
        return report(125, "set up stdio".into());
    }
    // Should the supervisor die before the first byte, so do we (set
    // again below: a change of uid clears it).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(go.as_fd(), &mut byte), Ok(1)) {
        return report(125, "the supervisor went away".into());
    }
    // Root of the new user namespace, now that it has an id map.
    let root_gid = nix::unistd::Gid::from_raw(0);
    let root_uid = nix::unistd::Uid::from_raw(0);
    if let Err(e) = nix::unistd::setresgid(root_gid, root_gid, root_gid) {
        return report(125, format!("setresgid: {}", e.desc()));
    }
    if !config.ids.rootless {
        let _ = nix::unistd::setgroups(&[]);
    }
    if let Err(e) = nix::unistd::setresuid(root_uid, root_uid, root_uid) {
        return report(125, format!("setresuid: {}", e.desc()));
    }
    // Should the supervisor die, so does the init, and with it the pid
    // namespace. Had it died between the first setting and this one, the
    // second byte below never comes (its end is closed here).
    // SAFETY: prctl with an integer argument.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) } != 0 {
        return report(125, "prctl(PR_SET_PDEATHSIG)".into());
    }
    // Had the supervisor died since the uid change, no signal comes: its
    // end of `alive` tells.
    let mut fds = [PollFd::new(alive.as_fd(), PollFlags::POLLIN)];
    if nix::poll::poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0) {
        return report(125, "the supervisor went away".into());
    }
    let mut kernel = Linux;
    // The second byte: the supervisor has put us in our cgroup.
    let in_cgroup = || matches!(nix::unistd::read(go.as_fd(), &mut [0u8; 1]), Ok(1));
    match launch::setup(&mut kernel, &config.plan, prepared, filters, in_cgroup) {
        Ok(program) => {
            let error = launch::exec(&mut kernel, &program, &config.plan);
            report(error.status, error.to_string())
        }
        Err(error) => report(error.status, error.to_string()),
    }
}
