//! The engine interface: the seam between what a container *is* (the model)
//! and what runs it. The simulated kernel ([`crate::sim::SimEngine`]) and the
//! real runtime (in the `anchorage` binary) both implement [`Engine`]: the
//! same [`Command`]s in, the same [`Event`]s and [`HostSnapshot`]s out. The UI,
//! the lessons' checks and the scenario tests see nothing else.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cgroup::CgroupLimits;
use crate::chunk::Chunk;
use crate::container::{ContainerSpec, SpecError};
use crate::host::{EngineInfo, HostSnapshot};
use crate::namespace::NamespaceId;
use crate::process::{ExitStatus, Pid, Signal};

/// What a user (or a lesson, or a test) asks an engine to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Create a container and start it (`anchorage run`).
    Run { spec: ContainerSpec },
    /// Create a container without starting it.
    Create { spec: ContainerSpec },
    /// Start a created container.
    Start { container: String },
    /// Send SIGTERM to the init, then SIGKILL after `timeout_ms`.
    Stop { container: String, timeout_ms: u64 },
    /// Send a signal to the init.
    Kill { container: String, signal: Signal },
    /// Remove a container; `force` kills it first if it runs.
    Remove { container: String, force: bool },
    /// Run another process in a running container's namespaces and cgroup.
    Exec {
        container: String,
        argv: Vec<String>,
    },
    /// Change a container's cgroup limits while it runs.
    SetLimits {
        container: String,
        limits: CgroupLimits,
    },
    /// Start `argv` (a shell when empty) in a running container on a new
    /// terminal (`exec -it`): its output comes as [`Event::TerminalOutput`].
    OpenTerminal {
        container: String,
        #[serde(default)]
        argv: Vec<String>,
        size: TerminalSize,
    },
    /// Keys typed on a terminal, as the bytes a terminal sends (`\r` for
    /// Enter, `\u{3}` for Ctrl-C: the terminal turns it into SIGINT).
    TerminalInput { terminal: u64, data: String },
    /// The terminal's window changed size (its processes get SIGWINCH).
    ResizeTerminal { terminal: u64, size: TerminalSize },
    /// Hang up a terminal: its processes get SIGHUP.
    CloseTerminal { terminal: u64 },
}

/// A terminal's size in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSize {
    pub cols: u16,
    pub rows: u16,
}

impl TerminalSize {
    /// Whether a terminal can have this size (1 to 1000 cells each way).
    pub fn check(self) -> Result<TerminalSize, EngineError> {
        if (1..=1000).contains(&self.cols) && (1..=1000).contains(&self.rows) {
            Ok(self)
        } else {
            Err(EngineError::InvalidSpec(format!(
                "a terminal of {}x{} cells cannot be: give 1 to 1000 columns and rows",
                self.cols, self.rows
            )))
        }
    }
}

