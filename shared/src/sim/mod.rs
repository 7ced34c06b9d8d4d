//! The simulated kernel: a deterministic host that runs containers of the
//! workshop image with processes, namespaces and cgroups that follow Linux's
//! rules. It runs in the browser (no server needed), on the server, and on
//! the terminal (`anchorage sim`).
//!
//! Time only passes in [`Engine::advance`], in fixed quanta, and every table
//! is ordered: the same commands always give the same events.
//!
//! The kernel's parts, by the talk's nouns: [`process`] (the process table
//! and its programs), [`tarball`] (file trees from image layers, the
//! overlay), [`namespace`] (inodes, pid translation, mount tables) and
//! [`cgroup`] (the hierarchy, the CPU scheduler, memory limits). [`fs`] is
//! the path walk across mounts, [`procfs`] renders `/proc` and cgroupfs, and
//! [`userland`] is the workshop image's commands.

mod cgroup;
mod cgroup_write;
mod cgroupfs;
mod fd;
mod files;
mod fs;
mod load;
mod login;
mod namespace;
mod net;
mod process;
mod procfs;
mod shell;
mod syscall;
pub mod tarball;
mod userland;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::cgroup::Cgroup;
use crate::cgroup::CgroupLimits;
use crate::console::MemoryLog;
use crate::container::{Container, ContainerSpec, ContainerState};
use crate::engine::{Command, Engine, EngineError, Event, LogBatch, LogQuery, Stream};
use crate::host::{CgroupLayout, EngineInfo, EngineKind, HostSnapshot};
use crate::namespace::{IdMap, Namespace, NamespaceDetail, NamespaceId, NamespaceKind};
use crate::plan;
use crate::process::{ExitStatus, Pid, Process, ProcessState, Signal};
use crate::tarball::{Digest, Image, ImageInfo};

use cgroup::{Cgroups, Runnable};
use namespace::{Backing, Namespaces, NsSet};
use process::{Program, SimProcess, Sink};
use tarball::{Node, Overlay, Tree};

/// The simulation advances in steps of this many milliseconds.
pub const QUANTUM_MS: u64 = 10;
const QUANTUM_USEC: u64 = QUANTUM_MS * 1000;

/// The cgroup every container's cgroup lives under.
pub const CONTAINERS_CGROUP: &str = "/anchorage";

/// The first uid and gid of the range container root maps to.
pub const SUBID_BASE: u32 = 100_000;

/// The end of the options of a tmpfs a container's root mounts: it owns
/// it, and the kernel shows that owner by its id on the host, then
/// `inode64` (Debian builds tmpfs with 64-bit inode numbers).
pub(crate) fn tmpfs_owner() -> String {
    format!("uid={SUBID_BASE},gid={SUBID_BASE},inode64")
}
/// How many ids a container's user namespace maps.
pub const SUBID_COUNT: u32 = 65_536;

/// The simulated host's CPUs.
pub const HOST_CPUS: u64 = 2;

/// The id an unmapped owner shows as in a user namespace (the kernel's
/// overflowuid and overflowgid).
pub const OVERFLOW_ID: u32 = 65534;
/// The simulated host's memory: 4 GiB, no swap.
pub const HOST_MEMORY_BYTES: u64 = 4 << 30;
/// The most tasks the simulated host runs at once (its `kernel.threads-max`):
/// a fork bomb without `pids.max` fills this, and then nobody can fork.
pub const HOST_TASKS_MAX: usize = 4096;
/// The simulated kernel's release, as `uname -r` prints it.
pub const KERNEL_RELEASE: &str = "6.1.0-anchorage-sim";
/// When the simulated host booted, in Unix seconds (2026-11-27T09:00:00Z):
/// file times and `ls -l` count from here.
pub const BOOT_EPOCH: u64 = 1_795_770_000;

/// The host's pid counter after boot: the host's own daemons took the rest.
const HOST_PID_AFTER_BOOT: Pid = 1000;

/// The cgroup of the terminal's login shell on the simulated host.
const USER_CGROUP: &str = "/user.slice/user-0.slice/session-1.scope";

/// A container and the simulation's bookkeeping for it.
#[derive(Clone, Debug)]
struct SimContainer {
    info: Container,
    ns: NsSet,
    /// When a `stop` escalates to SIGKILL.
    kill_at_ms: Option<u64>,
    /// Its root: the image's layers under its writable layer.
    rootfs: Overlay,
    /// Its console, kept as the real engine keeps it (`--log-opt`).
    logs: MemoryLog,
    /// Where its init starts (the plan's working directory).
    cwd: String,
}

/// The last snapshot's entities, reused while they do not change.
#[derive(Debug, Default)]
struct SnapshotCache {
    processes: Vec<Arc<Process>>,
    /// By inode, with the version of the namespace's detail.
    namespaces: Vec<(u64, Arc<Namespace>)>,
    cgroups: Vec<Arc<Cgroup>>,
    containers: Vec<Arc<Container>>,
    images: Vec<Arc<ImageInfo>>,
}

/// The cache sits behind a lock so that `snapshot(&self)` can update it;
/// a clone of the engine starts with a copy.
#[derive(Debug, Default)]
struct Cached(Mutex<SnapshotCache>);

impl Clone for Cached {
    fn clone(&self) -> Self {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Cached(Mutex::new(SnapshotCache {
            processes: inner.processes.clone(),
            namespaces: inner.namespaces.clone(),
            cgroups: inner.cgroups.clone(),
            containers: inner.containers.clone(),
            images: inner.images.clone(),
        }))
    }
}

/// How a new process is set up.
struct Spawn {
    ppid: Pid,
    argv: Vec<String>,
    env: Vec<String>,
    cwd: String,
    root: String,
    ns: NsSet,
    cgroup: String,
    container: Option<String>,
    /// Its descriptors, each description held for it already.
    fds: fd::FdTable,
}

/// The simulated engine. See the module documentation.
#[derive(Debug)]
pub struct SimEngine {
    clock_ms: u64,
    processes: BTreeMap<Pid, SimProcess>,
    /// Zombies by parent: `(ppid, pid)`, so reaping does not scan the
    /// process table.
    zombies: BTreeSet<(Pid, Pid)>,
    namespaces: Namespaces,
    cgroups: Cgroups,
    images: Vec<Image>,
    /// Each image's layers, merged into one read-only tree, by image ID.
    lowers: BTreeMap<Digest, Arc<Tree>>,
    containers: Vec<SimContainer>,
    /// The host's own file system: volumes live in it.
    host_fs: Tree,
    /// What the disk holds, as last counted plus what was written since
    /// (see `fs::HOST_DISK_BYTES`).
    disk_used: u64,
    /// CPU time every process has had since boot, summed over the CPUs:
    /// what is not idle in `/proc/uptime`.
    busy_usec: u64,
    load: load::LoadAverage,
    engine_pid: Pid,
    login_shell: Option<Pid>,
    /// How the terminal's last line ended, until the terminal looks.
    line_end: Option<login::Parked>,
    /// The login shell's descriptors as its running line started.
    login_fds: Option<fd::FdTable>,
    /// Its children's statuses, reaped between lines, for `wait`.
    login_reaped: login::Reaped,
    created: u64,
    cache: Cached,
    /// How the host mounts its cgroups.
    cgroup_layout: CgroupLayout,
    /// Open file descriptions and pipes.
    files: fd::Files,
}

