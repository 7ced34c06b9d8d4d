//! The simulated kernel: a deterministic host that runs containers of the
//! workshop image with processes, namespaces and cgroups that follow Linux's
//! rules. It runs in the browser (no server needed) and on the server.
//!
//! Time only passes in [`Engine::advance`], in fixed quanta, and every table
//! is ordered: the same commands always give the same events.

mod cgroup;
mod namespace;
mod process;
pub mod tarball;

use std::collections::BTreeMap;

use crate::cgroup::CgroupLimits;
use crate::container::{Container, ContainerSpec, ContainerState, validate_name};
use crate::engine::{Command, Engine, EngineError, Event, Stream};
use crate::host::{CgroupLayout, EngineInfo, EngineKind, HostSnapshot};
use crate::namespace::{IdMap, NamespaceDetail, NamespaceId, NamespaceKind};
use crate::process::{ExitStatus, Pid, Process, ProcessState, Signal};
use crate::tarball::{Digest, Image};

use cgroup::Cgroups;
use namespace::{Namespaces, NsSet};
use process::{ExecContext, Program, SimProcess};

/// The simulation advances in steps of this many milliseconds.
pub const QUANTUM_MS: u64 = 10;

/// The cgroup every container's cgroup lives under.
pub const CONTAINERS_CGROUP: &str = "/anchorage";

/// The first uid and gid of the range container root maps to.
pub const SUBID_BASE: u32 = 100_000;
/// How many ids a container's user namespace maps.
pub const SUBID_COUNT: u32 = 65_536;

/// The host's pid counter after boot: the host's own daemons took the rest.
const HOST_PID_AFTER_BOOT: Pid = 1000;

/// A container and the simulation's bookkeeping for it.
#[derive(Clone, Debug)]
struct SimContainer {
    info: Container,
    ns: NsSet,
    /// When a `stop` escalates to SIGKILL.
    kill_at_ms: Option<u64>,
}

/// The simulated engine. See the module documentation.
#[derive(Clone, Debug)]
pub struct SimEngine {
    hostname: String,
    clock_ms: u64,
    processes: BTreeMap<Pid, SimProcess>,
    namespaces: Namespaces,
    cgroups: Cgroups,
    images: Vec<Image>,
    containers: Vec<SimContainer>,
    engine_pid: Pid,
    created: u64,
}

impl Default for SimEngine {
    fn default() -> Self {
        SimEngine::new("workshop-host")
    }
}

impl SimEngine {
    /// A freshly booted host with the built-in `workshop` image.
    pub fn new(hostname: &str) -> SimEngine {
        let namespaces = Namespaces::boot(hostname, 1);
        let mut engine = SimEngine {
            hostname: hostname.to_string(),
            clock_ms: 0,
            processes: BTreeMap::new(),
            namespaces,
            cgroups: Cgroups::boot(),
            images: vec![tarball::workshop_image()],
            containers: Vec::new(),
            engine_pid: 0,
            created: 0,
        };
        engine
            .cgroups
            .create("/init.scope", CgroupLimits::default());
        engine
            .cgroups
            .create(CONTAINERS_CGROUP, CgroupLimits::default());
        let host_ns = engine.namespaces.host.clone();
        let init = engine.spawn_raw(
            0,
            vec!["/sbin/init".into()],
            &host_ns,
            "/init.scope",
            None,
            Program::HostInit,
        );
        // Boot-time daemons used the pids up to here.
        let host_pid_ns = host_ns[&NamespaceKind::Pid];
        if let Some(ns) = engine.namespaces.table.get_mut(&host_pid_ns) {
            ns.next_pid = HOST_PID_AFTER_BOOT;
        }
        engine
            .cgroups
            .create("/system.slice/anchorage.service", CgroupLimits::default());
        engine.engine_pid = engine.spawn_raw(
            init,
            vec!["anchorage".into(), "serve".into()],
            &host_ns,
            "/system.slice/anchorage.service",
            None,
            Program::Engine,
        );
        engine
    }

    pub fn clock_ms(&self) -> u64 {
        self.clock_ms
    }

