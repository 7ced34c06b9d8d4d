//! Simulated processes: the process table's entries and the programs they
//! run, each a small state machine the kernel steps as time passes.

use crate::engine::Stream;
use crate::process::{ExitStatus, Pid, ProcessState};

use super::namespace::NsSet;

/// Resident memory of the simulated programs, in bytes: the sizes a static
/// multi-call userland shows in `ps` on a real host, rounded.
pub(crate) mod rss {
    pub const HOST_INIT: u64 = 9 << 20;
    pub const ENGINE: u64 = 14 << 20;
    pub const SHELL: u64 = 640 << 10;
    pub const TOOL: u64 = 256 << 10;
}

/// Address space (`VmSize`) of the simulated programs at their start, in
/// kB. The workshop's multi-call `toolbox` maps the same 3124 kB for every
/// applet (`sleep`, `sh`, `memhog` before it touches anything: measured
/// in a real container on 2026-12-04; it grows with the binary, so the
/// fidelity scenarios leave VSZ out); the engine is `anchorage serve`
/// as measured on this machine with its four threads (each with its
/// stack and malloc arena). The host's init is of the order systemd 252
/// has (its libraries and mapped journal); that one is not measured here,
/// since this machine's init is not systemd.
pub(crate) mod vsz {
    pub const HOST_INIT: u64 = 163_840;
    pub const ENGINE: u64 = 234_336;
    pub const TOOLBOX: u64 = 3_124;
}

/// CPU time an instant command takes to run, in microseconds.
pub(crate) const INSTANT_COMMAND_CPU_USEC: u64 = 600;

/// How fast `memhog` touches memory: bytes per quantum (400 MiB/s).
pub(crate) const MEMHOG_BYTES_PER_QUANTUM: u64 = 4 << 20;

/// Where a process's standard output or error goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    /// The container's console, one of its two streams: its log. The init
    /// and its descendants write here.
    Console(Stream),
    /// The terminal of whoever started it (`anchorage exec`, a command on
    /// the host's terminal), one of its two streams: shown there, not
    /// logged.
    Terminal(Stream),
    /// A file, by absolute path in the process's mount namespace, and
    /// where the next write goes: `None` for `O_APPEND` (`>>`), the end.
    File { path: String, at: Option<usize> },
    /// A cgroup's control file (`cpu.max`...): each write is parsed and
    /// takes effect.
    Control { cgroup: String, file: String },
}

/// One simulated process.
#[derive(Debug)]
pub(crate) struct SimProcess {
    pub pid: Pid,
    pub ppid: Pid,
    pub ns_pids: Vec<Pid>,
    /// The pid namespaces it is in, the host's first.
    pub pid_ns_chain: Vec<u64>,
    pub argv: Vec<String>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    /// Its working directory, absolute in its mount namespace.
    pub cwd: String,
    /// Its root (`chroot`), absolute in its mount namespace: `/` unless
    /// it changed it.
    pub root: String,
    /// Its uid and gid on the host.
    pub uid: u32,
    pub gid: u32,
    pub container: Option<String>,
    pub cgroup: String,
    pub ns: NsSet,
    pub program: Program,
    pub state: ProcessState,
    pub exit: Option<ExitStatus>,
    pub rss: u64,
    /// The memory it took since its program started (a hog's pages, an
    /// applet's buffered lines): what its address space grew by.
    pub held: u64,
    pub cpu_usec: u64,
    /// When it was forked, by the simulated clock (exec keeps it).
    pub started_ms: u64,
    /// Its file descriptors.
    pub fds: super::fd::FdTable,
}

impl SimProcess {
    /// Whether this process is the init (PID 1) of a pid namespace other
    /// than the host's.
    pub fn is_namespace_init(&self) -> bool {
        self.ns_pids.len() > 1 && self.ns_pids.last() == Some(&1)
    }

    /// The pid namespace it was born into.
    pub fn own_pid_ns(&self) -> u64 {
        *self
            .pid_ns_chain
            .last()
            .expect("every process has a pid namespace")
    }

    /// Its pid as seen from a pid namespace, if it is visible there.
    pub fn pid_in(&self, pid_ns: u64) -> Option<Pid> {
        self.pid_ns_chain
            .iter()
            .position(|ns| *ns == pid_ns)
            .map(|level| self.ns_pids[level])
    }