impl Default for SimEngine {
    fn default() -> Self {
        SimEngine::new("workshop-host")
    }
}

impl SimEngine {
    /// A freshly booted host with the built-in `workshop` image, its
    /// cgroups in one cgroup2 hierarchy.
    pub fn new(hostname: &str) -> SimEngine {
        SimEngine::with_cgroups(hostname, CgroupLayout::Unified)
    }

    /// A freshly booted host whose cgroups are mounted as `cgroup_layout`
    /// says: what `anchorage sim --cgroups v1|v2|hybrid` shows.
    pub fn with_cgroups(hostname: &str, cgroup_layout: CgroupLayout) -> SimEngine {
        let image = tarball::workshop_image();
        let lower = Arc::new(Tree::from_layers(&image.layers));
        let mut host_fs = (*lower).clone();
        host_fs.insert(
            "etc/hostname",
            Node::file(format!("{hostname}\n").into_bytes(), 0o644, BOOT_EPOCH),
        );
        // The engine's own binary, whose verbs the terminal carries out.
        for dir in ["usr", "usr/bin"] {
            if host_fs.get(dir).is_none() {
                host_fs.insert(dir, Node::dir(0o755, BOOT_EPOCH));
            }
        }
        host_fs.insert(
            login::ANCHORAGE_PATH,
            Node::file(tarball::ELF_MAGIC.to_vec(), 0o755, BOOT_EPOCH),
        );
        for dir in [
            "srv",
            "var/lib",
            "var/lib/anchorage",
            "var/lib/anchorage/volumes",
        ] {
            host_fs.insert(dir, Node::dir(0o755, BOOT_EPOCH));
        }
        let mut engine = SimEngine {
            clock_ms: 0,
            processes: BTreeMap::new(),
            zombies: BTreeSet::new(),
            namespaces: Namespaces::boot(hostname, 1),
            cgroups: Cgroups::boot(),
            lowers: BTreeMap::from([(image.id.clone(), lower)]),
            images: vec![image],
            containers: Vec::new(),
            host_fs,
            disk_used: 0,
            busy_usec: 0,
            load: load::LoadAverage::default(),
            engine_pid: 0,
            login_shell: None,
            line_end: None,
            login_fds: None,
            login_reaped: login::Reaped::new(),
            created: 0,
            cache: Cached::default(),
            files: fd::Files::default(),
            cgroup_layout,
        };
        for cgroup in [
            "/init.scope",
            CONTAINERS_CGROUP,
            "/system.slice/anchorage.service",
        ] {
            engine.cgroups.create(cgroup, CgroupLimits::default());
        }
        let host_mnt = engine.namespaces.host[&NamespaceKind::Mnt];
        for (target, fstype, source, options, backing) in engine.host_cgroup_mounts() {
            engine
                .namespaces
                .mount(host_mnt, &target, fstype, &source, &options, backing);
        }
        let host_ns = engine.namespaces.host.clone();
        let console = engine.std_fds(Sink::Console(Stream::Stdout), Sink::Console(Stream::Stderr));
        let init = engine.spawn_raw(
            Spawn {
                ppid: 0,
                argv: vec!["/sbin/init".into()],
                env: vec!["PATH=/usr/sbin:/usr/bin:/sbin:/bin".into()],
                cwd: "/".into(),
                root: "/".into(),
                ns: host_ns.clone(),
                cgroup: "/init.scope".into(),
                container: None,
                fds: console,
            },
            Program::HostInit,
        );
        // Boot-time daemons used the pids up to here.
        let host_pid_ns = host_ns[&NamespaceKind::Pid];
        if let Some(ns) = engine.namespaces.table.get_mut(&host_pid_ns) {
            ns.next_pid = HOST_PID_AFTER_BOOT;
        }
        let console = engine.std_fds(Sink::Console(Stream::Stdout), Sink::Console(Stream::Stderr));
        engine.engine_pid = engine.spawn_raw(
            Spawn {
                ppid: init,
                argv: vec!["anchorage".into(), "serve".into()],
                env: vec!["PATH=/usr/sbin:/usr/bin:/sbin:/bin".into()],
                cwd: "/".into(),
                root: "/".into(),
                ns: host_ns,
                cgroup: "/system.slice/anchorage.service".into(),
                container: None,
                fds: console,
            },
            Program::Engine,
        );
        engine
    }

    pub fn clock_ms(&self) -> u64 {
        self.clock_ms
    }

    /// The host's name: its uts namespace's hostname.
    pub fn hostname(&self) -> String {
        self.namespaces
            .hostname(self.namespaces.host[&NamespaceKind::Uts])
    }

    pub(crate) fn boot_epoch(&self) -> u64 {
        BOOT_EPOCH
    }

    /// Now, in Unix seconds.
    pub(crate) fn now_epoch(&self) -> u64 {
        BOOT_EPOCH + self.clock_ms / 1000
    }

    pub(crate) fn cgroup_ns_root(&self, inode: u64) -> String {
        self.namespaces
            .table
            .get(&inode)
            .and_then(|ns| ns.cgroup_root.clone())
            .unwrap_or_else(|| "/".into())
    }

    /// Creates a process in the given namespaces and cgroup, charging it.
    fn spawn_raw(&mut self, spawn: Spawn, program: Program) -> Pid {
        let chain = self.namespaces.pid_chain(spawn.ns[&NamespaceKind::Pid]);
        let ns_pids: Vec<Pid> = chain
            .iter()
            .map(|inode| self.namespaces.alloc_pid(*inode))
            .collect();
        let pid = ns_pids[0];
        let (uid, gid) = self.outside_ids(&spawn.ns, 0, 0);
        let rss = program.initial_rss();
        self.namespaces.enter(&spawn.ns);
        self.cgroups.charge(&spawn.cgroup, |usage| {
            usage.pids_current += 1;
            usage.memory_current += rss;
            usage.memory_peak = usage.memory_peak.max(usage.memory_current);
        });
        self.processes.insert(
            pid,
            SimProcess {
                pid,
                ppid: spawn.ppid,
                ns_pids,
                pid_ns_chain: chain,
                argv: spawn.argv,
                env: spawn.env,
                cwd: spawn.cwd,
                root: spawn.root,
                uid,
                gid,
                container: spawn.container,
                cgroup: spawn.cgroup,
                ns: spawn.ns,
                state: program.state(),
                program,
                exit: None,
                rss,
                held: 0,
                cpu_usec: 0,
                started_ms: self.clock_ms,
                fds: spawn.fds,
            },
        );
        pid
    }

    /// Maps ids inside a process's user namespace to the host's.
    fn outside_ids(&self, ns: &NsSet, uid: u32, gid: u32) -> (u32, u32) {
        let (uid_map, gid_map) = self.namespaces.id_maps(ns[&NamespaceKind::User]);
        let map =
            |maps: &[IdMap], id: u32| maps.iter().find_map(|m| m.to_outside(id)).unwrap_or(65534);
        (map(&uid_map, uid), map(&gid_map, gid))
    }

