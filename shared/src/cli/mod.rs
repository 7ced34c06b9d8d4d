//! The `anchorage` container verbs (`run`, `ps`, `exec`, `kill`, `stop`,
//! `rm`, `logs`, `inspect`, `images`, `top`, `update`), parsed once here
//! with clap and carried out by a [`Session`] on any [`Engine`]: the real
//! binary on a real host, `anchorage sim` on the terminal and the browser's
//! simulated host print the same thing for the same command line.

pub mod format;
mod terminal;

use clap::{Args, Parser, Subcommand};

use crate::cgroup::{CgroupLimits, CpuMax, parse_pids_limit, parse_size};
use crate::container::{
    ContainerSpec, ContainerState, LogOptions, SecurityOptions, SpecError, Unlimited, VolumeMount,
};
use crate::engine::{Command, Engine, EngineError, Event, LogQuery, Stream};
use crate::process::{ExitStatus, Pid, Signal};

pub use terminal::{LineResult, SimTerminal};

/// The `anchorage` command line, container verbs only.
#[derive(Debug, Parser)]
#[command(
    name = "anchorage",
    about = "Containers are processes born from tarballs, anchored to namespaces, controlled by cgroups."
)]
pub struct ContainerCli {
    #[command(subcommand)]
    pub verb: Verb,
}