    /// Creates a process in the given namespaces and cgroup, charging it.
    fn spawn_raw(
        &mut self,
        ppid: Pid,
        argv: Vec<String>,
        ns: &NsSet,
        cgroup: &str,
        container: Option<String>,
        program: Program,
    ) -> Pid {
        let chain = self.namespaces.pid_chain(ns[&NamespaceKind::Pid]);
        let ns_pids: Vec<Pid> = chain
            .iter()
            .map(|inode| self.namespaces.alloc_pid(*inode))
            .collect();
        let pid = ns_pids[0];
        let (uid, gid) = self.outside_ids(ns, 0, 0);
        let rss = program.rss();
        self.namespaces.enter(ns);
        self.cgroups.charge(cgroup, |usage| {
            usage.pids_current += 1;
            usage.memory_current += rss;
            usage.memory_peak = usage.memory_peak.max(usage.memory_current);
        });
        self.processes.insert(
            pid,
            SimProcess {
                pid,
                ppid,
                ns_pids,
                pid_ns_chain: chain,
                argv,
                uid,
                gid,
                container,
                cgroup: cgroup.to_string(),
                ns: ns.clone(),
                state: program.state(),
                program,
                exit: None,
                rss,
                cpu_usec: 0,
            },
        );
        pid
    }

    /// Maps ids inside a process's user namespace to the host's.
    fn outside_ids(&self, ns: &NsSet, uid: u32, gid: u32) -> (u32, u32) {
        match self
            .namespaces
            .table
            .get(&ns[&NamespaceKind::User])
            .map(|n| &n.detail)
        {
            Some(NamespaceDetail::User { uid_map, gid_map }) => (
                uid_map
                    .iter()
                    .find_map(|m| m.to_outside(uid))
                    .unwrap_or(65534),
                gid_map
                    .iter()
                    .find_map(|m| m.to_outside(gid))
                    .unwrap_or(65534),
            ),
            _ => (uid, gid),
        }
    }

    /// Forks `parent` and execs `argv` in the child, in the parent's
    /// namespaces and cgroup. Fails with EAGAIN at `pids.max`.
    fn fork_exec(
        &mut self,
        parent: Pid,
        argv: Vec<String>,
        events: &mut Vec<Event>,
    ) -> Result<Pid, ()> {
        let (ns, cgroup, container) = {
            let p = &self.processes[&parent];
            (p.ns.clone(), p.cgroup.clone(), p.container.clone())
        };
        self.spawn_in(parent, argv, &ns, &cgroup, container, events)
    }

    /// Starts `argv` as a child of `ppid` in `ns` and `cgroup`.
    fn spawn_in(
        &mut self,
        ppid: Pid,
        argv: Vec<String>,
        ns: &NsSet,
        cgroup: &str,
        container: Option<String>,
        events: &mut Vec<Event>,
    ) -> Result<Pid, ()> {
        if !self.cgroups.fork_allowed(cgroup) {
            self.cgroups
                .charge(cgroup, |usage| usage.pids_events_max += 1);
            events.push(Event::ForkFailed {
                pid: ppid,
                cgroup: cgroup.to_string(),
                container,
            });
            return Err(());
        }
        let program = {
            let image = container
                .as_deref()
                .and_then(|id| self.container_by_id(id))
                .and_then(|c| self.images.iter().find(|i| i.id.0 == c.info.image_id));
            let hostname = self.namespaces.hostname(ns[&NamespaceKind::Uts]);
            let has_command = |name: &str| match image {
                Some(image) => tarball::image_has_command(image, name),
                None => true,
            };
            exec(
                &argv,
                &ExecContext {
                    clock_ms: self.clock_ms,
                    hostname: &hostname,
                    uid: 0,
                    gid: 0,
                    has_command: &has_command,
                },
            )
        };
        let pid = self.spawn_raw(ppid, argv.clone(), ns, cgroup, container.clone(), program);
        events.push(Event::ProcessStarted {
            pid,
            ns_pids: self.processes[&pid].ns_pids.clone(),
            argv,
            container,
        });
        Ok(pid)
    }

    fn container_by_id(&self, id: &str) -> Option<&SimContainer> {
        self.containers.iter().find(|c| c.info.id == id)
    }

