//! The real engine: [`Engine`] on a Linux host, with real namespaces,
//! cgroups and overlay roots.
//!
//! State lives in the data directory, so every `anchorage` command (and
//! the server) sees the same containers:
//!
//! ```text
//! DATA/containers/ID/
//!   container.json   the container as created (the model's `Container`)
//!   launch.json      what its supervisor starts (see process::shim)
//!   state.json       how the run goes, written by the supervisor
//!   reserve          room the supervisor gives up to record the end on a full disk
//!   console.log[.N]  what its processes wrote to stdout and stderr
//!   upper/ work/     the overlay's writable layer and work directory
//!   merged/ lower/   mount points (inside its supervisor's mount namespace)
//! DATA/containers/.lock      held while a container is made (and recovery runs)
//! DATA/containers/.removed/  the endings of `--rm` containers, for their `run`
//! DATA/volumes/NAME/_data   named volumes
//! ```
//!
//! Each container has a supervisor ([`shim`]) that outlives the command
//! that started it. The engine reads what the supervisors write:
//! [`Engine::advance`] turns new console lines and exits into events, and
//! [`Engine::snapshot`] reads `/proc` and cgroupfs for the rest. What a
//! crash leaves is put right as the engine opens (`recover`), and a server
//! notices a killed supervisor within a second; starts and forced removals
//! wait on a supervisor within a bound (`start`).

mod collect;
mod create;
mod exec;
mod host_view;
mod observe;
mod recover;
mod remove;
mod start;

use start::wait_gone;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, lchown};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anchorage_shared::cgroup::CgroupUsage;
use anchorage_shared::container::{Container, ContainerSpec, ContainerState};
use anchorage_shared::engine::{
    Command, Engine, EngineError, Event, LogBatch, LogQuery, OutputSource,
};
use anchorage_shared::host::{EngineInfo, EngineKind, HostSnapshot, HostView, find_container};
use anchorage_shared::plan::{self, HostPathProblem};
use anchorage_shared::process::{ExitStatus, Signal};
use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::cgroup::{self, Cgroup, Layout};
use crate::images;
use crate::namespace::idmap;
use crate::process::console::{self, LogFollower};
use crate::process::launch::{Bind, Plan};
use crate::process::shim::{self, IdMapping, LaunchConfig};
use crate::tarball::store::{ImageStore, write_atomically};

/// What the engine follows of a container between two `advance` calls.
#[derive(Default)]
struct Follow {
    /// Its console log, read up to where events were made of it.
    console: Option<LogFollower>,
    /// What of the console may still be passed on now, in bytes, when
    /// the engine's output is paced (a server), and when it was topped up.
    allowance: Option<(f64, Instant)>,
    /// Whether the last look left console output for the next.
    more: bool,
    /// Whether its exit was reported.
    exit_reported: bool,
    /// Its cgroup's path.
    cgroup: String,
    /// `oom_kill` in its cgroup's memory events at the last look.
    oom_kills: u64,
    /// The processes in its cgroup at the last look.
    pids: Vec<u32>,
    /// The processes already reported killed by the OOM killer.
    oom_victims: Vec<u32>,
    /// Kills counted whose victim is not known yet, and since when.
    unnamed_kills: Vec<Instant>,
}

/// How often the rest of the host is read (it is a look at every process).
const HOST_VIEW_EVERY: Duration = Duration::from_secs(2);

/// How often a server checks that the supervisors of running containers
/// still live.
const ORPHAN_LOOK_EVERY: Duration = Duration::from_secs(1);

/// How long a counted OOM kill waits for its victim to be seen ending
/// before it is reported with pid 0.
const OOM_VICTIM_GRACE: Duration = Duration::from_secs(2);

/// A `stop` waiting for its grace period to end.
#[derive(Debug)]
struct PendingStop {
    id: String,
    init_pid: u32,
    kill_at: Instant,
}

