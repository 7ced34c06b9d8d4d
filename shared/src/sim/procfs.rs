//! procfs and cgroupfs, rendered when read, as the kernel does: what a
//! process sees depends on its pid namespace (which pids exist and what
//! they are called), its mount namespace (`mounts`, `mountinfo`), its user
//! namespace (`uid_map`) and its cgroup namespace (`/proc/self/cgroup` and
//! the root of `/sys/fs/cgroup`).

use std::fmt::Write as _;

use crate::namespace::{IdMap, NamespaceKind};
use crate::process::{Pid, ProcessState};

use super::fs::Errno;
use super::namespace::Backing;
use super::process::SimProcess;
use super::tarball::{Node, NodeKind};
use super::{HOST_CPUS, HOST_MEMORY_BYTES, SimEngine};

/// The files of `/proc/PID`.
const PID_FILES: &[&str] = &[
    "cgroup",
    "cmdline",
    "comm",
    "environ",
    "gid_map",
    "mountinfo",
    "mounts",
    "net",
    "ns",
    "stat",
    "status",
    "uid_map",
];

/// The files of `/proc/PID/ns`, as Linux 6.1 lists them.
const NS_LINKS: &[(&str, NamespaceKind)] = &[
    ("cgroup", NamespaceKind::Cgroup),
    ("ipc", NamespaceKind::Ipc),
    ("mnt", NamespaceKind::Mnt),
    ("net", NamespaceKind::Net),
    ("pid", NamespaceKind::Pid),
    ("pid_for_children", NamespaceKind::Pid),
    ("time", NamespaceKind::Time),
    ("time_for_children", NamespaceKind::Time),
    ("user", NamespaceKind::User),
    ("uts", NamespaceKind::Uts),
];

/// The top-level files of `/proc`.
const PROC_FILES: &[&str] = &[
    "bus",
    "fs",
    "irq",
    "loadavg",
    "meminfo",
    "mounts",
    "net",
    "self",
    "stat",
    "sys",
    "sysrq-trigger",
    "uptime",
    "version",
];

/// The top-level directories of `/proc` whose contents are not modelled:
/// they are there, for a runtime to bind read-only, and empty.
const PROC_UNMODELLED_DIRS: &[&str] = &["bus", "fs", "irq", "sys"];

fn id_map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{:>10} {:>10} {:>10}\n", m.inside, m.outside, m.count))
        .collect()
}

impl SimEngine {
    /// The process `/proc/NAME` names in a procfs of the pid namespace
    /// `pid_ns`: a pid there, or `self` (the reader, if that namespace can
    /// see it).
    fn proc_target(&self, viewer: Pid, pid_ns: u64, name: &str) -> Option<&SimProcess> {
        if name == "self" {
            return self
                .processes
                .get(&viewer)
                .filter(|me| me.pid_in(pid_ns).is_some());
        }
        let inner: Pid = name.parse().ok()?;
        self.processes
            .values()
            .find(|p| p.pid_in(pid_ns) == Some(inner))
    }

    /// The pid namespace of the procfs mounted at `/proc` for a process:
    /// what `ps` lists.
    pub(crate) fn proc_pid_ns(&self, viewer: Pid) -> Option<u64> {
        let mnt = self.processes.get(&viewer)?.ns[&NamespaceKind::Mnt];
        match self.namespaces.mount_of(mnt, "/proc") {
            Some((mount, "")) if mount.target == "/proc" => match mount.backing {
                Backing::Proc { pid_ns, .. } => Some(pid_ns),
                _ => None,
            },
            _ => None,
        }
    }

    pub(crate) fn proc_file(&self, contents: String) -> Node {
        Node {
            kind: NodeKind::File(contents.into_bytes()),
            mode: 0o444,
            uid: 0,
            gid: 0,
            mtime: self.now_epoch(),
        }
    }