    fn find_container(&self, id_or_name: &str) -> Result<usize, EngineError> {
        let exact = self
            .containers
            .iter()
            .position(|c| c.info.id == id_or_name || c.info.name == id_or_name);
        let by_prefix = || {
            let matches: Vec<usize> = self
                .containers
                .iter()
                .enumerate()
                .filter(|(_, c)| id_or_name.len() >= 3 && c.info.id.starts_with(id_or_name))
                .map(|(i, _)| i)
                .collect();
            (matches.len() == 1).then(|| matches[0])
        };
        exact
            .or_else(by_prefix)
            .ok_or_else(|| EngineError::NoSuchContainer(id_or_name.to_string()))
    }

    /// A process ends: it becomes a zombie, its children go to the init of
    /// their pid namespace, and if it was a namespace's init the rest of
    /// the namespace is killed.
    fn exit_process(&mut self, pid: Pid, status: ExitStatus, events: &mut Vec<Event>) {
        let Some(p) = self.processes.get_mut(&pid) else {
            return;
        };
        if p.state == ProcessState::Zombie {
            return;
        }
        p.state = ProcessState::Zombie;
        p.exit = Some(status);
        let rss = std::mem::take(&mut p.rss);
        let (cgroup, container, ns_pids) =
            (p.cgroup.clone(), p.container.clone(), p.ns_pids.clone());
        let was_ns_init = p.is_namespace_init();
        let own_pid_ns = p.own_pid_ns();
        let ppid = p.ppid;
        self.cgroups.charge(&cgroup, |usage| {
            usage.memory_current -= rss.min(usage.memory_current)
        });
        events.push(Event::ProcessExited {
            pid,
            ns_pids,
            status,
            container: container.clone(),
        });

        if was_ns_init {
            // zap_pid_ns_processes: SIGKILL everything else in the namespace;
            // the dying init reaps them before it goes.
            let members: Vec<Pid> = self
                .processes
                .values()
                .filter(|q| q.pid != pid && q.pid_ns_chain.contains(&own_pid_ns))
                .map(|q| q.pid)
                .collect();
            for member in &members {
                self.exit_process(*member, ExitStatus::Signaled(Signal::Kill), events);
            }
            for member in members {
                self.release(member);
            }
        } else {
            // Orphans go to the init of their own pid namespace.
            let children: Vec<Pid> = self
                .processes
                .values()
                .filter(|q| q.ppid == pid)
                .map(|q| q.pid)
                .collect();
            for child in children {
                let reaper = self.namespace_init_of(child);
                if let Some(c) = self.processes.get_mut(&child) {
                    c.ppid = reaper;
                }
            }
        }

        // Parents that wait in a loop (the host init, the engine) reap at once.
        let parent_reaps_now = matches!(
            self.processes.get(&ppid).map(|p| &p.program),
            Some(Program::HostInit | Program::Engine)
        );
        if parent_reaps_now {
            self.release(pid);
        }

        if let Some(index) = self
            .containers
            .iter()
            .position(|c| c.info.init_pid == Some(pid))
        {
            let oom_killed = false;
            let c = &mut self.containers[index];
            c.info.state = ContainerState::Exited { status, oom_killed };
            c.info.init_pid = None;
            c.kill_at_ms = None;
            let id = c.info.id.clone();
            events.push(Event::ContainerExited {
                id: id.clone(),
                status,
                oom_killed,
            });
            if c.info.auto_remove {
                self.remove_container(index, events);
            }
        }
    }

    /// The host pid of the init of the pid namespace `pid` lives in (the
    /// host's init for host processes).
    fn namespace_init_of(&self, pid: Pid) -> Pid {
        let Some(p) = self.processes.get(&pid) else {
            return 1;
        };
        let own = p.own_pid_ns();
        self.processes
            .values()
            .find(|q| q.own_pid_ns() == own && q.ns_pids.last() == Some(&1))
            .map_or(1, |q| q.pid)
    }

    /// Removes a zombie from the table: `wait()` returned its status.
    fn release(&mut self, pid: Pid) {
        if let Some(p) = self.processes.remove(&pid) {
            self.namespaces.leave(&p.ns);
            self.cgroups.charge(&p.cgroup, |usage| {
                usage.pids_current = usage.pids_current.saturating_sub(1)
            });
        }
    }