pub struct RealEngine {
    data: PathBuf,
    store: ImageStore,
    /// The cgroup layout, when containers get cgroups (as root).
    layout: Option<Layout>,
    /// The image store's ids (as root: the range its files belong to;
    /// rootless: the user's own).
    ids: IdMapping,
    /// Whether each container gets ids of its own, with its image and
    /// volumes mounted shifted to them (as root, where the kernel and the
    /// file system take id-mapped mounts).
    own_ids: bool,
    /// The `anchorage` binary, for supervisors.
    binary: PathBuf,
    follow: HashMap<String, Follow>,
    stops: Vec<PendingStop>,
    /// Supervisors this process started, reaped once they exit.
    shims: Vec<Child>,
    forked: Vec<nix::unistd::Pid>,
    /// Their report pipes: each closes when its supervisor ends.
    watch: Vec<OwnedFd>,
    /// Starts whose supervisor has not answered yet (a server's).
    pending_starts: Vec<start::PendingStart>,
    /// Whether `advance` waits for activity (a command on the terminal)
    /// or returns at once (a server, whose timer paces it).
    waiting: bool,
    execs: Vec<exec::ExecProcess>,
    /// The last terminal number given.
    next_terminal: u64,
    /// Whether to read the rest of the host (for a server's page), and
    /// that view as last read.
    observe_host: bool,
    host_view: Option<(Instant, Arc<HostView>)>,
    /// The running containers' cgroup usage at the last sample, by path.
    usage: HashMap<String, CgroupUsage>,
    /// Whether a supervisor's report pipe spoke since the last look.
    reported: bool,
    /// When the containers' state and cgroups were last read.
    last_full: Instant,
    /// When supervisors were last checked for being alive.
    orphan_look: Instant,
    /// How many bytes of each container's console a second become
    /// events (a server's pages need no more), or `None`: all of it (an
    /// attached `anchorage run` prints it all). The console log keeps
    /// everything either way.
    console_rate: Option<u64>,
    info: EngineInfo,
}

/// The most console output one look turns into events, per container.
const CONSOLE_BATCH: usize = 256 << 10;

/// How often, at most, an `advance` woken by exec or terminal output alone
/// also reads every container's state and cgroup.
const FULL_LOOK_EVERY: Duration = Duration::from_millis(10);

fn io_refused(what: &str) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |err| EngineError::Refused(format!("{what}: {err}"))
}

impl RealEngine {
    /// The engine for the containers in `data`, with `binary` (the
    /// `anchorage` executable) to start supervisors.
    pub fn open(data: &Path, binary: PathBuf) -> Result<RealEngine, String> {
        let root = nix::unistd::geteuid().is_root();
        let store = images::open_store(data).map_err(|e| e.to_string())?;
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let detected = cgroup::detect(&mountinfo).ok();
        let ids = if root {
            let range = idmap::for_data_dir(data).map_err(|e| e.to_string())?;
            IdMapping {
                uid_first: range.first,
                gid_first: range.first,
                count: range.count,
                rootless: false,
            }
        } else {
            IdMapping {
                uid_first: nix::unistd::getuid().as_raw(),
                gid_first: nix::unistd::getgid().as_raw(),
                count: 1,
                rootless: true,
            }
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data.join("containers"))
            .map_err(|e| format!("cannot use {}: {e}", data.join("containers").display()))?;
        let kernel = nix::sys::utsname::uname()
            .map(|u| {
                format!(
                    "{} {}",
                    u.sysname().to_string_lossy(),
                    u.release().to_string_lossy()
                )
            })
            .unwrap_or_default();
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let layout_kind = detected
            .as_ref()
            .map(Layout::kind)
            .unwrap_or(anchorage_shared::host::CgroupLayout::Unified);
        let own_ids = root && idmap::idmapped_mounts(data);
        let info = EngineInfo {
            kind: EngineKind::Real,
            capabilities: anchorage_shared::host::Capabilities {
                real_kernel: true,
                limits: root,
                terminals: true,
                uploads: true,
            },
            hostname,
            kernel,
            cgroup_layout: layout_kind,
            rootless: !root,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            memory_bytes: observe::host_memory(),
            clock_epoch_ms: 0,
            note: match (root, own_ids) {
                (true, true) => format!(
                    "real containers as root; each container's root is an unprivileged host uid range of its own (the images' files belong to {})",
                    ids.uid_first
                ),
                (true, false) => format!(
                    "real containers as root; container root is host uid {} (this file system takes no id-mapped mounts, so containers share it)",
                    ids.uid_first
                ),
                (false, _) => {
                    "real containers without root: one uid mapped, no cgroup limits".into()
                }
            },
        };
        let mut engine = RealEngine {
            data: data.to_path_buf(),
            store,
            layout: if root { detected } else { None },
            ids,
            own_ids,
            binary,
            follow: HashMap::new(),
            stops: Vec::new(),
            shims: Vec::new(),
            forked: Vec::new(),
            watch: Vec::new(),
            pending_starts: Vec::new(),
            waiting: true,
            execs: Vec::new(),
            usage: HashMap::new(),
            next_terminal: 0,
            observe_host: false,
            host_view: None,
            console_rate: None,
            reported: false,
            last_full: Instant::now(),
            orphan_look: Instant::now(),
            info,
        };
        engine.recover();
        engine.sweep_retired();
        // Start following from now: what happened before is history.
        for (dir, container) in engine.load() {
            let state = engine.compose(&dir, &container).state;
            engine.follow.insert(
                container.id.clone(),
                Follow {
                    console: Some(LogFollower::from_end(&dir)),
                    exit_reported: matches!(state, ContainerState::Exited { .. }),
                    cgroup: container.cgroup.clone(),
                    // Kills from before this engine are not news.
                    oom_kills: engine
                        .layout
                        .as_ref()
                        .and_then(|layout| Cgroup::open(layout, &container.cgroup).usage().ok())
                        .map_or(0, |usage| usage.oom_kill),
                    ..Follow::default()
                },
            );
        }
        Ok(engine)
    }