    /// `fork` then `execve`: a child of `spawn.ppid`, running `spawn.argv`.
    /// Fails with EAGAIN at `pids.max` or when the host's task table is
    /// full, and with ENOMEM when the OOM killer cannot make room.
    fn fork_exec(&mut self, spawn: Spawn, events: &mut Vec<Event>) -> Result<Pid, Errno> {
        self.fork_exec_at(spawn, None, events)
    }

    /// `fork_exec` of a program found already at `path`.
    fn fork_exec_at(
        &mut self,
        spawn: Spawn,
        path: Option<&str>,
        events: &mut Vec<Event>,
    ) -> Result<Pid, Errno> {
        let argv = spawn.argv.clone();
        let pid = self.fork(spawn, events)?;
        self.execve_at(pid, path, argv);
        Ok(pid)
    }

    /// `fork`: a new process as `spawn` describes it, not yet running a
    /// program, or EAGAIN or ENOMEM as [`Self::fork_allowed`] says (a
    /// refused fork is counted, and the descriptors it took are let go).
    fn fork(&mut self, spawn: Spawn, events: &mut Vec<Event>) -> Result<Pid, Errno> {
        let (ppid, cgroup, container) = (spawn.ppid, spawn.cgroup.clone(), spawn.container.clone());
        if let Err(err) = self.fork_allowed(&cgroup, ppid, events) {
            if err == Errno::Again {
                events.push(Event::ForkFailed {
                    pid: ppid,
                    cgroup,
                    container,
                });
            }
            self.drop_fds(spawn.fds);
            return Err(err);
        }
        let argv = spawn.argv.clone();
        let pid = self.spawn_raw(spawn, Program::Exiting { code: 0 });
        events.push(Event::ProcessStarted {
            pid,
            ppid,
            ns_pids: self.processes[&pid].ns_pids.clone(),
            argv,
            container,
        });
        Ok(pid)
    }

    /// Whether a process may be made in `cgroup` now: EAGAIN at
    /// `pids.max` or when the host's task table is full (counted in
    /// `pids.events`), ENOMEM when the OOM killer cannot make room.
    fn fork_allowed(
        &mut self,
        cgroup: &str,
        ppid: Pid,
        events: &mut Vec<Event>,
    ) -> Result<(), Errno> {
        if !self.cgroups.fork_allowed(cgroup) || self.processes.len() >= HOST_TASKS_MAX {
            if self.processes.len() < HOST_TASKS_MAX {
                self.cgroups
                    .charge(cgroup, |usage| usage.pids_events_max += 1);
            }
            return Err(Errno::Again);
        }
        if !self.make_room(cgroup, process::rss::TOOL, events) || !self.is_alive(ppid) {
            return Err(Errno::NoMem);
        }
        Ok(())
    }

    fn is_alive(&self, pid: Pid) -> bool {
        pid == 0
            || self
                .processes
                .get(&pid)
                .is_some_and(|p| p.state != ProcessState::Zombie)
    }

    /// Makes room for `bytes` more in a cgroup: while that would go over a
    /// `memory.max` (or the host's memory), the OOM killer kills the
    /// biggest process under the cgroup at its limit. Returns whether
    /// there is room now.
    fn make_room(&mut self, cgroup: &str, bytes: u64, events: &mut Vec<Event>) -> bool {
        while let Some(at_limit) = self
            .cgroups
            .memory_limit_hit(cgroup, bytes, HOST_MEMORY_BYTES)
        {
            self.cgroups.charge(&at_limit, |usage| {
                usage.memory_events_max += 1;
                usage.oom += 1;
            });
            let under = |path: &str| {
                at_limit == "/" || path == at_limit || path.starts_with(&format!("{at_limit}/"))
            };
            // oom_badness: the most memory; the engine, init and the
            // login shell are exempt (oom_score_adj -1000).
            let victim = self
                .processes
                .values()
                .filter(|p| p.state != ProcessState::Zombie && under(&p.cgroup))
                .filter(|p| !p.program.exempt_from_oom())
                .max_by_key(|p| (p.rss, std::cmp::Reverse(p.pid)))
                .map(|p| (p.pid, p.container.clone()));
            let Some((victim, container)) = victim else {
                return false;
            };
            self.cgroups.charge(&at_limit, |usage| usage.oom_kill += 1);
            events.push(Event::OomKill {
                pid: victim,
                cgroup: at_limit.clone(),
                container,
            });
            self.exit_process(victim, ExitStatus::Signaled(Signal::Kill), events);
        }
        true
    }

    /// Charges memory a process touched, after making room for it.
    fn charge_memory(&mut self, pid: Pid, bytes: u64, events: &mut Vec<Event>) -> bool {
        let cgroup = self.processes[&pid].cgroup.clone();
        if !self.make_room(&cgroup, bytes, events) || !self.is_alive(pid) {
            return false;
        }
        self.cgroups.charge(&cgroup, |usage| {
            usage.memory_current += bytes;
            usage.memory_peak = usage.memory_peak.max(usage.memory_current);
        });
        if let Some(p) = self.processes.get_mut(&pid) {
            p.rss += bytes;
            p.held += bytes;
        }
        true
    }

    /// Memory a process gave back.
    fn uncharge_memory(&mut self, pid: Pid, bytes: u64) {
        let Some(p) = self.processes.get_mut(&pid) else {
            return;
        };
        let bytes = bytes.min(
            p.rss
                .saturating_sub(process::Program::Instant.initial_rss()),
        );
        p.rss -= bytes;
        p.held = p.held.saturating_sub(bytes);
        let cgroup = p.cgroup.clone();
        self.cgroups.charge(&cgroup, |usage| {
            usage.memory_current = usage.memory_current.saturating_sub(bytes);
        });
    }

    fn container_by_id(&self, id: &str) -> Option<&SimContainer> {
        self.containers.iter().find(|c| c.info.id == id)
    }