    /// Delivers a signal. `from_outside` says the sender is in an ancestor
    /// pid namespace (the engine is).
    fn signal(&mut self, pid: Pid, signal: Signal, from_outside: bool, events: &mut Vec<Event>) {
        let Some(p) = self.processes.get(&pid) else {
            return;
        };
        if p.state == ProcessState::Zombie {
            return;
        }
        let handled = signal.catchable() && p.program.handles_signals();
        if handled || !signal.terminates_by_default() {
            return;
        }
        // A namespace's init only gets the signals it has handlers for,
        // and SIGKILL from an ancestor namespace.
        if p.is_namespace_init() && !(signal == Signal::Kill && from_outside) {
            return;
        }
        if p.pid == 1 {
            return;
        }
        self.exit_process(pid, ExitStatus::Signaled(signal), events);
    }

    /// Runs one quantum: every process takes a step.
    fn step(&mut self, events: &mut Vec<Event>) {
        for index in 0..self.containers.len() {
            if let Some(at) = self.containers[index].kill_at_ms
                && at <= self.clock_ms
            {
                self.containers[index].kill_at_ms = None;
                if let Some(init) = self.containers[index].info.init_pid {
                    self.signal(init, Signal::Kill, true, events);
                }
            }
        }
        let pids: Vec<Pid> = self.processes.keys().copied().collect();
        for pid in pids {
            self.step_process(pid, events);
        }
    }

    fn step_process(&mut self, pid: Pid, events: &mut Vec<Event>) {
        let Some(p) = self.processes.get_mut(&pid) else {
            return;
        };
        if p.state == ProcessState::Zombie {
            return;
        }
        let program = std::mem::replace(&mut p.program, Program::HostInit);
        let program = match program {
            Program::HostInit => {
                self.reap_children(pid);
                Some(Program::HostInit)
            }
            Program::Engine => Some(Program::Engine),
            Program::Sleep { until_ms } => {
                if until_ms <= self.clock_ms {
                    self.processes.get_mut(&pid).expect("stepping").program =
                        Program::Sleep { until_ms };
                    self.exit_process(pid, ExitStatus::Code(0), events);
                    None
                } else {
                    Some(Program::Sleep { until_ms })
                }
            }
            Program::Finishing { output, code } => {
                let container = p.container.clone();
                p.cpu_usec += process::INSTANT_COMMAND_CPU_USEC;
                let cgroup = p.cgroup.clone();
                self.cgroups.charge(&cgroup, |usage| {
                    usage.cpu_usage_usec += process::INSTANT_COMMAND_CPU_USEC
                });
                for (stream, text) in output {
                    events.push(Event::Output {
                        container: container.clone(),
                        pid,
                        stream,
                        text,
                    });
                }
                self.processes.get_mut(&pid).expect("stepping").program = Program::Finishing {
                    output: vec![],
                    code,
                };
                self.exit_process(pid, ExitStatus::Code(code), events);
                None
            }
            Program::Shell {
                mut jobs,
                mut waiting_for,
                mut status,
            } => {
                // Reap finished children; note the foreground one's status.
                let zombies: Vec<(Pid, ExitStatus)> = self
                    .processes
                    .values()
                    .filter(|c| c.ppid == pid && c.state == ProcessState::Zombie)
                    .filter_map(|c| c.exit.map(|e| (c.pid, e)))
                    .collect();
                for (child, exit) in zombies {
                    if waiting_for == Some(child) {
                        status = exit.shell_code();
                        waiting_for = None;
                    }
                    self.release(child);
                }
                if waiting_for.is_none() {
                    match jobs.pop_front() {
                        Some(job) => match self.fork_exec(pid, job.argv, events) {
                            Ok(child) if !job.background => waiting_for = Some(child),
                            Ok(_) => status = 0,
                            Err(()) => {
                                // A failed fork is a fatal error for a
                                // non-interactive shell: it exits with 2.
                                let container = self.processes[&pid].container.clone();
                                events.push(Event::Output {
                                    container,
                                    pid,
                                    stream: Stream::Stderr,
                                    text: "sh: can't fork: Resource temporarily unavailable\n"
                                        .into(),
                                });
                                self.exit_process(pid, ExitStatus::Code(2), events);
                                return;
                            }
                        },
                        None => {
                            self.processes.get_mut(&pid).expect("stepping").program =
                                Program::Shell {
                                    jobs,
                                    waiting_for,
                                    status,
                                };
                            self.exit_process(pid, ExitStatus::Code(status), events);
                            return;
                        }
                    }
                }
                Some(Program::Shell {
                    jobs,
                    waiting_for,
                    status,
                })
            }
        };
        if let Some(program) = program
            && let Some(p) = self.processes.get_mut(&pid)
        {
            p.state = program.state();
            p.program = program;
        }
    }