    /// The value of an environment variable.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|pair| {
            pair.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
    }

    /// Its address space in kB (`VmSize`, `ps`'s VSZ): its program's
    /// mappings and what it took since; a zombie has none.
    pub fn vsz_kb(&self) -> u64 {
        if self.state == ProcessState::Zombie {
            return 0;
        }
        let base = match self.program {
            Program::HostInit => vsz::HOST_INIT,
            Program::Engine | Program::Verb(_) => vsz::ENGINE,
            _ => vsz::TOOLBOX,
        };
        base + self.held.div_ceil(1024)
    }

    /// The command name, as `/proc/PID/comm` has it: the kernel takes it
    /// from the path it executed, which is argv[0] here but for a login
    /// shell's leading `-`.
    pub fn comm(&self) -> String {
        let first = self.argv.first().map_or("", String::as_str);
        let name = first.rsplit('/').next().unwrap_or(first);
        let name = name.strip_prefix('-').unwrap_or(name);
        name.chars().take(15).collect()
    }
}

/// What a program is doing.
#[derive(Debug)]
pub(crate) enum Program {
    /// The host's init: it reaps orphans and otherwise sleeps.
    HostInit,
    /// The engine's own process on the host, parent of every container init.
    Engine,
    /// A login shell on the host that the simulated terminal runs commands
    /// from; it reaps its children when the terminal has read their status.
    HostShell,
    /// `sleep`: wakes and exits at `until_ms` (`None`: `sleep infinity`).
    Sleep { until_ms: Option<u64> },
    /// `sh`: the shared interpreter, as a future the kernel steps.
    Shell(Box<super::shell::ShellTask>),
    /// `cat` with nothing to open: standard input to standard output,
    /// as it comes, until its end.
    Copy,
    /// A namespace tool that forked its command (`nsenter`, `unshare`):
    /// it waits for it and exits with its status.
    WaitChild { child: Pid },
    /// A command that runs to completion in one step (`ls`, `cat`, `ps`...):
    /// it runs at its first step, so it sees the system as it is then.
    Instant,
    /// A command that has done its work: it exits at its next step.
    Exiting { code: i32 },
    /// `execve` failed: the child reports why and exits at its first step.
    ExecFailed { message: String, code: i32 },
    /// `memhog SIZE [SECONDS]`: touches `target` bytes, then holds them.
    MemHog {
        target: u64,
        touched: u64,
        /// How long to hold it once touched (`None`: until killed).
        hold_ms: Option<u64>,
        hold_until: Option<u64>,
    },
    /// `cpuburn [SECONDS]`: spins on a CPU until `until_ms`.
    CpuBurn {
        until_ms: Option<u64>,
        started_ms: u64,
    },
    /// `forkbomb`: every copy forks another copy, every quantum, for ever.
    ForkBomb { complained: bool },
    /// `anchorage` on the host: a verb the terminal carries out.
    Verb(Box<super::login::Verb>),
}

impl Program {
    /// The memory a program starts with.
    pub fn initial_rss(&self) -> u64 {
        match self {
            Program::HostInit => rss::HOST_INIT,
            Program::Engine => rss::ENGINE,
            Program::Shell(_) | Program::HostShell => rss::SHELL,
            _ => rss::TOOL,
        }
    }

    /// Whether the program has a handler for catchable signals. The host's
    /// daemons and login shell do; none of the workshop programs install
    /// one, so as a namespace's init they ignore every signal but SIGKILL
    /// from an ancestor namespace.
    pub fn handles_signals(&self) -> bool {
        matches!(
            self,
            Program::HostInit | Program::Engine | Program::HostShell
        ) || matches!(self, Program::Shell(task) if task.login)
    }

    /// The engine, init and the login shell (running a line or not):
    /// `oom_score_adj` -1000.
    pub fn exempt_from_oom(&self) -> bool {
        self.handles_signals()
    }

    /// Whether it wants a CPU this quantum.
    pub fn runnable(&self) -> bool {
        matches!(
            self,
            Program::CpuBurn { .. } | Program::ForkBomb { .. } | Program::Instant
        ) || matches!(self, Program::MemHog { target, touched, .. } if touched < target)
            || matches!(self, Program::Shell(task) if !task.waiting)
    }

    /// How much of a quantum it would use: spinners all of it, a command
    /// that just runs through a little.
    pub fn cpu_want(&self, quantum_usec: u64) -> u64 {
        match self {
            Program::Instant | Program::Shell(_) if self.runnable() => INSTANT_COMMAND_CPU_USEC,
            _ if self.runnable() => quantum_usec,
            _ => 0,
        }
    }

    pub fn state(&self) -> ProcessState {
        if self.runnable() {
            ProcessState::Running
        } else {
            ProcessState::Sleeping
        }
    }
}

pub(crate) use crate::userland::{MAX_DURATION_MS, parse_duration_ms};