    fn find_container(&self, id_or_name: &str) -> Result<usize, EngineError> {
        let infos: Vec<&Container> = self.containers.iter().map(|c| &c.info).collect();
        crate::host::find_container(&infos, id_or_name)
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
        let parent = p.ppid;
        self.zombies.insert((parent, pid));
        let Some(p) = self.processes.get_mut(&pid) else {
            return;
        };
        p.program = Program::Exiting { code: 0 };
        // Its descriptors close: a pipe it wrote to may end for its reader.
        let fds = std::mem::take(&mut p.fds);
        self.drop_fds(fds);
        let Some(p) = self.processes.get_mut(&pid) else {
            return;
        };
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
            // The dying init reaps what is its, in its namespace; a process
            // whose parent is outside (nsenter's child) stays a zombie for
            // that parent to reap.
            for member in members {
                let parent = self.processes.get(&member).map(|m| m.ppid);
                let parent_inside = parent.is_some_and(|ppid| {
                    ppid == pid
                        || self
                            .processes
                            .get(&ppid)
                            .is_some_and(|q| q.pid_ns_chain.contains(&own_pid_ns))
                });
                if parent_inside {
                    self.release(member);
                }
            }
        } else {
            // Orphans go to the reaper of the dying parent's pid namespace
            // (its init; the host's init for host processes).
            let children: Vec<Pid> = self
                .processes
                .values()
                .filter(|q| q.ppid == pid)
                .map(|q| q.pid)
                .collect();
            let reaper = self.namespace_init_of(pid);
            for child in children {
                if let Some(c) = self.processes.get_mut(&child) {
                    c.ppid = reaper;
                    if self.zombies.remove(&(pid, child)) {
                        self.zombies.insert((reaper, child));
                    }
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
            let oom_killed = self
                .cgroups
                .get(&self.containers[index].info.cgroup)
                .is_some_and(|cg| cg.usage.oom_kill > 0);
            let c = &mut self.containers[index];
            c.logs.finish(self.clock_ms);
            c.info.state = ContainerState::Exited { status, oom_killed };
            c.info.init_pid = None;
            c.info.finished_ms = Some(self.clock_ms);
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
            self.zombies.remove(&(p.ppid, pid));
            self.namespaces.leave(&p.ns);
            self.cgroups.charge(&p.cgroup, |usage| {
                usage.pids_current = usage.pids_current.saturating_sub(1)
            });
        }
    }

    /// Delivers a signal from `sender` (0 for the kernel or the engine,
    /// which sit in the host's namespaces).
    fn signal(&mut self, sender: Pid, pid: Pid, signal: Signal, events: &mut Vec<Event>) {
        let Some(p) = self.processes.get(&pid) else {
            return;
        };
        if p.state == ProcessState::Zombie {
            return;
        }
        let from_outside = match self.processes.get(&sender) {
            Some(s) if sender != 0 => s.own_pid_ns() != p.own_pid_ns(),
            _ => true,
        };
        let handled = signal.catchable() && p.program.handles_signals();
        if handled || !signal.terminates_by_default() {
            return;
        }
        // A namespace's init only gets the signals it has handlers for,
        // and SIGKILL from an ancestor namespace; the host's init none.
        if p.is_namespace_init() && !(signal == Signal::Kill && from_outside) {
            return;
        }
        if p.pid == 1 {
            return;
        }
        self.exit_process(pid, ExitStatus::Signaled(signal), events);
    }

    /// Runs one quantum: the scheduler hands out CPU time, then every
    /// process takes a step.
    fn step(&mut self, start_ms: u64, events: &mut Vec<Event>) {
        for index in 0..self.containers.len() {
            if let Some(at) = self.containers.get(index).and_then(|c| c.kill_at_ms)
                && at <= self.clock_ms
            {
                self.containers[index].kill_at_ms = None;
                if let Some(init) = self.containers[index].info.init_pid {
                    self.signal(0, init, Signal::Kill, events);
                }
            }
        }
        // A quantum is normally QUANTUM_MS long; the last one of an
        // `advance` that is not a multiple of it is shorter.
        let now_usec = start_ms * 1000;
        let quantum_usec = (self.clock_ms - start_ms) * 1000;
        let runnable: Vec<Runnable> = self
            .processes
            .values()
            .filter(|p| p.state != ProcessState::Zombie && p.program.runnable())
            .map(|p| Runnable {
                pid: p.pid,
                cgroup: &p.cgroup,
                want_usec: p.program.cpu_want(quantum_usec),
            })
            .collect();
        let granted = self
            .cgroups
            .schedule(&runnable, HOST_CPUS, quantum_usec, now_usec);
        for (pid, usec) in &granted {
            if let Some(p) = self.processes.get_mut(pid) {
                p.cpu_usec += usec;
                self.busy_usec += usec;
            }
        }
        let pids: Vec<Pid> = self.processes.keys().copied().collect();
        for pid in pids {
            let cpu = granted.get(&pid).copied().unwrap_or(0);
            self.step_process(pid, cpu, events);
        }
    }

    fn step_process(&mut self, pid: Pid, cpu_usec: u64, events: &mut Vec<Event>) {
        let Some(p) = self.processes.get_mut(&pid) else {
            return;
        };
        if p.state == ProcessState::Zombie {
            return;
        }
        let program = std::mem::replace(&mut p.program, Program::Exiting { code: 0 });
        let next = match program {
            Program::HostInit | Program::Engine => {
                self.reap_children(pid);
                Some(program)
            }
            Program::HostShell => Some(program),
            Program::Verb(verb) => self.step_verb(pid, verb, events),
            Program::Exiting { code } => {
                self.exit_process(pid, ExitStatus::Code(code), events);
                None
            }
            Program::ExecFailed { message, code } => {
                self.write_out(pid, Stream::Stderr, format!("{message}\n"), events);
                self.exit_process(pid, ExitStatus::Code(code), events);
                None
            }
            Program::Instant => {
                if cpu_usec == 0 {
                    // Throttled or starved: it runs when it gets the CPU.
                    Some(Program::Instant)
                } else {
                    let code = self.run_instant(pid, events);
                    if self.is_alive(pid)
                        && matches!(self.processes[&pid].program, Program::Exiting { .. })
                    {
                        self.exit_process(pid, ExitStatus::Code(code), events);
                    }
                    None
                }
            }
            Program::Sleep { until_ms } => {
                if until_ms.is_some_and(|t| t <= self.clock_ms) {
                    self.exit_process(pid, ExitStatus::Code(0), events);
                    None
                } else {
                    Some(program)
                }
            }
            Program::Shell(task) => self.step_shell(pid, task, cpu_usec, events),
            Program::Copy => match self.fd_read(pid, 0, fd::PIPE_CAPACITY) {
                fd::ReadResult::Data(data) => {
                    self.write_out(
                        pid,
                        Stream::Stdout,
                        String::from_utf8_lossy(&data).into_owned(),
                        events,
                    );
                    Some(Program::Copy)
                }
                fd::ReadResult::Wait => Some(Program::Copy),
                fd::ReadResult::End => {
                    self.exit_process(pid, ExitStatus::Code(0), events);
                    None
                }
                fd::ReadResult::Error(message) => {
                    self.write_out(
                        pid,
                        Stream::Stderr,
                        format!("cat: read error: {message}\n"),
                        events,
                    );
                    self.exit_process(pid, ExitStatus::Code(1), events);
                    None
                }
            },
            Program::WaitChild { child } => {
                let mut ended = None;
                for (zombie, status) in self.reap_children(pid) {
                    if zombie == child {
                        ended = Some(status);
                    }
                }
                match ended {
                    Some(status) => {
                        self.exit_process(pid, ExitStatus::Code(status.shell_code()), events);
                        None
                    }
                    None if !self.processes.contains_key(&child) => {
                        self.exit_process(pid, ExitStatus::Code(0), events);
                        None
                    }
                    None => Some(Program::WaitChild { child }),
                }
            }
            Program::MemHog {
                target,
                touched,
                hold_ms,
                hold_until,
            } => self.step_memhog(pid, cpu_usec, target, touched, hold_ms, hold_until, events),
            Program::CpuBurn {
                until_ms,
                started_ms,
            } => {
                if until_ms.is_some_and(|t| t <= self.clock_ms) {
                    let p = &self.processes[&pid];
                    let wall = (self.clock_ms - started_ms) as f64 / 1000.0;
                    let cpu = p.cpu_usec as f64 / 1e6;
                    self.write_out(
                        pid,
                        Stream::Stdout,
                        format!("cpuburn: {wall:.2} s of wall time, {cpu:.2} s of CPU\n"),
                        events,
                    );
                    self.exit_process(pid, ExitStatus::Code(0), events);
                    None
                } else {
                    Some(program)
                }
            }
            Program::ForkBomb { complained } => {
                let mut complained = complained;
                if cpu_usec > 0 {
                    let spawn = self.child_spawn(pid, vec!["forkbomb".into()]);
                    match self.fork_exec(spawn, events) {
                        Ok(_) => {}
                        Err(err) if !complained && self.is_alive(pid) => {
                            complained = true;
                            let text = format!("forkbomb: fork: {}\n", err.message());
                            self.write_out(pid, Stream::Stderr, text, events);
                        }
                        Err(_) => {}
                    }
                }
                Some(Program::ForkBomb { complained })
            }
        };
        if let Some(program) = next
            && let Some(p) = self.processes.get_mut(&pid)
            && p.state != ProcessState::Zombie
        {
            p.state = program.state();
            p.program = program;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn step_memhog(
        &mut self,
        pid: Pid,
        cpu_usec: u64,
        target: u64,
        touched: u64,
        hold_ms: Option<u64>,
        hold_until: Option<u64>,
        events: &mut Vec<Event>,
    ) -> Option<Program> {
        let mut touched = touched;
        let mut hold_until = hold_until;
        if touched < target {
            // Touching pages takes CPU: a throttled hog touches slower.
            let rate = process::MEMHOG_BYTES_PER_QUANTUM * cpu_usec / QUANTUM_USEC;
            let chunk = rate.min(target - touched);
            if chunk > 0 {
                if !self.charge_memory(pid, chunk, events) {
                    return None;
                }
                touched += chunk;
            }
            if touched == target {
                let text = format!("memhog: touched {}\n", crate::cgroup::format_size(target));
                self.write_out(pid, Stream::Stdout, text, events);
                hold_until = hold_ms.map(|ms| self.clock_ms.saturating_add(ms));
            }
        } else if hold_until.is_some_and(|t| t <= self.clock_ms) {
            self.exit_process(pid, ExitStatus::Code(0), events);
            return None;
        }
        Some(Program::MemHog {
            target,
            touched,
            hold_ms,
            hold_until,
        })
    }

    /// When the next thing happens, if no process wants the CPU and no
    /// zombie waits for a reaping parent: the earliest timer (a `sleep`
    /// ending, a hog's hold ending, a stop's SIGKILL), or `u64::MAX`.
    fn idle_until(&self) -> Option<u64> {
        let mut next = u64::MAX;
        for p in self.processes.values() {
            if p.state == ProcessState::Zombie {
                // A parent that reaps may do so at its next step.
                if self.processes.get(&p.ppid).is_some_and(|parent| {
                    matches!(
                        parent.program,
                        Program::HostInit | Program::Engine | Program::WaitChild { .. }
                    )
                }) {
                    return None;
                }
                continue;
            }
            match &p.program {
                Program::Sleep { until_ms } => next = next.min(until_ms.unwrap_or(u64::MAX)),
                Program::MemHog {
                    target,
                    touched,
                    hold_until,
                    ..
                } if touched >= target => next = next.min(hold_until.unwrap_or(u64::MAX)),
                Program::HostInit | Program::Engine | Program::HostShell => {}
                // Asked, it waits for the terminal; with output, it writes.
                Program::Verb(verb) if verb.asked && verb.done.is_none() => {}
                // A shell waiting for a child that runs, or on a pipe no
                // one has written to or read from since.
                Program::Shell(task) if task.waiting && !self.shell_can_go(p.pid, task) => {
                    if let Some(at) = task.sleeps_until() {
                        next = next.min(at);
                    }
                }
                Program::Copy if self.fd_would_wait(p.pid, 0) => {}
                Program::WaitChild { child }
                    if self
                        .processes
                        .get(child)
                        .is_some_and(|c| c.state != ProcessState::Zombie) => {}
                _ => return None,
            }
        }
        for c in &self.containers {
            if let Some(at) = c.kill_at_ms {
                next = next.min(at);
            }
        }
        Some(next)
    }

    /// What a child of `parent` inherits: namespaces, cgroup, environment,
    /// working directory and output.
    fn child_spawn(&mut self, parent: Pid, argv: Vec<String>) -> Spawn {
        let table = self.processes[&parent].fds.clone();
        let fds = self.copy_fds(&table);
        let p = &self.processes[&parent];
        Spawn {
            ppid: parent,
            argv,
            env: p.env.clone(),
            cwd: p.cwd.clone(),
            root: p.root.clone(),
            ns: p.ns.clone(),
            cgroup: p.cgroup.clone(),
            container: p.container.clone(),
            fds,
        }
    }

    fn reap_children(&mut self, pid: Pid) -> Vec<(Pid, ExitStatus)> {
        let zombies: Vec<(Pid, ExitStatus)> = self
            .zombies
            .range((pid, 0)..=(pid, Pid::MAX))
            .filter_map(|(_, child)| self.processes.get(child))
            .map(|c| (c.pid, c.exit.unwrap_or(ExitStatus::Code(0))))
            .collect();
        for (zombie, _) in &zombies {
            self.release(*zombie);
        }
        zombies
    }

    fn create_container(
        &mut self,
        spec: ContainerSpec,
    ) -> Result<(usize, Vec<Event>), EngineError> {
        let names: Vec<&str> = self
            .containers
            .iter()
            .map(|c| c.info.name.as_str())
            .collect();
        let host = plan::HostFacts {
            cpus: HOST_CPUS as u32,
            cgroups: true,
        };
        plan::check(&spec, &names, host)?;
        let image = self
            .images
            .iter()
            .find(|i| {
                i.names.contains(&spec.image) || i.id.0 == spec.image || i.id.short() == spec.image
            })
            .ok_or_else(|| EngineError::NoSuchImage(spec.image.clone()))?
            .clone();
        let id = Digest::sha256(
            format!("{}:{}:{}", self.created + 1, spec.image, self.clock_ms).as_bytes(),
        )
        .0
        .trim_start_matches("sha256:")
        .to_string();
        let plan = plan::plan(&spec, &image.config, &id, &names, host)?;
        // Volumes first: a bad one must leave nothing behind.
        let mut binds = Vec::new();
        for volume in &plan.volumes {
            let host_path = match &volume.source {
                plan::VolumeSource::HostPath(given) => {
                    let path = given.trim_matches('/').to_string();
                    let problem = match self.host_fs.get(&path).map(|n| &n.kind) {
                        None => Some(plan::HostPathProblem::Missing),
                        Some(tarball::NodeKind::Symlink(to)) => {
                            Some(plan::HostPathProblem::Symlink(Some(to.clone())))
                        }
                        // A directory, or a file bound on its own.
                        Some(_) => None,
                    };
                    let inside =
                        path == "var/lib/anchorage" || path.starts_with("var/lib/anchorage/");
                    let problem = problem.or_else(|| {
                        inside
                            .then(|| plan::HostPathProblem::InsideData("/var/lib/anchorage".into()))
                    });
                    if let Some(problem) = problem {
                        return Err(plan::host_path_error(given, problem));
                    }
                    path
                }
                plan::VolumeSource::Named(name) => {
                    format!("var/lib/anchorage/volumes/{name}/_data")
                }
            };
            binds.push((host_path, volume.target.clone()));
        }
        for (host_path, _) in &binds {
            self.host_mkdir_p(host_path);
        }

        self.created += 1;
        let cgroup = format!("{CONTAINERS_CGROUP}/{}", &id);
        self.cgroups.create(&cgroup, plan.limits);

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
                    hostname: plan.hostname.clone(),
                },
                NamespaceKind::Net => NamespaceDetail::Net {
                    interfaces: vec!["lo".into()],
                },
                NamespaceKind::Mnt => NamespaceDetail::Mnt {
                    root: format!("overlay:{}", image.id.short()),
                    mounts: vec![],
                },
                _ => NamespaceDetail::Plain,
            };
            let inode = self.namespaces.create(kind, host[&kind], user, detail);
            ns.insert(kind, inode);
        }
        if let Some(cg_ns) = self.namespaces.table.get_mut(&ns[&NamespaceKind::Cgroup]) {
            cg_ns.cgroup_root = Some(cgroup.clone());
        }
        // The runtime brings the container's loopback up.
        if let Some(net_ns) = self.namespaces.table.get_mut(&ns[&NamespaceKind::Net]) {
            net_ns.net = Some(net::NetStack::loopback_up());
        }

        let lower = self
            .lowers
            .entry(image.id.clone())
            .or_insert_with(|| Arc::new(Tree::from_layers(&image.layers)))
            .clone();
        let mut rootfs = Overlay::new(lower);
        self.mount_container_root(
            &id,
            &image,
            ns[&NamespaceKind::Mnt],
            ns[&NamespaceKind::Pid],
            &cgroup,
            &binds,
            &mut rootfs,
        );

        let namespaces = ns
            .iter()
            .map(|(kind, inode)| NamespaceId {
                kind: *kind,
                inode: *inode,
            })
            .collect();
        let info = plan.container(&spec, &id, &image.id.0, cgroup, namespaces, self.clock_ms);
        // Created namespaces are held by the container until it starts.
        self.namespaces.enter(&ns);
        self.containers.push(SimContainer {
            info,
            ns,
            kill_at_ms: None,
            rootfs,
            logs: MemoryLog::new(spec.log),
            cwd: plan.cwd,
        });
        let index = self.containers.len() - 1;
        self.update_writable(index);
        Ok((
            index,
            vec![Event::ContainerCreated {
                id,
                name: plan.name,
            }],
        ))
    }