    fn reap_children(&mut self, pid: Pid) {
        let zombies: Vec<Pid> = self
            .processes
            .values()
            .filter(|c| c.ppid == pid && c.state == ProcessState::Zombie)
            .map(|c| c.pid)
            .collect();
        for zombie in zombies {
            self.release(zombie);
        }
    }

    fn create_container(
        &mut self,
        spec: ContainerSpec,
    ) -> Result<(usize, Vec<Event>), EngineError> {
        spec.validate()?;
        let image = self
            .images
            .iter()
            .find(|i| i.names.contains(&spec.image) || i.id.0 == spec.image)
            .ok_or_else(|| EngineError::NoSuchImage(spec.image.clone()))?
            .clone();
        let name = match &spec.name {
            Some(name) => {
                validate_name(name)?;
                if self.containers.iter().any(|c| &c.info.name == name) {
                    return Err(EngineError::NameInUse(name.clone()));
                }
                name.clone()
            }
            None => self.generate_name(),
        };
        self.created += 1;
        let id = Digest::sha256(format!("{}:{}:{}", self.created, name, self.clock_ms).as_bytes())
            .0
            .trim_start_matches("sha256:")
            .to_string();
        let hostname = spec
            .hostname
            .clone()
            .unwrap_or_else(|| id[..12].to_string());
        let cgroup = format!("{CONTAINERS_CGROUP}/{}", &id);
        self.cgroups.create(&cgroup, spec.limits);

        let host = self.namespaces.host.clone();
        let id_map = vec![IdMap {
            inside: 0,
            outside: SUBID_BASE,
            count: SUBID_COUNT,
        }];
        let user = self.namespaces.create(
            NamespaceKind::User,
            host[&NamespaceKind::User],
            host[&NamespaceKind::User],
            NamespaceDetail::User {
                uid_map: id_map.clone(),
                gid_map: id_map,
            },
        );
        let mut ns = NsSet::new();
        ns.insert(NamespaceKind::User, user);
        ns.insert(NamespaceKind::Time, host[&NamespaceKind::Time]);
        for kind in [
            NamespaceKind::Mnt,
            NamespaceKind::Uts,
            NamespaceKind::Ipc,
            NamespaceKind::Pid,
            NamespaceKind::Net,
            NamespaceKind::Cgroup,
        ] {
            let detail = match kind {
                NamespaceKind::Uts => NamespaceDetail::Uts {
                    hostname: hostname.clone(),
                },
                NamespaceKind::Net => NamespaceDetail::Net {
                    interfaces: vec!["lo".into()],
                },
                NamespaceKind::Mnt => NamespaceDetail::Mnt {
                    root: format!("overlay:{}", image.id.short()),
                },
                _ => NamespaceDetail::Plain,
            };
            let inode = self.namespaces.create(kind, host[&kind], user, detail);
            ns.insert(kind, inode);
        }
        let mut env = image.config.env.clone();
        env.extend(spec.env.iter().cloned());
        let info = Container {
            id: id.clone(),
            name: name.clone(),
            image: spec.image.clone(),
            image_id: image.id.0.clone(),
            command: image.config.command_line(&spec.command),
            hostname,
            env,
            volumes: spec.volumes.clone(),
            state: ContainerState::Created,
            init_pid: None,
            cgroup,
            namespaces: ns
                .iter()
                .map(|(kind, inode)| NamespaceId {
                    kind: *kind,
                    inode: *inode,
                })
                .collect(),
            limits: spec.limits,
            created_ms: self.clock_ms,
            auto_remove: spec.auto_remove,
        };
        // Created namespaces are held by the container until it starts.
        self.namespaces.enter(&ns);
        self.containers.push(SimContainer {
            info,
            ns,
            kill_at_ms: None,
        });
        Ok((
            self.containers.len() - 1,
            vec![Event::ContainerCreated { id, name }],
        ))
    }