impl Default for TerminalSize {
    fn default() -> Self {
        TerminalSize { cols: 80, rows: 24 }
    }
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Something that happened on the host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    ContainerCreated {
        id: String,
        name: String,
    },
    ContainerStarted {
        id: String,
        init_pid: Pid,
        namespaces: Vec<NamespaceId>,
    },
    ProcessStarted {
        pid: Pid,
        /// Its parent's host pid.
        #[serde(default)]
        ppid: Pid,
        /// Its pid at each pid-namespace level, the host's first.
        ns_pids: Vec<Pid>,
        argv: Vec<String>,
        container: Option<String>,
    },
    ProcessExited {
        pid: Pid,
        ns_pids: Vec<Pid>,
        status: ExitStatus,
        container: Option<String>,
    },
    /// A fork was refused: the cgroup is at `pids.max`.
    ForkFailed {
        pid: Pid,
        cgroup: String,
        container: Option<String>,
    },
    /// The OOM killer killed a process to keep a cgroup under `memory.max`.
    OomKill {
        pid: Pid,
        cgroup: String,
        container: Option<String>,
    },
    /// A process wrote to stdout or stderr.
    Output {
        container: Option<String>,
        pid: Pid,
        stream: Stream,
        data: Chunk,
    },
    /// Output that was not passed on: it came faster than it could be
    /// shown (`rotated` false: a container's console keeps it, and
    /// `anchorage logs` has it), or its log rotated past it before it was
    /// read (`rotated` true: gone).
    OutputSkipped {
        container: Option<String>,
        pid: Pid,
        bytes: u64,
        rotated: bool,
    },
    ContainerExited {
        id: String,
        status: ExitStatus,
        oom_killed: bool,
    },
    LimitsChanged {
        id: String,
        limits: CgroupLimits,
    },
    ContainerRemoved {
        id: String,
    },
    /// A terminal was opened: `pid` is its first process.
    TerminalOpened {
        terminal: u64,
        container: String,
        pid: Pid,
    },
    /// What a terminal's processes wrote to it (its echo of typed keys
    /// included), as the terminal shows it: escape sequences and all.
    TerminalOutput {
        terminal: u64,
        data: Chunk,
    },
    /// A terminal's first process ended, and the terminal with it.
    TerminalExited {
        terminal: u64,
        status: ExitStatus,
    },
    /// An image upload under way: `done` of `total` bytes received
    /// (`unpacking` false) or unpacked (`unpacking` true).
    ImageImport {
        file: String,
        unpacking: bool,
        done: u64,
        total: Option<u64>,
    },
    /// An uploaded image is in the store.
    ImageImported {
        id: String,
        names: Vec<String>,
    },
    /// An upload was refused: nothing of it was kept.
    ImageImportFailed {
        file: String,
        reason: String,
    },
}

impl Event {
    /// The terminal an event is about: it goes only to the client that
    /// opened that terminal.
    pub fn terminal(&self) -> Option<u64> {
        match self {
            Event::TerminalOpened { terminal, .. }
            | Event::TerminalOutput { terminal, .. }
            | Event::TerminalExited { terminal, .. } => Some(*terminal),
            _ => None,
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn pids(ns_pids: &[Pid]) -> String {
    match ns_pids {
        [host] => format!("pid {host}"),
        [host, .., inner] => format!("pid {host} (pid {inner} inside)"),
        [] => "pid ?".into(),
    }
}

impl fmt::Display for Event {
    /// One line for an event log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::ContainerCreated { id, name } => {
                write!(f, "container {name} ({}) created", short(id))
            }
            Event::ContainerStarted { id, init_pid, .. } => {
                write!(
                    f,
                    "container {} started: init is host pid {init_pid}",
                    short(id)
                )
            }
            Event::ProcessStarted { ns_pids, argv, .. } => {
                write!(f, "{} started: {}", pids(ns_pids), argv.join(" "))
            }
            Event::ProcessExited {
                ns_pids, status, ..
            } => {
                write!(f, "{} {status}", pids(ns_pids))
            }
            Event::ForkFailed { pid, cgroup, .. } => write!(
                f,
                "fork by pid {pid} refused (EAGAIN): {cgroup} is at pids.max"
            ),
            Event::OomKill { pid, cgroup, .. } => {
                write!(f, "OOM killer killed pid {pid}: {cgroup} hit memory.max")
            }
            Event::Output {
                pid, stream, data, ..
            } => {
                let tag = match stream {
                    Stream::Stdout => "out",
                    Stream::Stderr => "err",
                };
                write!(f, "pid {pid} {tag}: {}", data.text().trim_end())
            }
            Event::OutputSkipped {
                pid,
                bytes,
                rotated,
                ..
            } => {
                let size = crate::cgroup::format_size(*bytes);
                if *rotated {
                    write!(
                        f,
                        "pid {pid}: {size} of output rotated out of the log before it was read"
                    )
                } else {
                    write!(
                        f,
                        "pid {pid}: {size} of output not shown here (`anchorage logs` has a container's console)"
                    )
                }
            }
            Event::ContainerExited {
                id,
                status,
                oom_killed,
            } => {
                write!(f, "container {} {status}", short(id))?;
                if *oom_killed {
                    f.write_str(" after an OOM kill")?;
                }
                Ok(())
            }
            Event::LimitsChanged { id, limits } => write!(
                f,
                "container {} limits: memory.max {}, pids.max {}, cpu.max {}",
                short(id),
                limits
                    .memory_max
                    .map_or("max".into(), crate::cgroup::format_size),
                limits.pids_max.map_or("max".into(), |n| n.to_string()),
                limits.cpu_max
            ),
            Event::ContainerRemoved { id } => write!(f, "container {} removed", short(id)),
            Event::TerminalOpened {
                terminal,
                container,
                pid,
            } => write!(
                f,
                "terminal {terminal} opened in container {}: pid {pid}",
                short(container)
            ),
            Event::TerminalOutput { terminal, data } => {
                write!(f, "terminal {terminal}: {} bytes", data.len())
            }
            Event::TerminalExited { terminal, status } => {
                write!(f, "terminal {terminal} closed: {status}")
            }
            Event::ImageImport {
                file,
                unpacking,
                done,
                total,
            } => {
                let verb = if *unpacking { "unpacking" } else { "receiving" };
                match total {
                    Some(total) if *total > 0 => write!(
                        f,
                        "{verb} {file}: {}%",
                        (done.saturating_mul(100) / total).min(100)
                    ),
                    _ => write!(f, "{verb} {file}: {}", crate::cgroup::format_size(*done)),
                }
            }
            Event::ImageImported { id, names } => {
                write!(f, "image {} imported: {}", names.join(", "), short(id))
            }
            Event::ImageImportFailed { file, reason } => {
                write!(f, "image upload {file} refused: {reason}")
            }
        }
    }
}