    /// The mount table a runtime sets up: the overlay root, `/proc`, a
    /// small `/dev`, read-only `/sys` and cgroupfs, and the volumes. Mount
    /// points missing from the image are made in the writable layer.
    #[allow(clippy::too_many_arguments)]
    fn mount_container_root(
        &mut self,
        id: &str,
        image: &Image,
        mnt: u64,
        pid_ns: u64,
        cgroup: &str,
        binds: &[(String, String)],
        rootfs: &mut Overlay,
    ) {
        let lowerdir: Vec<String> = image
            .layers
            .iter()
            .rev()
            .map(|l| format!("/var/lib/anchorage/layers/{}/fs", l.digest.short()))
            .collect();
        let overlay_options = format!(
            "rw,relatime,lowerdir={},upperdir=/var/lib/anchorage/containers/{}/upper,workdir=/var/lib/anchorage/containers/{}/work",
            lowerdir.join(":"),
            &id[..12],
            &id[..12]
        );
        // The container's /dev, as the runtime makes it: a tmpfs with the
        // host's device nodes bound onto empty files in it (the nodes are
        // owned by the host's root, which the container's user namespace
        // does not map: they show as the overflow ids, nobody and nogroup)
        // and the usual links.
        let mut dev = Tree::empty(0o755, self.now_epoch());
        let device = |major, minor| {
            let mut tree = Tree::empty(0o755, self.boot_epoch());
            tree.insert(
                "",
                Node {
                    kind: tarball::NodeKind::CharDevice(major, minor),
                    mode: 0o666,
                    uid: OVERFLOW_ID,
                    gid: OVERFLOW_ID,
                    mtime: self.boot_epoch(),
                },
            );
            tree
        };
        // devtmpfs is sized as tmpfs is by default: half the memory.
        let devtmpfs_options = format!(
            "rw,relatime,size={}k,nr_inodes={},mode=755",
            HOST_MEMORY_BYTES / 2 / 1024,
            HOST_MEMORY_BYTES / 2 / 4096
        );
        let mut device_binds = Vec::new();
        for (name, major, minor) in [
            ("null", 1, 3),
            ("zero", 1, 5),
            ("full", 1, 7),
            ("random", 1, 8),
            ("urandom", 1, 9),
            ("tty", 5, 0),
        ] {
            dev.insert(name, Node::file(Vec::new(), 0o644, self.now_epoch()));
            device_binds.push((
                format!("/dev/{name}"),
                "devtmpfs",
                "devtmpfs".to_string(),
                devtmpfs_options.clone(),
                Backing::Tmpfs(device(major, minor)),
            ));
        }
        let links = [
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            ("fd", "/proc/self/fd"),
            ("ptmx", "pts/ptmx"),
        ];
        for (name, target) in links {
            dev.insert(
                name,
                Node {
                    kind: tarball::NodeKind::Symlink(target.to_string()),
                    mode: 0o777,
                    uid: 0,
                    gid: 0,
                    mtime: self.now_epoch(),
                },
            );
        }
        dev.insert("shm", Node::dir(0o755, self.now_epoch()));
        dev.insert("pts", Node::dir(0o755, self.now_epoch()));
        let now = self.now_epoch();
        // A devpts of the container's own (its `ptmx` owned by its root).
        let mut pts = Tree::empty(0o755, now);
        pts.insert(
            "ptmx",
            Node {
                kind: tarball::NodeKind::CharDevice(5, 2),
                mode: 0o666,
                uid: 0,
                gid: 0,
                mtime: now,
            },
        );
        // What the runtime hides: directories under an empty read-only
        // tmpfs, files under the host's /dev/null; and what it makes
        // read-only, bound onto itself.
        let hidden_dir = |target: &str| {
            (
                target.to_string(),
                "tmpfs",
                "tmpfs".to_string(),
                format!("ro,relatime,{}", tmpfs_owner()),
                Backing::Tmpfs(Tree::empty(0o1777, now)),
            )
        };
        let hidden_file = |target: &str| {
            (
                target.to_string(),
                "devtmpfs",
                "devtmpfs".to_string(),
                devtmpfs_options.clone(),
                Backing::Tmpfs(device(1, 3)),
            )
        };
        let read_only = |sub: &str| {
            (
                format!("/proc/{sub}"),
                "proc",
                "proc".to_string(),
                "ro,relatime".to_string(),
                Backing::Proc {
                    pid_ns,
                    sub: sub.to_string(),
                },
            )
        };
        let mut mounts: Vec<(String, &'static str, String, String, Backing)> = vec![
            (
                "/".into(),
                "overlay",
                "overlay".into(),
                overlay_options,
                Backing::Overlay {
                    container: id.to_string(),
                },
            ),
            (
                "/proc".into(),
                "proc",
                "proc".into(),
                "rw,nosuid,nodev,noexec,relatime".into(),
                Backing::Proc {
                    pid_ns,
                    sub: String::new(),
                },
            ),
            (
                "/dev".into(),
                "tmpfs",
                "tmpfs".into(),
                format!("rw,nosuid,size=65536k,mode=755,{}", tmpfs_owner()),
                Backing::Tmpfs(dev),
            ),
        ];
        mounts.extend(device_binds);
        mounts.extend([
            (
                "/dev/pts".into(),
                "devpts",
                "devpts".into(),
                "rw,nosuid,noexec,relatime,mode=620,ptmxmode=666".into(),
                Backing::Tmpfs(pts),
            ),
            (
                "/dev/shm".into(),
                "tmpfs",
                "shm".into(),
                format!(
                    "rw,nosuid,nodev,noexec,relatime,size=65536k,{}",
                    tmpfs_owner()
                ),
                Backing::Tmpfs(Tree::empty(0o1777, now)),
            ),
            (
                "/sys".into(),
                "sysfs",
                "sysfs".into(),
                "ro,nosuid,nodev,noexec,relatime".into(),
                Backing::Sysfs,
            ),
        ]);
        // Volumes, then what is hidden and made read-only, as the runtime
        // mounts them; cgroupfs last (after its pivot_root).
        for (host_path, target) in binds {
            mounts.push((
                target.clone(),
                "ext4",
                "/dev/vda1".into(),
                "rw,relatime".into(),
                Backing::Host {
                    path: host_path.clone(),
                },
            ));
        }
        mounts.extend([
            hidden_dir("/proc/acpi"),
            hidden_file("/proc/kcore"),
            hidden_file("/proc/keys"),
            hidden_file("/proc/timer_list"),
            hidden_dir("/sys/firmware"),
            read_only("bus"),
            read_only("fs"),
            read_only("irq"),
            read_only("sys"),
            read_only("sysrq-trigger"),
        ]);
        mounts.extend(self.container_cgroup_mounts(cgroup));
        let mut placed: Vec<String> = Vec::new();
        for (target, fstype, source, options, backing) in mounts {
            let rel = target.trim_start_matches('/');
            // A mount point in a file system mounted before (`/dev/null` in
            // the /dev tmpfs) is that file system's; only those on the root
            // are made in the writable layer.
            let on_root = !placed
                .iter()
                .any(|p| p != "/" && target.starts_with(&format!("{p}/")));
            placed.push(target.clone());
            // A file bound on its own gets a file to cover, not a
            // directory.
            let file_bind = matches!(&backing, Backing::Host { path }
                if self.host_fs.get(path).is_some_and(|n| !n.is_dir()));
            if on_root && !rel.is_empty() && rootfs.get(rel).is_none_or(|n| !n.is_dir()) {
                let mut dir = String::new();
                let parts: Vec<&str> = rel.split('/').collect();
                for (i, part) in parts.iter().enumerate() {
                    dir = tarball::join(&dir, part);
                    let last = i + 1 == parts.len();
                    if last && file_bind {
                        if rootfs.get(&dir).is_none() {
                            rootfs.put(&dir, Node::file(Vec::new(), 0o644, now));
                        }
                    } else if rootfs.get(&dir).is_none_or(|n| !n.is_dir()) {
                        rootfs.put(&dir, Node::dir(0o755, now));
                    }
                }
            }
            self.namespaces
                .mount(mnt, &target, fstype, &source, &options, backing);
        }
    }