    /// `/proc/stat`: the CPUs' time in ticks of 1/100 s (user and system
    /// split as `cpu.stat` splits it; the simulator keeps no per-CPU
    /// account, so each CPU shows an even share), the boot time, the forks
    /// since boot and what is runnable. Nothing waits on a disk here, so
    /// none is blocked and no time is iowait.
    fn proc_stat(&self, viewer: Pid) -> String {
        let ticks = |usec: u64| usec / 10_000;
        let busy = self.busy_usec;
        let user = busy * 9 / 10;
        let system = busy - user;
        let idle = (self.clock_ms * 1000 * HOST_CPUS).saturating_sub(busy);
        let line = |name: &str, user: u64, system: u64, idle: u64| {
            format!(
                "{name} {} 0 {} {} 0 0 0 0 0 0\n",
                ticks(user),
                ticks(system),
                ticks(idle)
            )
        };
        let mut out = line("cpu ", user, system, idle);
        for cpu in 0..HOST_CPUS {
            let share =
                |total: u64| total / HOST_CPUS + if cpu == 0 { total % HOST_CPUS } else { 0 };
            out.push_str(&line(
                &format!("cpu{cpu}"),
                share(user),
                share(system),
                share(idle),
            ));
        }
        let forks = self
            .processes
            .get(&self.engine_pid)
            .and_then(|p| self.namespaces.table.get(&p.own_pid_ns()))
            .map_or(0, |ns| ns.next_pid.saturating_sub(1));
        out.push_str(&format!(
            "btime {}\nprocesses {forks}\nprocs_running {}\nprocs_blocked 0\n",
            self.boot_epoch(),
            self.runnable_seen_by(viewer)
        ));
        out
    }

    fn proc_dir(&self) -> Node {
        Node::dir(0o555, self.now_epoch())
    }