    /// Whether snapshots carry the rest of the host (other runtimes'
    /// containers, every namespace): a server's page shows it; commands on
    /// the terminal do not need it.
    pub fn set_host_view(&mut self, on: bool) {
        self.observe_host = on;
    }

    /// Whether `advance` may wait for something to happen.
    pub fn set_waiting(&mut self, waiting: bool) {
        self.waiting = waiting;
    }

    /// Paces the console output that becomes events: at most
    /// `bytes_per_second` per container (a burst of twice that), the rest
    /// passed over with an [`Event::OutputSkipped`]. The log keeps it all.
    pub fn set_console_rate(&mut self, bytes_per_second: Option<u64>) {
        self.console_rate = bytes_per_second;
    }

    pub fn store(&self) -> &ImageStore {
        &self.store
    }

    fn containers_dir(&self) -> PathBuf {
        self.data.join("containers")
    }

    /// Every container's directory and record, oldest first; an exited
    /// `--rm` container (its supervisor is removing it) is gone already.
    fn load(&self) -> Vec<(PathBuf, Container)> {
        let mut all = self.load_all();
        all.retain(|(dir, c)| {
            !(c.auto_remove && shim::read_state(dir).is_some_and(|s| s.exit.is_some()))
        });
        all
    }

    /// Every container's directory and record, those being removed too.
    fn load_all(&self) -> Vec<(PathBuf, Container)> {
        let mut all: Vec<(PathBuf, Container)> = fs::read_dir(self.containers_dir())
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        let dir = e.path();
                        let bytes = fs::read(dir.join("container.json")).ok()?;
                        let container: Container = serde_json::from_slice(&bytes).ok()?;
                        Some((dir, container))
                    })
                    .collect()
            })
            .unwrap_or_default();
        all.sort_by(|a, b| {
            a.1.created_ms
                .cmp(&b.1.created_ms)
                .then_with(|| a.1.id.cmp(&b.1.id))
        });
        all
    }

    fn find(&self, id_or_name: &str) -> Result<(PathBuf, Container), EngineError> {
        let all = self.load();
        let refs: Vec<&Container> = all.iter().map(|(_, c)| c).collect();
        let index = find_container(&refs, id_or_name)
            .ok_or_else(|| EngineError::NoSuchContainer(id_or_name.to_string()))?;
        Ok(all[index].clone())
    }

    /// The container as it is now: its record with its run's state.
    fn compose(&self, dir: &Path, record: &Container) -> Container {
        let mut container = record.clone();
        let Some(mut state) = shim::read_state(dir) else {
            container.state = ContainerState::Created;
            return container;
        };
        let init_alive = state.init_alive();
        if state.exit.is_none() && !init_alive && !state.supervisor_alive() {
            // Its supervisor died without recording the end.
            state = self.settle(dir, record, state);
        }
        container.started_ms = state.started_ms;
        container.finished_ms = state.finished_ms;
        container.reason = state.error.clone();
        container.state = match (&state.exit, init_alive) {
            (Some(status), _) => ContainerState::Exited {
                status: *status,
                oom_killed: state.oom_killed,
            },
            (None, true) => ContainerState::Running,
            // Its init has ended, and its supervisor is recording how.
            (None, false) if state.init_pid.is_some() => ContainerState::Running,
            (None, false) => ContainerState::Created,
        };
        // Its init's pid only while that process is the init: a pid being
        // reaped may soon be another process's, and must not be signalled.
        if container.state == ContainerState::Running && init_alive {
            container.init_pid = state.init_pid;
            container.namespaces = state
                .init_pid
                .map(observe::namespaces_of)
                .unwrap_or_default();
        }
        let (entries, bytes) = observe::tree_usage(&dir.join("upper"));
        container.writable_entries = entries;
        container.writable_bytes = bytes;
        container
    }

    fn running_init(&self, id_or_name: &str) -> Result<(PathBuf, Container, u32), EngineError> {
        let (dir, record) = self.find(id_or_name)?;
        let container = self.compose(&dir, &record);
        match (container.state, container.init_pid) {
            (ContainerState::Running, Some(pid)) => Ok((dir, container, pid)),
            _ => Err(EngineError::NotRunning(record.name)),
        }
    }

    /// Starts a process in a running container.
    fn exec(
        &mut self,
        container: &str,
        argv: Vec<String>,
        io: exec::Io,
    ) -> Result<Vec<Event>, EngineError> {
        if argv.is_empty() {
            return Err(EngineError::InvalidSpec(
                "exec needs a command to run, such as `ps`".into(),
            ));
        }
        let (dir, record, pid) = self.running_init(container)?;
        if record.started_ms.is_none() {
            // Its init is still building its root: nothing may join it yet.
            return Err(EngineError::Refused(format!(
                "container {} is still starting: try again in a moment",
                record.name
            )));
        }
        let launch: LaunchConfig = serde_json::from_slice(
            &fs::read(dir.join("launch.json")).map_err(io_refused("read launch.json"))?,
        )
        .map_err(|e| EngineError::Refused(format!("launch.json: {e}")))?;
        let cgroup = self
            .layout
            .as_ref()
            .map(|layout| Cgroup::open(layout, &record.cgroup));
        let process = exec::spawn(&record.id, pid, &argv, &launch, cgroup.as_ref(), io)?;
        let event = Event::ProcessStarted {
            pid: process.pid,
            ppid: 0,
            ns_pids: process.ns_pids.clone(),
            argv,
            container: Some(record.id),
        };
        self.execs.push(process);
        Ok(vec![event])
    }

    /// An open terminal, by its number.
    fn terminal(&mut self, id: u64) -> Result<&mut exec::ExecProcess, EngineError> {
        self.execs
            .iter_mut()
            .find(|p| p.terminal_id() == Some(id) && !p.finished())
            .ok_or_else(|| {
                EngineError::Refused(format!(
                    "there is no terminal {id}: it was closed (its program ended), or never opened"
                ))
            })
    }

    /// Deletes what `--rm` containers left that no one read in a minute.
    fn sweep_retired(&self) {
        let retired = shim::retired_dir(&self.containers_dir());
        let Ok(entries) = fs::read_dir(&retired) else {
            return;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(60));
            if old {
                let _ = crate::tarball::store::remove_tree(&entry.path());
            }
        }
    }
}