    /// `mkdir -p` on the host's file system.
    fn host_mkdir_p(&mut self, path: &str) {
        let mut dir = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            dir = tarball::join(&dir, part);
            if self.host_fs.get(&dir).is_none() {
                self.host_fs
                    .insert(&dir, Node::dir(0o755, self.now_epoch()));
            }
        }
    }

    fn update_writable(&mut self, index: usize) {
        let c = &mut self.containers[index];
        let (entries, bytes) = c.rootfs.upper_usage();
        c.info.writable_entries = entries;
        c.info.writable_bytes = bytes;
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
        let spawn = Spawn {
            ppid: self.engine_pid,
            argv: c.info.command.clone(),
            env: c.info.env.clone(),
            cwd: c.cwd.clone(),
            root: "/".into(),
            ns: c.ns.clone(),
            cgroup: c.info.cgroup.clone(),
            container: Some(c.info.id.clone()),
            fds: fd::FdTable::new(),
        };
        let (ns, id, cgroup) = (c.ns.clone(), c.info.id.clone(), c.info.cgroup.clone());
        // Docker without -i: nothing to read; output to the console.
        let mut spawn = spawn;
        spawn.fds = self.std_fds(Sink::Console(Stream::Stdout), Sink::Console(Stream::Stderr));
        let mut events = Vec::new();
        let init = self.fork_exec(spawn, &mut events).map_err(|err| {
            EngineError::Refused(format!("fork failed: {} (cgroup {cgroup})", err.message()))
        })?;
        // The process holds the namespaces now.
        self.namespaces.leave(&ns);
        let index = self.find_container(&id)?;
        let alive = self.is_alive(init);
        let c = &mut self.containers[index];
        c.info.started_ms = Some(self.clock_ms);
        events.push(Event::ContainerStarted {
            id,
            init_pid: init,
            namespaces: c.info.namespaces.clone(),
        });
        if alive {
            c.info.state = ContainerState::Running;
            c.info.init_pid = Some(init);
        }
        Ok(events)
    }

    fn remove_container(&mut self, index: usize, events: &mut Vec<Event>) {
        let c = self.containers.remove(index);
        if c.info.state == ContainerState::Created {
            self.namespaces.leave(&c.ns);
        }
        // Zombies of its pid namespace that nobody reaped go with it.
        let leftovers: Vec<Pid> = self
            .processes
            .values()
            .filter(|p| p.container.as_deref() == Some(c.info.id.as_str()))
            .map(|p| p.pid)
            .collect();
        for pid in leftovers {
            self.release(pid);
        }
        self.cgroups.remove(&c.info.cgroup);
        events.push(Event::ContainerRemoved { id: c.info.id });
    }
}