/// One container verb.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create a container from an image and start it
    Run(RunArgs),
    /// Create a container without starting it
    Create(RunArgs),
    /// Start created containers
    Start {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers
    Ps {
        /// Show all containers, exited ones too
        #[arg(short, long)]
        all: bool,
        /// Only show IDs
        #[arg(short, long)]
        quiet: bool,
    },
    /// Run a command in a running container's namespaces and cgroup
    Exec {
        /// Run it in the background and print nothing
        #[arg(short, long)]
        detach: bool,
        /// Not available: give the command to run instead
        #[arg(short = 'i', long, hide = true)]
        interactive: bool,
        /// Not available: give the command to run instead
        #[arg(short = 't', long, hide = true)]
        tty: bool,
        container: String,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Send a signal to a container's init (PID 1 inside)
    Kill {
        /// The signal: a name such as TERM or KILL, or a number
        #[arg(short, long, default_value = "KILL")]
        signal: Signal,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop containers: SIGTERM, then SIGKILL after a grace period
    Stop {
        /// Seconds to wait before SIGKILL
        #[arg(short, long, default_value_t = 10)]
        time: u64,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers
    Rm {
        /// Kill a running container first
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Show what a container's processes wrote to its console
    Logs {
        /// Keep printing what it writes until it exits (Ctrl-C stops)
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines (`all` for every line)
        #[arg(short = 'n', long, value_name = "N", value_parser = parse_tail)]
        tail: Option<Tail>,
        /// Only lines since a time: a duration ago (10m, 1h30m) or a time
        /// (2026-12-01T10:00:00Z, or Unix seconds)
        #[arg(long, value_name = "WHEN", value_parser = parse_since)]
        since: Option<Since>,
        /// Put the time each line was written before it (RFC 3339)
        #[arg(short, long)]
        timestamps: bool,
        container: String,
    },
    /// Show containers or images in detail, as JSON
    Inspect {
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// List images
    Images,
    /// Show a container's processes, with their pids inside and on the host
    Top { container: String },
    /// Change a running container's cgroup limits
    Update {
        #[command(flatten)]
        limits: LimitArgs,
        container: String,
    },
}

/// Cgroup limits, as `run` and `update` take them.
#[derive(Clone, Debug, Default, Args)]
pub struct LimitArgs {
    /// memory.max, such as 64m or 1g (0 for no limit)
    #[arg(short, long, value_parser = parse_memory)]
    pub memory: Option<MemoryMax>,
    /// pids.max: how many processes it may have (a new container gets 1024
    /// unless told; `max` or -1 for no limit)
    #[arg(long, value_parser = parse_pids, allow_hyphen_values = true)]
    pub pids_limit: Option<PidsMax>,
    /// cpu.max as a number of CPUs, such as 0.5 (a new container gets half
    /// the host's, at least 1, unless told; `max` for no limit)
    #[arg(long, value_parser = parse_cpus)]
    pub cpus: Option<CpuMax>,
    /// cpu.weight, from 1 to 10000 (100 is the default share)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub cpu_weight: Option<u32>,
}

impl LimitArgs {
    /// These limits applied over `base`.
    pub fn apply_to(&self, base: CgroupLimits) -> CgroupLimits {
        CgroupLimits {
            memory_max: self.memory.map_or(base.memory_max, |m| m.0),
            pids_max: self.pids_limit.map_or(base.pids_max, |p| p.0),
            cpu_max: self.cpus.unwrap_or(base.cpu_max),
            cpu_weight: self.cpu_weight.unwrap_or(base.cpu_weight),
        }
    }
}

/// A `memory.max` value: bytes, or `None` for no limit (`0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryMax(pub Option<u64>);

fn parse_memory(text: &str) -> Result<MemoryMax, String> {
    // Docker's spelling of "no limit".
    if text.trim() == "0" {
        return Ok(MemoryMax(None));
    }
    match parse_size(text).map_err(|err| err.to_string())? {
        0 => Ok(MemoryMax(None)),
        bytes if bytes < crate::container::MIN_MEMORY_BYTES => Err(format!(
            "`{text}` is below the smallest memory limit, 6m: a container's own processes need that much"
        )),
        bytes => Ok(MemoryMax(Some(bytes))),
    }
}

/// A `pids.max` value: a number, or `None` for `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidsMax(pub Option<u64>);

fn parse_pids(text: &str) -> Result<PidsMax, String> {
    parse_pids_limit(text)
        .map(PidsMax)
        .map_err(|err| err.to_string())
}

fn parse_cpus(text: &str) -> Result<CpuMax, String> {
    if text.trim() == "max" {
        return Ok(CpuMax::default());
    }
    let cpus: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of CPUs: write one such as 0.5 or 2"))?;
    CpuMax::from_cpus(cpus).map_err(|err| err.to_string())
}

/// What `run` and `create` take.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// A name for the container
    #[arg(long)]
    pub name: Option<String>,
    /// Its hostname (its own uts namespace)
    #[arg(long)]
    pub hostname: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Set an environment variable: KEY=value
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Mount a volume: NAME:/path or /host/path:/path
    #[arg(short, long = "volume", value_parser = parse_volume)]
    pub volume: Vec<VolumeMount>,
    /// Keep its console as Docker's `local` log driver does:
    /// max-size=SIZE (20m) and max-file=N (5) files
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,
    /// seccomp=unconfined runs it without the default system call filter
    #[arg(long = "security-opt", value_name = "KEY=VALUE")]
    pub security_opt: Vec<String>,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run in the background and print the container's ID
    #[arg(short, long)]
    pub detach: bool,
    /// Not available: run with -d, then `anchorage exec` into it
    #[arg(short = 'i', long, hide = true)]
    pub interactive: bool,
    /// Not available: run with -d, then `anchorage exec` into it
    #[arg(short = 't', long, hide = true)]
    pub tty: bool,
    /// The image, such as workshop
    pub image: String,
    /// The command, instead of the image's default
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn parse_volume(text: &str) -> Result<VolumeMount, String> {
    VolumeMount::parse(text).map_err(|err| err.to_string())
}

impl RunArgs {
    pub fn spec(&self) -> Result<ContainerSpec, SpecError> {
        let mut log = LogOptions::default();
        for option in &self.log_opt {
            log.set(option)?;
        }
        let mut security = SecurityOptions::default();
        for option in &self.security_opt {
            security.set(option)?;
        }
        Ok(ContainerSpec {
            name: self.name.clone(),
            image: self.image.clone(),
            command: self.command.clone(),
            hostname: self.hostname.clone(),
            env: self.env.clone(),
            volumes: self.volume.clone(),
            limits: self.limits.apply_to(CgroupLimits::default()),
            auto_remove: self.rm,
            log,
            security,
            unlimited: Unlimited {
                pids: matches!(self.limits.pids_limit, Some(PidsMax(None))),
                cpus: matches!(self.limits.cpus, Some(cpus) if cpus.quota_usec.is_none()),
            },
        })
    }
}

/// `logs --tail`: a number of lines, or every line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tail(pub Option<usize>);

fn parse_tail(text: &str) -> Result<Tail, String> {
    match text.trim() {
        "all" | "-1" => Ok(Tail(None)),
        n => n.parse().map(|n| Tail(Some(n))).map_err(|_| {
            format!("`{text}` is not a number of lines: give one such as 10, or `all`")
        }),
    }
}

/// `logs --since`: a while ago, or a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    Ago(std::time::Duration),
    /// Unix milliseconds.
    At(u64),
}

impl Since {
    /// The moment on an engine's clock, given the clock's time now and
    /// the Unix time of its zero.
    pub fn on_clock(self, now_ms: u64, epoch_ms: u64) -> u64 {
        match self {
            Since::Ago(ago) => now_ms.saturating_sub(ago.as_millis() as u64),
            Since::At(unix_ms) => unix_ms.saturating_sub(epoch_ms),
        }
    }
}

fn parse_since(text: &str) -> Result<Since, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Ok(Since::At((seconds * 1000.0) as u64));
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(Since::Ago(ago));
    }
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|since| Since::At(since.as_millis() as u64))
        .ok_or_else(|| {
            format!(
                "`{text}` is not a time: give a duration ago such as 10m or 1h30m, a time such as 2026-12-01T10:00:00Z, or Unix seconds"
            )
        })
}

/// A time on an engine's clock as RFC 3339, for `logs --timestamps`.
fn rfc3339(at_ms: u64, epoch_ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(epoch_ms + at_ms);
    humantime::format_rfc3339_millis(time).to_string()
}

/// Where a session writes what a command prints: the bytes as they are
/// (a container's output need not be text).
pub trait Output {
    fn write(&mut self, stream: Stream, bytes: &[u8]);

    /// Writes text.
    fn print(&mut self, stream: Stream, text: &str) {
        self.write(stream, text.as_bytes());
    }
}

/// Collects output in order, for tests and for the browser.
#[derive(Debug, Default)]
pub struct Transcript {
    pub lines: Vec<(Stream, String)>,
}

impl Transcript {
    /// Everything written, both streams, in order.
    pub fn text(&self) -> String {
        self.lines.iter().map(|(_, text)| text.as_str()).collect()
    }
}

impl Output for Transcript {
    fn write(&mut self, stream: Stream, bytes: &[u8]) {
        self.lines
            .push((stream, String::from_utf8_lossy(bytes).into_owned()));
    }
}

/// Lets time pass: the simulation at once, a real host in real time.
pub trait Pace {
    fn pause(&mut self, ms: u64);

    /// Whether the user asked to stop waiting (Ctrl-C) since the last
    /// call.
    fn interrupted(&mut self) -> bool {
        false
    }

    /// Whether pauses take real time. If not, a session jumps over the
    /// time in which the engine says nothing will happen.
    fn real_time(&self) -> bool {
        false
    }

    /// A terminal line starts: a per-line limit starts again.
    fn begin_line(&mut self) {}

    /// The limit, when the line now ending was stopped by it.
    fn timed_out(&self) -> Option<u64> {
        None
    }

    /// How much longer the line may wait, when it has a limit.
    fn remaining_ms(&self) -> Option<u64> {
        None
    }
}

/// How much simulated time one terminal line may wait by default (an
/// attached `anchorage run`, a `sleep`), on the page and in a script
/// piped into `anchorage sim` (`--line-timeout`).
pub const LINE_TIMEOUT_MS: u64 = 60_000;

/// Simulated time with a per-line limit: waits take no real time, and a
/// line that has waited `limit_ms` is interrupted as Ctrl-C would
/// interrupt it (an attached run detaches, its container carries on; a
/// host command is stopped). A fork bomb held at `pids.max` never ends on
/// a real kernel either: this is what keeps a script from waiting on it
/// for ever.
pub struct SimulatedTime {
    waited_ms: u64,
    limit_ms: Option<u64>,
}

impl SimulatedTime {
    /// `None`: no limit.
    pub fn new(limit_ms: Option<u64>) -> SimulatedTime {
        SimulatedTime {
            waited_ms: 0,
            limit_ms,
        }
    }
}

impl Pace for SimulatedTime {
    fn pause(&mut self, ms: u64) {
        self.waited_ms = self.waited_ms.saturating_add(ms);
    }

    fn interrupted(&mut self) -> bool {
        self.timed_out().is_some()
    }

    fn begin_line(&mut self) {
        self.waited_ms = 0;
    }

    fn timed_out(&self) -> Option<u64> {
        self.limit_ms.filter(|limit| self.waited_ms >= *limit)
    }

    fn remaining_ms(&self) -> Option<u64> {
        self.limit_ms
            .map(|limit| limit.saturating_sub(self.waited_ms))
    }
}

/// The status a shell reports for a wait cut short by Ctrl-C.
pub const INTERRUPTED: i32 = 130;

/// No pause: the simulated clock runs as fast as the machine.
pub struct Instant;

impl Pace for Instant {
    fn pause(&mut self, _ms: u64) {}
}

/// How often a waiting session lets time pass, in milliseconds.
const WAIT_STEP_MS: u64 = 10;

/// Runs container verbs on an engine.
pub struct Session<E: Engine> {
    pub engine: E,
    pace: Box<dyn Pace>,
    /// Sees every event the session's commands and waits cause (the UI's
    /// event log listens here).
    observer: Box<dyn FnMut(&Event)>,
}

impl<E: Engine> Session<E> {
    pub fn new(engine: E, pace: Box<dyn Pace>) -> Session<E> {
        Session {
            engine,
            pace,
            observer: Box::new(|_| {}),
        }
    }

    /// Sends every event to `observer` from now on.
    pub fn observe(&mut self, observer: impl FnMut(&Event) + 'static) {
        self.observer = Box::new(observer);
    }

    /// Lets time pass until something may have happened: one step, or
    /// (when time is not real) as far as the engine stays quiet.
    fn wait_step(&mut self) -> Vec<Event> {
        let ms = match self.engine.quiet_for_ms() {
            Some(quiet) if !self.pace.real_time() => quiet.max(WAIT_STEP_MS),
            _ => WAIT_STEP_MS,
        };
        // Never past what the line may still wait: `sleep infinity` is
        // stopped at the limit, not a thousand years on.
        let ms = self
            .pace
            .remaining_ms()
            .map_or(ms, |left| ms.min(left.max(WAIT_STEP_MS)));
        self.wait(ms)
    }

    /// Lets `ms` pass and returns what happened.
    pub fn wait(&mut self, ms: u64) -> Vec<Event> {
        self.pace.pause(ms);
        let events = self.engine.advance(ms);
        self.seen(&events);
        events
    }

    /// Advances the engine by time that has already passed (no pause).
    pub fn elapse(&mut self, ms: u64) -> Vec<Event> {
        let events = self.engine.advance(ms);
        self.seen(&events);
        events
    }

    /// Applies a command, showing its events to the observer.
    pub fn apply(&mut self, command: Command) -> Result<Vec<Event>, EngineError> {
        let events = self.engine.apply(command)?;
        self.seen(&events);
        Ok(events)
    }

    /// Shows events that happened outside the session's own calls to the
    /// observer.
    pub fn record(&mut self, events: &[Event]) {
        self.seen(events);
    }

    fn seen(&mut self, events: &[Event]) {
        for event in events {
            (self.observer)(event);
        }
    }

    /// Carries out a verb; returns the exit status a shell would see.
    pub fn execute(&mut self, verb: Verb, out: &mut dyn Output) -> i32 {
        match self.try_execute(verb, out) {
            Ok(status) => status,
            Err((err, status)) => {
                out.print(Stream::Stderr, &format!("Error: {err}\n"));
                status
            }
        }
    }

    fn try_execute(&mut self, verb: Verb, out: &mut dyn Output) -> Result<i32, (EngineError, i32)> {
        let fail = |status| move |err| (err, status);
        match verb {
            Verb::Run(args) | Verb::Create(args) if args.interactive || args.tty => Err((
                EngineError::InvalidSpec(
                    "-i and -t (an interactive terminal) are not available here: run it with -d, then use `anchorage exec NAME COMMAND`".into(),
                ),
                125,
            )),
            Verb::Run(args) => {
                let spec = args.spec().map_err(|e| (e.into(), 125))?;
                let events = self.apply(Command::Run { spec }).map_err(fail(125))?;
                let id = events
                    .iter()
                    .find_map(|e| match e {
                        Event::ContainerCreated { id, .. } => Some(id.clone()),
                        _ => None,
                    })
                    .expect("a run creates a container");
                if args.detach {
                    out.print(Stream::Stdout, &format!("{id}\n"));
                    return Ok(0);
                }
                Ok(self.attach(&id, events, out))
            }
            Verb::Create(args) => {
                let spec = args.spec().map_err(|e| (e.into(), 125))?;
                let events = self.apply(Command::Create { spec }).map_err(fail(125))?;
                for event in &events {
                    if let Event::ContainerCreated { id, .. } = event {
                        out.print(Stream::Stdout, &format!("{id}\n"));
                    }
                }
                Ok(0)
            }
            Verb::Start { containers } => {
                self.each(containers, out, |c| Command::Start { container: c })
            }
            Verb::Stop { time, containers } => {
                let status = self.each(containers.clone(), out, |c| Command::Stop {
                    container: c,
                    timeout_ms: time.saturating_mul(1000),
                })?;
                // `stop` returns once the containers have exited.
                let snapshot = self.engine.snapshot();
                let ids: Vec<String> = containers
                    .iter()
                    .filter_map(|c| snapshot.container(c).map(|c| c.id.clone()))
                    .collect();
                let stopped = self.wait_until(|engine| {
                    let snapshot = engine.snapshot();
                    ids.iter().all(|id| {
                        snapshot
                            .container(id)
                            .is_none_or(|c| c.state != ContainerState::Running)
                    })
                });
                if !stopped {
                    out.print(
                        Stream::Stderr,
                        "stopped waiting: SIGKILL follows when the grace period ends\n",
                    );
                    return Ok(INTERRUPTED);
                }
                Ok(status)
            }
            Verb::Kill { signal, containers } => self.each(containers, out, |c| Command::Kill {
                container: c,
                signal,
            }),
            Verb::Rm { force, containers } => self.each(containers, out, |c| Command::Remove {
                container: c,
                force,
            }),
            Verb::Exec {
                interactive, tty, ..
            } if interactive || tty => Err((
                EngineError::InvalidSpec(
                    "-i and -t (an interactive terminal) are not available here: give the command to run, as in `anchorage exec NAME ps`".into(),
                ),
                126,
            )),
            Verb::Exec {
                detach,
                container,
                command,
                ..
            } => {
                let events = self
                    .apply(Command::Exec {
                        container,
                        argv: command,
                    })
                    .map_err(fail(126))?;
                let pid = events
                    .iter()
                    .find_map(|e| match e {
                        Event::ProcessStarted { pid, .. } => Some(*pid),
                        _ => None,
                    })
                    .expect("an exec starts a process");
                if detach {
                    return Ok(0);
                }
                Ok(self.follow_process(pid, events, out))
            }
            Verb::Logs {
                follow,
                tail,
                since,
                timestamps,
                container,
            } => self.logs(&container, follow, tail, since, timestamps, out),
            Verb::Inspect { targets } => {
                let snapshot = self.engine.snapshot();
                let mut found = Vec::new();
                let mut status = 0;
                for target in &targets {
                    match format::inspect(&snapshot, target) {
                        Some(value) => found.push(value),
                        None => {
                            out.print(
                                Stream::Stderr,
                                &format!("Error: no such container or image `{target}`: `anchorage ps -a` and `anchorage images` list them\n"),
                            );
                            status = 1;
                        }
                    }
                }
                let json = serde_json::to_string_pretty(&found).expect("JSON values always encode");
                out.print(Stream::Stdout, &format!("{json}\n"));
                Ok(status)
            }
            Verb::Ps { all, quiet } => {
                out.print(
                    Stream::Stdout,
                    &format::ps(&self.engine.snapshot(), all, quiet),
                );
                Ok(0)
            }
            Verb::Images => {
                out.print(Stream::Stdout, &format::images(&self.engine.snapshot()));
                Ok(0)
            }
            Verb::Top { container } => {
                let snapshot = self.engine.snapshot();
                let c = snapshot
                    .container(&container)
                    .ok_or_else(|| (EngineError::NoSuchContainer(container.clone()), 1))?;
                if c.state != ContainerState::Running {
                    return Err((EngineError::NotRunning(c.name.clone()), 1));
                }
                out.print(Stream::Stdout, &format::top(&snapshot, &c.id));
                Ok(0)
            }
            Verb::Update { limits, container } => {
                let snapshot = self.engine.snapshot();
                let c = snapshot
                    .container(&container)
                    .ok_or_else(|| (EngineError::NoSuchContainer(container.clone()), 1))?;
                let limits = limits.apply_to(c.limits);
                self.apply(Command::SetLimits {
                    container: container.clone(),
                    limits,
                })
                .map_err(fail(1))?;
                out.print(Stream::Stdout, &format!("{container}\n"));
                Ok(0)
            }
        }
    }

    /// Applies a command to each container, printing each name as it
    /// succeeds and each error as it fails.
    fn each(
        &mut self,
        containers: Vec<String>,
        out: &mut dyn Output,
        command: impl Fn(String) -> Command,
    ) -> Result<i32, (EngineError, i32)> {
        let mut status = 0;
        for container in containers {
            match self.apply(command(container.clone())) {
                Ok(_) => {
                    out.print(Stream::Stdout, &format!("{container}\n"));
                }
                Err(err) => {
                    out.print(Stream::Stderr, &format!("Error: {err}\n"));
                    status = 1;
                }
            }
        }
        Ok(status)
    }

    /// Waits until `done`; false if the user stopped waiting first.
    fn wait_until(&mut self, mut done: impl FnMut(&E) -> bool) -> bool {
        while !done(&self.engine) {
            if self.pace.interrupted() {
                return false;
            }
            self.wait_step();
        }
        true
    }

    /// Shows a container's console until its init exits; returns the
    /// exit status (`docker run` without `-d`).
    fn attach(&mut self, id: &str, first: Vec<Event>, out: &mut dyn Output) -> i32 {
        let mut pending = first;
        // The init and what it starts: an `exec` beside it is not ours.
        let mut family = std::collections::BTreeSet::new();
        loop {
            for event in pending.drain(..) {
                match &event {
                    Event::ContainerStarted {
                        id: started,
                        init_pid,
                        ..
                    } if started == id => {
                        family.insert(*init_pid);
                    }
                    Event::ProcessStarted { pid, ppid, .. } if family.contains(ppid) => {
                        family.insert(*pid);
                    }
                    Event::Output {
                        pid, stream, data, ..
                    } if family.contains(pid) => out.write(*stream, data.as_bytes()),
                    Event::ContainerExited {
                        id: exited, status, ..
                    } if exited == id => {
                        return status.shell_code();
                    }
                    // Removed from elsewhere (`rm -f`) before its end was
                    // seen: it was killed.
                    Event::ContainerRemoved { id: removed } if removed == id => {
                        out.print(
                            Stream::Stderr,
                            &format!(
                                "container {} was removed while attached\n",
                                &id[..id.len().min(12)]
                            ),
                        );
                        return ExitStatus::Signaled(Signal::Kill).shell_code();
                    }
                    _ => {}
                }
            }
            if self.pace.interrupted() {
                out.print(
                    Stream::Stderr,
                    &format!(
                        "\ndetached from {}: it keeps running; `anchorage stop` stops it\n",
                        &id[..id.len().min(12)]
                    ),
                );
                return INTERRUPTED;
            }
            pending = self.wait_step();
        }
    }

    /// `logs`: the console as far as asked, read in batches (a long log
    /// never sits in memory whole); with `follow`, then what comes, until
    /// the container is no longer running.
    fn logs(
        &mut self,
        container: &str,
        follow: bool,
        tail: Option<Tail>,
        since: Option<Since>,
        timestamps: bool,
        out: &mut dyn Output,
    ) -> Result<i32, (EngineError, i32)> {
        let snapshot = self.engine.snapshot();
        let epoch_ms = snapshot.engine.clock_epoch_ms;
        let mut query = LogQuery {
            since_ms: since.map(|s| s.on_clock(snapshot.clock_ms, epoch_ms)),
            tail: tail.and_then(|t| t.0),
            ..LogQuery::default()
        };
        // A line's time goes before it, not before each of its pieces.
        let mut line_start = true;
        loop {
            let batch = self.engine.logs(container, &query).map_err(|e| (e, 1))?;
            if batch.skipped > 0 {
                out.print(
                    Stream::Stderr,
                    &format!(
                        "({} of output rotated out of the log before it was read)\n",
                        crate::cgroup::format_size(batch.skipped)
                    ),
                );
            }
            for line in &batch.lines {
                if timestamps && line_start {
                    out.print(line.stream, &format!("{} ", rfc3339(line.at_ms, epoch_ms)));
                }
                out.write(line.stream, line.data.as_bytes());
                line_start = !line.partial;
            }
            query.after = Some(batch.next);
            query.tail = None;
            query.since_ms = None;
            if !follow {
                // What was there when `logs` began, and no more.
                query.until.get_or_insert(batch.end);
            }
            if batch.more {
                continue;
            }
            if !follow {
                return Ok(0);
            }
            let running = self
                .engine
                .snapshot()
                .container(container)
                .is_some_and(|c| c.state == ContainerState::Running);
            if !running {
                // What it wrote before it ended is read once more.
                let batch = self.engine.logs(container, &query).map_err(|e| (e, 1))?;
                if batch.lines.is_empty() {
                    return Ok(0);
                }
                continue;
            }
            if self.pace.interrupted() {
                return Ok(0);
            }
            self.wait_step();
        }
    }

    /// Whether the user asked to stop waiting.
    pub fn interrupted(&mut self) -> bool {
        self.pace.interrupted()
    }

    /// A terminal line starts (see [`Pace::begin_line`]).
    pub fn begin_line(&mut self) {
        self.pace.begin_line();
    }

    /// The per-line limit, when it stopped the line now ending.
    pub fn timed_out(&self) -> Option<u64> {
        self.pace.timed_out()
    }

    /// Shows what a process and the processes it starts write, until it
    /// exits; returns its status.
    pub fn follow_process(&mut self, pid: Pid, first: Vec<Event>, out: &mut dyn Output) -> i32 {
        let mut pending = first;
        let mut family = std::collections::BTreeSet::from([pid]);
        loop {
            for event in pending.drain(..) {
                match &event {
                    Event::ProcessStarted {
                        pid: child, ppid, ..
                    } if family.contains(ppid) => {
                        family.insert(*child);
                    }
                    Event::Output {
                        pid: from,
                        stream,
                        data,
                        ..
                    } if family.contains(from) => out.write(*stream, data.as_bytes()),
                    Event::ProcessExited {
                        pid: exited,
                        status,
                        ..
                    } if *exited == pid => return status.shell_code(),
                    _ => {}
                }
            }
            if self.pace.interrupted() {
                return INTERRUPTED;
            }
            pending = self.wait_step();
        }
    }
}

#[cfg(test)]
mod tests;