/// A line a container's processes wrote, as `anchorage logs` shows it:
/// with its newline, or a piece of a longer line (`partial`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// When, in milliseconds of the engine's clock.
    pub at_ms: u64,
    pub stream: Stream,
    pub data: Chunk,
    /// Whether the line goes on in the next record (it was longer than
    /// 16 KiB, or its stream ended before its newline).
    #[serde(default)]
    pub partial: bool,
}

/// Where a read of a container's log stopped: the position of the next
/// record, counted in bytes since the log began (rotation keeps counting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LogCursor(pub u64);

/// Which of a container's log records to read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    /// Only records written at or after this time (the engine's clock).
    pub since_ms: Option<u64>,
    /// Only the last this many lines (of those since `since_ms`); a line
    /// cut into partial pieces counts once.
    pub tail: Option<usize>,
    /// Only what comes after an earlier read (`logs -f`).
    pub after: Option<LogCursor>,
    /// Nothing written after this point (where the log ended when `logs`
    /// began: a container writing fast must not keep it reading forever).
    #[serde(default)]
    pub until: Option<LogCursor>,
    /// About this many bytes at most; at least one record.
    pub max_bytes: usize,
}

impl Default for LogQuery {
    fn default() -> Self {
        LogQuery {
            since_ms: None,
            tail: None,
            after: None,
            until: None,
            max_bytes: 1 << 20,
        }
    }
}

/// Records read from a log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogBatch {
    pub lines: Vec<LogLine>,
    /// Where the next read starts.
    pub next: LogCursor,
    /// Where the log ended when it was read.
    #[serde(default)]
    pub end: LogCursor,
    /// Whether more is there to read now.
    pub more: bool,
    /// Bytes that rotated out of the log before they could be read.
    pub skipped: u64,
}

/// Whose output a client cannot take more of, for now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputSource {
    Terminal(u64),
    /// A process started by `exec`, by its host pid.
    Process(Pid),
}