use fs::Errno;

impl Engine for SimEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            kind: EngineKind::Simulated,
            capabilities: crate::host::Capabilities {
                real_kernel: false,
                limits: true,
                terminals: false,
                uploads: false,
            },
            hostname: self.hostname(),
            kernel: format!("Linux {KERNEL_RELEASE}"),
            cgroup_layout: self.cgroup_layout,
            rootless: false,
            cpus: HOST_CPUS as u32,
            memory_bytes: HOST_MEMORY_BYTES,
            clock_epoch_ms: BOOT_EPOCH * 1000,
            note: "the simulated kernel: deterministic, no root, nothing touches the real host"
                .into(),
        }
    }

    fn apply(&mut self, command: Command) -> Result<Vec<Event>, EngineError> {
        match command {
            Command::Create { spec } => self.create_container(spec).map(|(_, events)| events),
            Command::Run { spec } => {
                let (index, mut events) = self.create_container(spec)?;
                match self.start_container(index) {
                    Ok(more) => events.extend(more),
                    Err(err) => {
                        // `run` is all or nothing: no container is left behind.
                        self.remove_container(index, &mut Vec::new());
                        return Err(err);
                    }
                }
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
                    self.containers[index].kill_at_ms = Some(
                        self.clock_ms
                            .saturating_add(timeout_ms.min(process::MAX_DURATION_MS)),
                    );
                    self.signal(0, init, Signal::Term, &mut events);
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
                self.signal(0, init, signal, &mut events);
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
                    self.signal(0, init, Signal::Kill, &mut events);
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
                // A command that cannot run is refused before anything
                // starts, as the real engine refuses it.
                if let Some(init) = c.info.init_pid
                    && let Err((_, code @ (126 | 127))) = self.load(init, &argv)
                {
                    return Err(EngineError::Exec {
                        program: argv[0].clone(),
                        reason: userland::runtime_exec_reason(&argv[0], code).into(),
                    });
                }
                // setns into every namespace of the container, then fork.
                let spawn = Spawn {
                    ppid: self.engine_pid,
                    argv: argv.clone(),
                    env: c.info.env.clone(),
                    cwd: "/".into(),
                    root: "/".into(),
                    ns: c.ns.clone(),
                    cgroup: c.info.cgroup.clone(),
                    container: Some(c.info.id.clone()),
                    fds: fd::FdTable::new(),
                };
                let cgroup = c.info.cgroup.clone();
                let mut spawn = spawn;
                spawn.fds =
                    self.std_fds(Sink::Terminal(Stream::Stdout), Sink::Terminal(Stream::Stderr));
                let mut events = Vec::new();
                self.fork_exec(spawn, &mut events)
                    .map_err(|err| EngineError::Exec {
                        program: argv[0].clone(),
                        reason: format!("fork failed: {} (cgroup {cgroup})", err.message()),
                    })?;
                Ok(events)
            }
            Command::SetLimits { container, limits } => {
                limits
                    .validate()
                    .map_err(|e| EngineError::InvalidSpec(e.to_string()))?;
                let index = self.find_container(&container)?;
                let c = &mut self.containers[index];
                c.info.limits = limits;
                let (id, cgroup) = (c.info.id.clone(), c.info.cgroup.clone());
                if let Some(cg) = self.cgroups.get_mut(&cgroup) {
                    cg.limits = limits;
                }
                let mut events = vec![Event::LimitsChanged { id, limits }];
                // Lowering memory.max below usage reclaims, then OOM-kills.
                self.make_room(&cgroup, 0, &mut events);
                Ok(events)
            }
            Command::OpenTerminal { .. }
            | Command::TerminalInput { .. }
            | Command::ResizeTerminal { .. }
            | Command::CloseTerminal { .. } => Err(EngineError::Refused(
                "the simulated kernel has no terminals to open: its host's terminal is on the page, and `anchorage exec` runs commands in a container".into(),
            )),
        }
    }

    fn advance(&mut self, elapsed_ms: u64) -> Vec<Event> {
        let mut events = Vec::new();
        let target = self.clock_ms.saturating_add(elapsed_ms);
        while self.clock_ms < target {
            // Nothing to run and nothing due: skip the quanta in which
            // nothing would happen (a `sleep 1000` costs no more than
            // `sleep 1`). The clock stays on quantum boundaries.
            if let Some(idle_until) = self.idle_until() {
                let skip_to = idle_until.min(target);
                let aligned = skip_to - skip_to % QUANTUM_MS;
                if aligned > self.clock_ms + QUANTUM_MS {
                    self.clock_ms = aligned - QUANTUM_MS;
                }
            }
            let start = self.clock_ms;
            self.clock_ms = (self.clock_ms + QUANTUM_MS).min(target);
            self.step(start, &mut events);
            if self.load.due(self.clock_ms) {
                let runnable = self.runnable_count();
                self.load.sample(self.clock_ms, runnable);
            }
        }
        for index in 0..self.containers.len() {
            self.update_writable(index);
        }
        events
    }

    fn snapshot(&self) -> HostSnapshot {
        let mut cache = self.cache.0.lock().unwrap_or_else(|e| e.into_inner());
        let cache = &mut *cache;
        let mut old = cache.processes.iter().peekable();
        let mut processes = Vec::with_capacity(self.processes.len());
        for p in self.processes.values() {
            while old.peek().is_some_and(|o| o.pid < p.pid) {
                old.next();
            }
            // What can change about a process; the rest is fixed at fork.
            let unchanged = old.peek().filter(|o| {
                o.pid == p.pid
                    && o.ppid == p.ppid
                    && o.state == p.state
                    && o.memory_bytes == p.rss
                    && o.cpu_usec == p.cpu_usec
                    && o.exit == p.exit
                    && o.argv == p.argv
            });
            processes.push(match unchanged {
                Some(o) => Arc::clone(o),
                None => Arc::new(self.process_info(p)),
            });
        }
        cache.processes = processes.clone();
        // Containers keep their order; removals only drop some.
        let mut containers = Vec::with_capacity(self.containers.len());
        let mut old = cache.containers.iter().peekable();
        for c in &self.containers {
            while old.peek().is_some_and(|o| o.id != c.info.id) {
                old.next();
            }
            containers.push(match old.peek() {
                Some(o) if ***o == c.info => Arc::clone(o),
                _ => Arc::new(c.info.clone()),
            });
        }
        cache.containers = containers.clone();
        if cache.images.len() != self.images.len() {
            cache.images = self.images.iter().map(|i| Arc::new(i.info())).collect();
        }
        HostSnapshot {
            engine: self.info(),
            clock_ms: self.clock_ms,
            processes,
            namespaces: self.namespaces.snapshot(&mut cache.namespaces),
            cgroups: self.cgroups.snapshot(&mut cache.cgroups),
            containers,
            images: cache.images.clone(),
            host: None,
        }
    }

    fn quiet_for_ms(&self) -> Option<u64> {
        self.idle_until()
            .map(|until| until.saturating_sub(self.clock_ms))
    }

    fn logs(&self, container: &str, query: &LogQuery) -> Result<LogBatch, EngineError> {
        let index = self.find_container(container)?;
        Ok(crate::console::read(&self.containers[index].logs, query))
    }
}

impl SimEngine {
    fn process_info(&self, p: &SimProcess) -> Process {
        Process {
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
        }
    }
}

#[cfg(test)]
mod tests;