    pub(crate) fn proc_node(&self, viewer: Pid, pid_ns: u64, rel: &str) -> Result<Node, Errno> {
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            [] => Ok(self.proc_dir()),
            ["self"] => {
                // The reader's pid in this procfs's namespace; a reader it
                // cannot see has no `self` here.
                let me = self
                    .proc_target(viewer, pid_ns, "self")
                    .ok_or(Errno::NoEnt)?;
                let inner = me.pid_in(pid_ns).ok_or(Errno::NoEnt)?;
                let mut node = self.proc_file(String::new());
                node.kind = NodeKind::Symlink(inner.to_string());
                node.mode = 0o777;
                Ok(node)
            }
            [link @ ("mounts" | "net")] => {
                let mut node = self.proc_file(String::new());
                node.kind = NodeKind::Symlink(format!("self/{link}"));
                node.mode = 0o777;
                Ok(node)
            }
            ["meminfo"] => Ok(self.proc_file(self.meminfo())),
            ["loadavg"] => {
                // The averages, runnable and all tasks, and the last pid
                // handed out in the reader's pid namespace.
                let last = self
                    .processes
                    .get(&viewer)
                    .and_then(|p| self.namespaces.table.get(&p.own_pid_ns()))
                    .map_or(0, |ns| ns.next_pid.saturating_sub(1));
                Ok(self.proc_file(format!(
                    "{} {}/{} {last}\n",
                    self.load.text(),
                    self.runnable_seen_by(viewer),
                    self.processes.len()
                )))
            }
            ["stat"] => Ok(self.proc_file(self.proc_stat(viewer))),
            [dir] if PROC_UNMODELLED_DIRS.contains(dir) => Ok(self.proc_dir()),
            ["sysrq-trigger"] => {
                // Write-only: it takes a key, and reads as nothing.
                let mut node = self.proc_file(String::new());
                node.mode = 0o200;
                Ok(node)
            }
            ["uptime"] => {
                // Seconds since boot, and the seconds the CPUs have
                // together spent idle: what no process ran on them.
                let up_usec = self.clock_ms * 1000;
                let idle_usec = (up_usec * HOST_CPUS).saturating_sub(self.busy_usec);
                Ok(self.proc_file(format!(
                    "{}.{:02} {}.{:02}\n",
                    up_usec / 1_000_000,
                    up_usec % 1_000_000 / 10_000,
                    idle_usec / 1_000_000,
                    idle_usec % 1_000_000 / 10_000
                )))
            }
            ["version"] => Ok(self.proc_file(format!(
                "Linux version {} (anchorage@simulated) #1 SMP PREEMPT_DYNAMIC\n",
                super::KERNEL_RELEASE
            ))),
            [pid] => {
                // Owned by the process's user, as the reader's user
                // namespace maps it (`ps` and `top` take USER from here).
                let target = self.proc_target(viewer, pid_ns, pid).ok_or(Errno::NoEnt)?;
                let mut node = self.proc_dir();
                (node.uid, node.gid) = self.ids_seen_by(target, &self.processes[&viewer]);
                Ok(node)
            }
            [pid, "net"] => self
                .proc_target(viewer, pid_ns, pid)
                .map(|_| self.proc_dir())
                .ok_or(Errno::NoEnt),
            [pid, "net", "dev"] => {
                let target = self.proc_target(viewer, pid_ns, pid).ok_or(Errno::NoEnt)?;
                Ok(self.proc_file(self.net_dev(target)))
            }
            [pid, file] => {
                let target = self.proc_target(viewer, pid_ns, pid).ok_or(Errno::NoEnt)?;
                let viewer_p = &self.processes[&viewer];
                let contents = match *file {
                    "ns" => return Ok(self.proc_dir()),
                    "status" => self.status(target, viewer_p, pid_ns),
                    "stat" => self.pid_stat(target, pid_ns),
                    "cgroup" => self.proc_cgroup_text(target, viewer_p),
                    "cmdline" => {
                        if target.state == ProcessState::Zombie {
                            String::new()
                        } else {
                            target.argv.iter().map(|a| format!("{a}\0")).collect()
                        }
                    }
                    "comm" => format!("{}\n", target.comm()),
                    "environ" => target.env.iter().map(|e| format!("{e}\0")).collect(),
                    "mounts" => self.mounts_text(target),
                    "mountinfo" => self.mountinfo_text(target),
                    "uid_map" | "gid_map" => {
                        let (uid_map, gid_map) =
                            self.namespaces.id_maps(target.ns[&NamespaceKind::User]);
                        id_map_text(if *file == "uid_map" {
                            &uid_map
                        } else {
                            &gid_map
                        })
                    }
                    _ => return Err(Errno::NoEnt),
                };
                let mut node = self.proc_file(contents);
                (node.uid, node.gid) = self.ids_seen_by(target, viewer_p);
                Ok(node)
            }
            [pid, "ns", link] => {
                let target = self.proc_target(viewer, pid_ns, pid).ok_or(Errno::NoEnt)?;
                let kind = NS_LINKS
                    .iter()
                    .find(|(name, _)| name == link)
                    .map(|(_, kind)| *kind)
                    .ok_or(Errno::NoEnt)?;
                let mut node = self.proc_file(String::new());
                node.kind =
                    NodeKind::Symlink(format!("{}:[{}]", kind.proc_name(), target.ns[&kind]));
                node.mode = 0o777;
                Ok(node)
            }
            _ => Err(Errno::NoEnt),
        }
    }

    pub(crate) fn proc_list(&self, pid_ns: u64, rel: &str) -> Result<Vec<String>, Errno> {
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            [] => {
                let mut pids: Vec<Pid> = self
                    .processes
                    .values()
                    .filter_map(|p| p.pid_in(pid_ns))
                    .collect();
                pids.sort_unstable();
                let mut names: Vec<String> = pids.iter().map(Pid::to_string).collect();
                names.extend(PROC_FILES.iter().map(|f| f.to_string()));
                Ok(names)
            }
            [dir] if PROC_UNMODELLED_DIRS.contains(dir) => Ok(vec![]),
            [_pid] => Ok(PID_FILES.iter().map(|f| f.to_string()).collect()),
            [_pid, "ns"] => Ok(NS_LINKS.iter().map(|(n, _)| n.to_string()).collect()),
            [_pid, "net"] => Ok(vec!["dev".to_string()]),
            _ => Err(Errno::NotDir),
        }
    }

    /// `/proc/PID/status`, with ids and pids as the viewer's namespaces
    /// show them.
    fn status(&self, p: &SimProcess, viewer: &SimProcess, view_ns: u64) -> String {
        let level = p
            .pid_ns_chain
            .iter()
            .position(|ns| *ns == view_ns)
            .unwrap_or(0);
        let ns_pids: Vec<String> = p.ns_pids[level..].iter().map(Pid::to_string).collect();
        let ppid = self
            .processes
            .get(&p.ppid)
            .and_then(|parent| parent.pid_in(view_ns))
            .unwrap_or(0);
        let (uid, gid) = self.ids_seen_by(p, viewer);
        let state = match p.state {
            ProcessState::Running => "R (running)",
            ProcessState::Sleeping => "S (sleeping)",
            ProcessState::Zombie => "Z (zombie)",
        };
        let pid = ns_pids.first().cloned().unwrap_or_default();
        let caps = if p.container.is_some() {
            // Docker's default capability set.
            "00000000a80425fb"
        } else {
            "000001ffffffffff"
        };
        let mut out = String::new();
        let _ = writeln!(out, "Name:\t{}", p.comm());
        let _ = writeln!(out, "Umask:\t0022");
        let _ = writeln!(out, "State:\t{state}");
        let _ = writeln!(out, "Tgid:\t{pid}");
        let _ = writeln!(out, "Pid:\t{pid}");
        let _ = writeln!(out, "PPid:\t{ppid}");
        let _ = writeln!(out, "Uid:\t{uid}\t{uid}\t{uid}\t{uid}");
        let _ = writeln!(out, "Gid:\t{gid}\t{gid}\t{gid}\t{gid}");
        let _ = writeln!(out, "NStgid:\t{}", ns_pids.join("\t"));
        let _ = writeln!(out, "NSpid:\t{}", ns_pids.join("\t"));
        if p.state != ProcessState::Zombie {
            let _ = writeln!(out, "VmRSS:\t{:>8} kB", p.rss / 1024);
        }
        let _ = writeln!(out, "Threads:\t1");
        let _ = writeln!(out, "CapEff:\t{caps}");
        let _ = writeln!(out, "CapBnd:\t{caps}");
        let _ = writeln!(out, "NoNewPrivs:\t{}", u8::from(p.container.is_some()));
        out
    }

    /// `/proc/PID/stat`: the kernel's 52 fields. What the simulator
    /// models is there: the state, the parent, user and system time (split
    /// as `cpu.stat` splits it), the start time, the address space, the
    /// resident pages. What it does not model reads 0, as the kernel's
    /// own unused fields do: page faults, children's times, process groups
    /// and sessions (0 is what a container's processes show, their leaders
    /// being outside their pid namespace), the last CPU, signal masks, and
    /// the addresses the kernel hides from a reader that may not trace.
    fn pid_stat(&self, p: &SimProcess, view_ns: u64) -> String {
        let pid = p.pid_in(view_ns).unwrap_or(0);
        let ppid = self
            .processes
            .get(&p.ppid)
            .and_then(|parent| parent.pid_in(view_ns))
            .unwrap_or(0);
        let (state, wchan) = match p.state {
            ProcessState::Running => ('R', 0),
            ProcessState::Sleeping => ('S', 1),
            ProcessState::Zombie => ('Z', 0),
        };
        let ticks = p.cpu_usec / 10_000;
        let user = ticks * 9 / 10;
        let system = ticks - user;
        // PF_RANDOMIZE: every process's layout is randomized.
        const PF_RANDOMIZE: u32 = 0x0040_0000;
        format!(
            "{pid} ({}) {state} {ppid} 0 0 0 -1 {PF_RANDOMIZE} 0 0 0 0 {user} {system} 0 0 20 0 1 0 {} {} {} 18446744073709551615 0 0 0 0 0 0 0 0 0 {wchan} 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            p.comm(),
            p.started_ms / 10,
            p.vsz_kb() * 1024,
            if p.state == ProcessState::Zombie {
                0
            } else {
                p.rss / 4096
            },
        )
    }

    /// A process's uid and gid inside the viewer's user namespace.
    pub(crate) fn ids_seen_by(&self, p: &SimProcess, viewer: &SimProcess) -> (u32, u32) {
        let (uid_map, gid_map) = self.namespaces.id_maps(viewer.ns[&NamespaceKind::User]);
        let inside = |maps: &[IdMap], outside: u32| {
            maps.iter()
                .find_map(|m| {
                    (outside >= m.outside && outside - m.outside < m.count)
                        .then(|| m.inside + (outside - m.outside))
                })
                .unwrap_or(65534)
        };
        (inside(&uid_map, p.uid), inside(&gid_map, p.gid))
    }

    /// A process's cgroup as a viewer sees it: relative to the root of the
    /// viewer's cgroup namespace.
    pub(crate) fn cgroup_seen_by(&self, p: &SimProcess, viewer: &SimProcess) -> String {
        let root = self.cgroup_ns_root(viewer.ns[&NamespaceKind::Cgroup]);
        if root == "/" {
            return p.cgroup.clone();
        }
        let root_parts: Vec<&str> = root.split('/').filter(|s| !s.is_empty()).collect();
        let parts: Vec<&str> = p.cgroup.split('/').filter(|s| !s.is_empty()).collect();
        let common = root_parts
            .iter()
            .zip(&parts)
            .take_while(|(a, b)| a == b)
            .count();
        let mut path: Vec<&str> = vec![".."; root_parts.len() - common];
        path.extend(&parts[common..]);
        format!("/{}", path.join("/"))
    }

    /// `/proc/PID/net/dev`: the interfaces of the process's net namespace,
    /// in the kernel's columns. No traffic is modelled: the counters are 0.
    fn net_dev(&self, p: &SimProcess) -> String {
        let mut text = String::from(
            "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n",
        );
        for name in self.namespaces.interfaces(p.ns[&NamespaceKind::Net]) {
            let _ = writeln!(
                text,
                "{name:>6}:{:>8} {:>7} {:>4} {:>4} {:>4} {:>5} {:>10} {:>9} {:>8} {:>7} {:>4} {:>4} {:>4} {:>5} {:>7} {:>10}",
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            );
        }
        text
    }

    /// The simulator keeps no page cache, buffers or shared memory: those
    /// lines say 0.
    fn meminfo(&self) -> String {
        let used = self
            .cgroups
            .get("/")
            .map_or(0, |cg| cg.usage.memory_current);
        let total = HOST_MEMORY_BYTES / 1024;
        let free = total.saturating_sub(used / 1024);
        format!(
            "MemTotal:       {total:>8} kB\nMemFree:        {free:>8} kB\nMemAvailable:   {free:>8} kB\nBuffers:               0 kB\nCached:                0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nShmem:                 0 kB\nSReclaimable:          0 kB\n"
        )
    }

    fn mounts_text(&self, p: &SimProcess) -> String {
        let ns = &self.namespaces.table[&p.ns[&NamespaceKind::Mnt]];
        ns.mounts
            .iter()
            .map(|m| format!("{} {} {} {} 0 0\n", m.source, m.target, m.fstype, m.options))
            .collect()
    }

    fn mountinfo_text(&self, p: &SimProcess) -> String {
        let ns = &self.namespaces.table[&p.ns[&NamespaceKind::Mnt]];
        ns.mounts
            .iter()
            .map(|m| {
                let dev = match m.backing {
                    Backing::Host { .. } => "254:1".to_string(),
                    _ => format!("0:{}", m.id + 20),
                };
                let (mount_opts, super_opts) = match m.options.split_once(",lowerdir") {
                    Some((head, rest)) => {
                        (head.to_string(), format!("{},lowerdir{rest}", &head[..2]))
                    }
                    None => (m.options.clone(), m.options[..2].to_string()),
                };
                format!(
                    "{} {} {dev} {} {} {mount_opts} - {} {} {super_opts}\n",
                    m.id,
                    m.parent,
                    SimEngine::mount_root(&m.backing),
                    m.target,
                    m.fstype,
                    m.source
                )
            })
            .collect()
    }
}