    fn generate_name(&self) -> String {
        const ADJECTIVES: [&str; 8] = [
            "calm", "brave", "quiet", "steady", "bright", "swift", "gentle", "bold",
        ];
        const NOUNS: [&str; 8] = [
            "harbor", "anchor", "keel", "buoy", "tide", "mast", "hull", "quay",
        ];
        let mut n = self.created as usize;
        loop {
            let name = format!(
                "{}_{}",
                ADJECTIVES[n % ADJECTIVES.len()],
                NOUNS[(n / ADJECTIVES.len()) % NOUNS.len()]
            );
            let name = if n >= ADJECTIVES.len() * NOUNS.len() {
                format!("{name}_{n}")
            } else {
                name
            };
            if !self.containers.iter().any(|c| c.info.name == name) {
                return name;
            }
            n += 1;
        }
    }

    fn start_container(&mut self, index: usize) -> Result<Vec<Event>, EngineError> {
        let c = &self.containers[index];
        match c.info.state {
            ContainerState::Running => {
                return Err(EngineError::AlreadyRunning(c.info.name.clone()));
            }
            ContainerState::Exited { .. } => {
                return Err(EngineError::Refused(format!(
                    "container `{}` has exited and its pid namespace is gone: `anchorage run` a new one",
                    c.info.name
                )));
            }
            ContainerState::Created => {}
        }
        let (argv, ns, cgroup, id) = (
            c.info.command.clone(),
            c.ns.clone(),
            c.info.cgroup.clone(),
            c.info.id.clone(),
        );
        let mut events = Vec::new();
        let engine_pid = self.engine_pid;
        let init = self
            .spawn_in(
                engine_pid,
                argv,
                &ns,
                &cgroup,
                Some(id.clone()),
                &mut events,
            )
            .map_err(|()| {
                EngineError::Refused(format!("fork failed: cgroup {cgroup} is at its pids.max"))
            })?;
        // The process holds the namespaces now.
        self.namespaces.leave(&ns);
        let c = &mut self.containers[index];
        c.info.state = ContainerState::Running;
        c.info.init_pid = Some(init);
        events.push(Event::ContainerStarted {
            id,
            init_pid: init,
            namespaces: c.info.namespaces.clone(),
        });
        Ok(events)
    }

    fn remove_container(&mut self, index: usize, events: &mut Vec<Event>) {
        let c = self.containers.remove(index);
        if c.info.state == ContainerState::Created {
            self.namespaces.leave(&c.ns);
        }
        self.cgroups.remove(&c.info.cgroup);
        events.push(Event::ContainerRemoved { id: c.info.id });
    }
}

use process::exec;