impl Engine for RealEngine {
    fn info(&self) -> EngineInfo {
        self.info.clone()
    }

    fn apply(&mut self, command: Command) -> Result<Vec<Event>, EngineError> {
        match command {
            Command::Run { spec } => {
                // Warm the kernel's cgroup lock while the container is made.
                let warm = self
                    .layout
                    .as_ref()
                    .map(|layout| Cgroup::open(layout, "/anchorage").warm_attach());
                let (dir, container) = self.create(spec)?;
                let mut events = vec![Event::ContainerCreated {
                    id: container.id.clone(),
                    name: container.name.clone(),
                }];
                match self.start(&dir, &container, warm) {
                    Ok(more) => events.extend(more),
                    Err(err) => {
                        self.discard(&dir, &container.cgroup);
                        self.follow.remove(&container.id);
                        return Err(err);
                    }
                }
                events.extend(self.collect());
                Ok(events)
            }
            Command::Create { spec } => {
                let (_, container) = self.create(spec)?;
                Ok(vec![Event::ContainerCreated {
                    id: container.id,
                    name: container.name,
                }])
            }
            Command::Start { container } => {
                let (dir, record) = self.find(&container)?;
                match self.compose(&dir, &record).state {
                    ContainerState::Running => Err(EngineError::AlreadyRunning(record.name)),
                    ContainerState::Exited { .. } => Err(EngineError::Refused(format!(
                        "container `{}` has exited and its pid namespace is gone: `anchorage run` a new one",
                        record.name
                    ))),
                    // Its supervisor is there already, still starting it.
                    ContainerState::Created
                        if self.starting(&record.id)
                            || shim::read_state(&dir)
                                .is_some_and(|s| s.exit.is_none() && s.supervisor_alive()) =>
                    {
                        Err(EngineError::AlreadyRunning(record.name))
                    }
                    ContainerState::Created => self.start(&dir, &record, None),
                }
            }
            Command::Stop {
                container,
                timeout_ms,
            } => {
                let (_, record, pid) = self.running_init(&container)?;
                if timeout_ms == 0 {
                    Self::signal(pid, Signal::Kill)?;
                } else {
                    Self::signal(pid, Signal::Term)?;
                    self.stops.push(PendingStop {
                        id: record.id,
                        init_pid: pid,
                        kill_at: Instant::now() + Duration::from_millis(timeout_ms),
                    });
                }
                Ok(Vec::new())
            }
            Command::Kill { container, signal } => {
                let (_, _, pid) = self.running_init(&container)?;
                Self::signal(pid, signal)?;
                Ok(Vec::new())
            }
            Command::Remove { container, force } => self.remove(&container, force),
            Command::Exec { container, argv } => self.exec(&container, argv, exec::Io::Pipes),
            Command::OpenTerminal {
                container,
                argv,
                size,
            } => {
                let size = size.check()?;
                let argv = if argv.is_empty() {
                    vec!["sh".to_string()]
                } else {
                    argv
                };
                self.next_terminal += 1;
                let id = self.next_terminal;
                let mut events = self.exec(&container, argv, exec::Io::Terminal { id, size })?;
                if let Some(Event::ProcessStarted {
                    pid,
                    container: Some(container),
                    ..
                }) = events.first().cloned()
                {
                    events.push(Event::TerminalOpened {
                        terminal: id,
                        container,
                        pid,
                    });
                }
                Ok(events)
            }
            Command::TerminalInput { terminal, data } => {
                self.terminal(terminal)?.type_keys(data.as_bytes())?;
                Ok(Vec::new())
            }
            Command::ResizeTerminal { terminal, size } => {
                let size = size.check()?;
                self.terminal(terminal)?.resize(size)?;
                Ok(Vec::new())
            }
            Command::CloseTerminal { terminal } => {
                self.terminal(terminal)?.hang_up();
                Ok(Vec::new())
            }
            Command::SetLimits { container, limits } => {
                limits
                    .validate()
                    .map_err(|e| EngineError::InvalidSpec(e.to_string()))?;
                let (dir, mut record) = self.find(&container)?;
                let Some(layout) = &self.layout else {
                    return Err(EngineError::Refused(
                        "limits need cgroups, and this host gives them to root only".into(),
                    ));
                };
                Cgroup::open(layout, &record.cgroup)
                    .apply(&limits)
                    .map_err(|e| EngineError::Refused(e.to_string()))?;
                record.limits = limits;
                write_atomically(
                    &dir.join("container.json"),
                    &serde_json::to_vec_pretty(&record).expect("containers always encode"),
                )
                .map_err(io_refused("write container.json"))?;
                Ok(vec![Event::LimitsChanged {
                    id: record.id,
                    limits,
                }])
            }
        }
    }