/// A command an engine could not carry out. Each says what was wrong and
/// what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum EngineError {
    #[error("no such container `{0}`: `anchorage ps -a` lists the containers")]
    NoSuchContainer(String),
    #[error("no such image `{0}`: `anchorage images` lists the images; `workshop` is built in")]
    NoSuchImage(String),
    #[error("the name `{0}` is already in use: choose another name or remove that container")]
    NameInUse(String),
    #[error("container `{0}` is not running: start it, or `anchorage run` a new one")]
    NotRunning(String),
    #[error("container `{0}` is already running")]
    AlreadyRunning(String),
    #[error(
        "container `{0}` is running: stop it first (`anchorage stop`), or remove it anyway with `anchorage rm -f`"
    )]
    StillRunning(String),
    #[error("{0}")]
    InvalidSpec(String),
    #[error("`{program}` cannot run: {reason}")]
    Exec { program: String, reason: String },
    #[error("the engine refused: {0}")]
    Refused(String),
}

impl From<SpecError> for EngineError {
    fn from(err: SpecError) -> Self {
        EngineError::InvalidSpec(err.to_string())
    }
}

/// A container engine: the simulated kernel, or the real runtime.
///
/// Engines are driven from one place (a server's engine thread, the
/// browser's event loop): every method takes `&mut self` or `&self`.
///
/// What may block, and for how long: only [`Engine::wait_for_activity`]
/// waits by design (as long as it is asked). Otherwise a call waits only
/// where the real engine needs a supervisor's word, and then within a
/// bound that is short when the engine serves many (a server) and longer
/// for one command on a terminal:
///
/// | call | server | terminal |
/// |---|---|---|
/// | `apply(Run / Start)`: the supervisor says whether the init runs | 250 ms, then its answer comes from a later `advance` | 30 s, then the supervisor is killed |
/// | `apply(Remove { force })` of a running container: its end recorded | 200 ms, then the supervisor is killed (1 s more for that) | 10 s, the same |
/// | any look that finds a supervisor killed: its container's cgroup emptied | until the kernel has ended its processes (at most 5 s, for one stuck in the kernel) | the same |
///
/// Everything else (`Stop`'s grace period too) returns at once, and the
/// simulated kernel never waits.
pub trait Engine {
    /// What this engine is and where it runs.
    fn info(&self) -> EngineInfo;

    /// Carries out a command and returns the events it caused at once.
    fn apply(&mut self, command: Command) -> Result<Vec<Event>, EngineError>;

    /// Lets `elapsed_ms` of time pass: the simulation advances its clock by
    /// it; the real runtime collects what happened meanwhile (exits, OOM
    /// kills) and samples usage.
    fn advance(&mut self, elapsed_ms: u64) -> Vec<Event>;

    /// The whole host, now.
    fn snapshot(&self) -> HostSnapshot;

    /// What a container's processes wrote to the console, oldest first,
    /// as far as the query asks and the log still holds.
    fn logs(&self, container: &str, query: &LogQuery) -> Result<LogBatch, EngineError>;

    /// How long nothing will happen, when the engine can know: the
    /// simulation knows its timers, so a waiting session may jump ahead.
    /// `None` (a real host: anything may happen at any time) means wait in
    /// small steps.
    fn quiet_for_ms(&self) -> Option<u64> {
        None
    }

    /// Waits at most `max_ms` of real time for something to report (a
    /// container's init ending, a process's output), returning early when
    /// there is: `Some(true)`, then `advance` collects it. `None`: this
    /// engine cannot wait on anything (the simulation's time is its own),
    /// so the caller keeps time.
    fn wait_for_activity(&mut self, max_ms: u64) -> Option<bool> {
        let _ = max_ms;
        None
    }

    /// Stops (or resumes) reading a terminal's or an exec'd process's
    /// output while its client cannot take more: the output waits in the
    /// terminal or the pipe, and a program writing a flood of it blocks, as
    /// on a slow terminal. Engines whose output costs nothing to hold (the
    /// simulation) ignore it.
    fn hold_output(&mut self, source: OutputSource, held: bool) {
        let _ = (source, held);
    }
}