impl Engine for SimEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            kind: EngineKind::Simulated,
            hostname: self.hostname.clone(),
            kernel: "Linux 6.1 (simulated)".into(),
            cgroup_layout: CgroupLayout::Unified,
            rootless: false,
            note: "the simulated kernel: deterministic, no root, nothing touches the real host"
                .into(),
        }
    }

    fn apply(&mut self, command: Command) -> Result<Vec<Event>, EngineError> {
        match command {
            Command::Create { spec } => self.create_container(spec).map(|(_, events)| events),
            Command::Run { spec } => {
                let (index, mut events) = self.create_container(spec)?;
                events.extend(self.start_container(index)?);
                Ok(events)
            }
            Command::Start { container } => {
                let index = self.find_container(&container)?;
                self.start_container(index)
            }
            Command::Stop {
                container,
                timeout_ms,
            } => {
                let index = self.find_container(&container)?;
                let mut events = Vec::new();
                if let Some(init) = self.containers[index].info.init_pid {
                    self.containers[index].kill_at_ms = Some(self.clock_ms + timeout_ms);
                    self.signal(init, Signal::Term, true, &mut events);
                }
                Ok(events)
            }
            Command::Kill { container, signal } => {
                let index = self.find_container(&container)?;
                let c = &self.containers[index];
                let init = c
                    .info
                    .init_pid
                    .ok_or_else(|| EngineError::NotRunning(c.info.name.clone()))?;
                let mut events = Vec::new();
                self.signal(init, signal, true, &mut events);
                Ok(events)
            }
            Command::Remove { container, force } => {
                let index = self.find_container(&container)?;
                let mut events = Vec::new();
                if let Some(init) = self.containers[index].info.init_pid {
                    if !force {
                        return Err(EngineError::StillRunning(
                            self.containers[index].info.name.clone(),
                        ));
                    }
                    let id = self.containers[index].info.id.clone();
                    // Keep the container if its exit handling removed it.
                    self.containers[index].info.auto_remove = false;
                    self.signal(init, Signal::Kill, true, &mut events);
                    let index = self.find_container(&id)?;
                    self.remove_container(index, &mut events);
                } else {
                    self.remove_container(index, &mut events);
                }
                Ok(events)
            }
            Command::Exec { container, argv } => {
                let index = self.find_container(&container)?;
                let c = &self.containers[index];
                if c.info.init_pid.is_none() {
                    return Err(EngineError::NotRunning(c.info.name.clone()));
                }
                if argv.is_empty() {
                    return Err(EngineError::InvalidSpec(
                        "exec needs a command: `anchorage exec CONTAINER COMMAND...`".into(),
                    ));
                }
                let (ns, cgroup, id) = (c.ns.clone(), c.info.cgroup.clone(), c.info.id.clone());
                let mut events = Vec::new();
                let program = argv[0].clone();
                let engine_pid = self.engine_pid;
                self.spawn_in(engine_pid, argv, &ns, &cgroup, Some(id), &mut events)
                    .map_err(|()| EngineError::Exec {
                        program,
                        reason: format!(
                            "fork failed with EAGAIN: cgroup {cgroup} is at its pids.max"
                        ),
                    })?;
                Ok(events)
            }
            Command::SetLimits { container, limits } => {
                let index = self.find_container(&container)?;
                let c = &mut self.containers[index];
                c.info.limits = limits;
                let (id, cgroup) = (c.info.id.clone(), c.info.cgroup.clone());
                if let Some(cg) = self.cgroups.get_mut(&cgroup) {
                    cg.limits = limits;
                }
                Ok(vec![Event::LimitsChanged { id, limits }])
            }
        }
    }

    fn advance(&mut self, elapsed_ms: u64) -> Vec<Event> {
        let mut events = Vec::new();
        let target = self.clock_ms + elapsed_ms;
        while self.clock_ms < target {
            self.clock_ms = (self.clock_ms + QUANTUM_MS).min(target);
            self.step(&mut events);
        }
        events
    }

    fn snapshot(&self) -> HostSnapshot {
        let processes = self
            .processes
            .values()
            .map(|p| Process {
                pid: p.pid,
                ppid: p.ppid,
                ns_pids: p.ns_pids.clone(),
                argv: p.argv.clone(),
                state: p.state,
                uid: p.uid,
                gid: p.gid,
                container: p.container.clone(),
                cgroup: p.cgroup.clone(),
                namespaces: p
                    .ns
                    .iter()
                    .map(|(kind, inode)| NamespaceId {
                        kind: *kind,
                        inode: *inode,
                    })
                    .collect(),
                memory_bytes: p.rss,
                cpu_usec: p.cpu_usec,
                exit: p.exit,
            })
            .collect();
        HostSnapshot {
            engine: self.info(),
            clock_ms: self.clock_ms,
            processes,
            namespaces: self.namespaces.snapshot(),
            cgroups: self.cgroups.snapshot(),
            containers: self.containers.iter().map(|c| c.info.clone()).collect(),
            images: self.images.iter().map(Image::info).collect(),
        }
    }
}

#[cfg(test)]
mod tests;