    fn wait_for_activity(&mut self, max_ms: u64) -> Option<bool> {
        Some(self.poll_activity(max_ms))
    }

    fn hold_output(&mut self, source: OutputSource, held: bool) {
        if let Some(process) = self.execs.iter_mut().find(|p| match source {
            OutputSource::Terminal(id) => p.terminal_id() == Some(id),
            OutputSource::Process(pid) => p.pid == pid,
        }) {
            process.hold(held);
        }
    }

    fn advance(&mut self, elapsed_ms: u64) -> Vec<Event> {
        // Time passes on its own here: wait up to `elapsed_ms` for
        // something to happen (a supervisor ending, exec output).
        let wait = if self.waiting { elapsed_ms.min(100) } else { 0 };
        self.poll_activity(wait);
        let now = Instant::now();
        let (due, waiting): (Vec<PendingStop>, Vec<PendingStop>) =
            self.stops.drain(..).partition(|s| s.kill_at <= now);
        self.stops = waiting;
        for stop in due {
            // Still the same init: the grace period is over.
            if let Ok((_, _, pid)) = self.running_init(&stop.id)
                && pid == stop.init_pid
            {
                let _ = Self::signal(pid, Signal::Kill);
            }
        }
        self.shims
            .retain_mut(|child| matches!(child.try_wait(), Ok(None)));
        let mut events = self.collect_starts();
        for process in &mut self.execs {
            events.extend(process.collect());
        }
        let joiners: Vec<u32> = self.execs.iter().map(|p| p.joiner()).collect();
        let ended = self.execs.iter().any(|p| p.finished());
        self.execs.retain(|p| !p.finished());
        // The containers' state and cgroups are read when a supervisor
        // reported, a console has more, an exec ended, or every
        // FULL_LOOK_EVERY: a flood of exec or terminal output wakes the
        // engine thousands of times a second, and each of those wakes
        // should cost only the reads of that output.
        let reported = std::mem::take(&mut self.reported);
        if reported || self.orphan_look.elapsed() >= ORPHAN_LOOK_EVERY {
            // A supervisor's pipe closed, or a second went by: any killed
            // supervisor's container is ended (another process may have
            // started it, so no pipe of ours tells).
            self.orphan_look = Instant::now();
            self.find_orphans();
        }
        let full = reported
            || ended
            || self.follow.values().any(|f| f.more)
            || self.last_full.elapsed() >= FULL_LOOK_EVERY;
        if full {
            self.last_full = Instant::now();
            events.extend(self.collect());
            self.sample_cgroups(&mut events, &joiners);
        }
        if self.observe_host
            && self
                .host_view
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= HOST_VIEW_EVERY)
        {
            let view = host_view::read(self.layout.as_ref(), "/anchorage");
            let unchanged = self.host_view.as_ref().is_some_and(|(_, v)| **v == view);
            if unchanged {
                if let Some((at, _)) = &mut self.host_view {
                    *at = Instant::now();
                }
            } else {
                self.host_view = Some((Instant::now(), Arc::new(view)));
            }
        }
        events
    }

    fn snapshot(&self) -> HostSnapshot {
        let containers: Vec<Container> = self
            .load()
            .iter()
            .map(|(dir, record)| self.compose(dir, record))
            .collect();
        // Each container's processes, from its cgroup where it has one.
        let members: Option<std::collections::BTreeMap<String, Vec<u32>>> =
            self.layout.as_ref().map(|layout| {
                containers
                    .iter()
                    .filter(|c| c.init_pid.is_some())
                    .map(|c| {
                        let pids = Cgroup::open(layout, &c.cgroup)
                            .processes()
                            .unwrap_or_default();
                        (c.id.clone(), pids)
                    })
                    .collect()
            });
        let (processes, namespaces) = observe::processes(&containers, members.as_ref());
        let cgroups = match &self.layout {
            Some(layout) => containers
                .iter()
                .map(|c| {
                    let usage = match self.usage.get(&c.cgroup) {
                        Some(usage) => *usage,
                        None => Cgroup::open(layout, &c.cgroup).usage().unwrap_or_default(),
                    };
                    Arc::new(anchorage_shared::cgroup::Cgroup {
                        path: c.cgroup.clone(),
                        limits: c.limits,
                        usage,
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let images = self
            .store
            .list()
            .unwrap_or_default()
            .into_iter()
            .map(|l| Arc::new(l.image.info(l.names)))
            .collect();
        HostSnapshot {
            engine: self.info.clone(),
            clock_ms: shim::now_ms(),
            processes,
            namespaces,
            cgroups,
            containers: containers.into_iter().map(Arc::new).collect(),
            images,
            host: self.host_view.as_ref().map(|(_, view)| view.clone()),
        }
    }

    fn logs(&self, container: &str, query: &LogQuery) -> Result<LogBatch, EngineError> {
        let dir = match self.find(container) {
            Ok((dir, _)) => dir,
            // An `--rm` container being removed: what it left is read.
            Err(err) => self
                .load_all()
                .into_iter()
                .find(|(_, c)| c.id == container || c.name == container)
                .map(|(dir, _)| dir)
                .ok_or(err)?,
        };
        Ok(console::read(&dir, query))
    }
}

#[cfg(test)]
mod tests;
