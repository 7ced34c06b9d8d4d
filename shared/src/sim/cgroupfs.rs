//! cgroupfs as each host layout mounts it, rendered when read.
//!
//! The simulated host is one of the three layouts a Linux host has
//! ([`CgroupLayout`]): cgroup2 alone at `/sys/fs/cgroup` (the default), v1
//! hierarchies alone, or v1 hierarchies with a controller-less cgroup2 at
//! `/sys/fs/cgroup/unified` (hybrid). The v1 hierarchies are those a
//! Debian host's systemd mounts, in its order, cpu and cpuacct together
//! with a link by each name, and its own named hierarchy. Each process is
//! in one cgroup path in every hierarchy, as the real engine puts a
//! container (as runc does): `/proc/PID/cgroup` has a line per hierarchy
//! with that path, seen from the reader's cgroup namespace.
//!
//! The v1 files hold the same limits and usage under their v1 names
//! (`memory.limit_in_bytes`, `cpu.cfs_quota_us`, `cpuacct.usage`...), in
//! the kernel's units and formats.

use crate::cgroup::CgroupUsage;
use crate::host::CgroupLayout;
use crate::process::{Pid, ProcessState};

use super::SimEngine;
use super::fs::Errno;
use super::namespace::Backing;
use super::process::SimProcess;
use super::tarball::{Node, NodeKind, Tree};

/// What a cgroupfs mount shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hierarchy {
    /// cgroup2 with the memory, pids and cpu controllers: a v2 host's.
    Unified,
    /// cgroup2 without controllers: a hybrid host's `unified`, where
    /// systemd tracks processes.
    Bare,
    /// A v1 hierarchy: an index into [`V1`].
    V1(usize),
}

/// What a v1 hierarchy's controllers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Controllers {
    CpuCpuacct,
    Memory,
    Pids,
    /// Controllers whose files the model does not hold (cpuset, blkio,
    /// devices, freezer), or none (systemd's named hierarchy): only the
    /// core files.
    Other,
}

/// One v1 hierarchy.
pub(crate) struct V1Hierarchy {
    /// The kernel's hierarchy id: the first column of `/proc/PID/cgroup`
    /// (ids go by mount order).
    pub id: u32,
    /// Its directory under `/sys/fs/cgroup`.
    pub dir: &'static str,
    /// What `/proc/PID/cgroup` and the mount options name it by.
    pub names: &'static str,
    controllers: Controllers,
}

/// The v1 hierarchies, in mount order.
pub(crate) const V1: &[V1Hierarchy] = &[
    V1Hierarchy {
        id: 1,
        dir: "cpu,cpuacct",
        names: "cpu,cpuacct",
        controllers: Controllers::CpuCpuacct,
    },
    V1Hierarchy {
        id: 2,
        dir: "cpuset",
        names: "cpuset",
        controllers: Controllers::Other,
    },
    V1Hierarchy {
        id: 3,
        dir: "memory",
        names: "memory",
        controllers: Controllers::Memory,
    },
    V1Hierarchy {
        id: 4,
        dir: "pids",
        names: "pids",
        controllers: Controllers::Pids,
    },
    V1Hierarchy {
        id: 5,
        dir: "blkio",
        names: "blkio",
        controllers: Controllers::Other,
    },
    V1Hierarchy {
        id: 6,
        dir: "devices",
        names: "devices",
        controllers: Controllers::Other,
    },
    V1Hierarchy {
        id: 7,
        dir: "freezer",
        names: "freezer",
        controllers: Controllers::Other,
    },
    V1Hierarchy {
        id: 8,
        dir: "systemd",
        names: "name=systemd",
        controllers: Controllers::Other,
    },
];

/// The links beside the hierarchies: a name for each controller of a
/// shared one.
const V1_LINKS: &[(&str, &str)] = &[("cpu", "cpu,cpuacct"), ("cpuacct", "cpu,cpuacct")];

/// The interface files of a non-root cgroup2 cgroup with the cpu, memory
/// and pids controllers, as Linux 6.1 lists them (booted with `psi=0`: no
/// pressure files).
const V2_FILES: &[&str] = &[
    "cgroup.controllers",
    "cgroup.events",
    "cgroup.freeze",
    "cgroup.kill",
    "cgroup.max.depth",
    "cgroup.max.descendants",
    "cgroup.procs",
    "cgroup.stat",
    "cgroup.subtree_control",
    "cgroup.threads",
    "cgroup.type",
    "cpu.idle",
    "cpu.max",
    "cpu.max.burst",
    "cpu.stat",
    "cpu.weight",
    "cpu.weight.nice",
    "memory.current",
    "memory.events",
    "memory.events.local",
    "memory.high",
    "memory.low",
    "memory.max",
    "memory.min",
    "memory.numa_stat",
    "memory.oom.group",
    "memory.peak",
    "memory.reclaim",
    "memory.stat",
    "memory.swap.current",
    "memory.swap.events",
    "memory.swap.high",
    "memory.swap.max",
    "memory.zswap.current",
    "memory.zswap.max",
    "pids.current",
    "pids.events",
    "pids.max",
    "pids.peak",
];

/// The keys of cgroup2's `memory.stat`, in Linux 6.1's order. The model's
/// memory is anonymous and never reclaimed, so only `anon` (and the
/// inactive list new anonymous pages join) carry its usage; the rest are
/// 0.
const MEMORY_STAT: &[&str] = &[
    "anon",
    "file",
    "kernel",
    "kernel_stack",
    "pagetables",
    "sec_pagetables",
    "percpu",
    "sock",
    "vmalloc",
    "shmem",
    "zswap",
    "zswapped",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "swapcached",
    "anon_thp",
    "file_thp",
    "shmem_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "slab",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "pgscan",
    "pgsteal",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgfault",
    "pgmajfault",
    "pgrefill",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "zswpin",
    "zswpout",
    "thp_fault_alloc",
    "thp_collapse_alloc",
];

/// The keys of `memory.stat` the kernel does not count per node: what
/// `memory.numa_stat` leaves out.
const NOT_PER_NODE: &[&str] = &[
    "kernel", "percpu", "sock", "vmalloc", "zswap", "zswapped", "slab", "zswpin", "zswpout",
];

/// What a `memory.stat` key holds for a cgroup using `anon` bytes.
fn memory_value(key: &str, anon: u64) -> u64 {
    if matches!(key, "anon" | "inactive_anon") {
        anon
    } else {
        0
    }
}

/// `memory.stat` for a cgroup using `anon` bytes.
fn memory_stat(anon: u64) -> String {
    MEMORY_STAT
        .iter()
        .map(|key| format!("{key} {}\n", memory_value(key, anon)))
        .collect()
}

/// `memory.numa_stat`: the same, per node (the simulated host has one).
fn numa_stat(anon: u64) -> String {
    MEMORY_STAT
        .iter()
        .filter(|key| {
            !NOT_PER_NODE.contains(key) && !key.starts_with("pg") && !key.starts_with("thp_")
        })
        .map(|key| format!("{key} N0={}\n", memory_value(key, anon)))
        .collect()
}

/// The cgroup2 files that can only be written (reading them is refused).
const WRITE_ONLY: &[&str] = &["cgroup.kill", "memory.reclaim"];

/// The scheduler's weight for each nice level, -20 to 19 (the kernel's
/// `sched_prio_to_weight`).
const NICE_WEIGHTS: [u64; 40] = [
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904,
    3906, 3121, 2501, 1991, 1586, 1277, 1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87,
    70, 56, 45, 36, 29, 23, 18, 15,
];

/// `cpu.weight.nice`: the nice level whose weight is nearest the group's
/// (`cpu.weight` 100 is 1024, nice 0), found as the kernel searches.
fn weight_nice(cpu_weight: u64) -> i64 {
    let shares = (cpu_weight * 1024 + 50) / 100;
    let mut last = u64::MAX;
    let mut prio = 0;
    while prio < NICE_WEIGHTS.len() {
        let delta = NICE_WEIGHTS[prio].abs_diff(shares);
        if delta >= last {
            break;
        }
        last = delta;
        prio += 1;
    }
    prio as i64 - 1 - 20
}

/// Whether reading a cgroupfs file is refused (it has no read side).
pub(crate) fn write_only(file: &str) -> bool {
    WRITE_ONLY.contains(&file)
}

/// The files the kernel gives no write side: what they report is counted,
/// not set.
const READ_ONLY: &[&str] = &[
    "cgroup.controllers",
    "cgroup.events",
    "cgroup.stat",
    "cgroup.sane_behavior",
    "cpu.stat",
    "cpuacct.stat",
    "cpuacct.usage_sys",
    "cpuacct.usage_user",
    "memory.current",
    "memory.events",
    "memory.events.local",
    "memory.numa_stat",
    "memory.peak",
    "memory.stat",
    "memory.swap.current",
    "memory.swap.events",
    "memory.usage_in_bytes",
    "memory.zswap.current",
    "pids.current",
    "pids.events",
    "pids.peak",
];

/// A cgroupfs file's mode, as the kernel gives it.
fn mode_of(file: &str) -> u32 {
    if write_only(file) {
        0o200
    } else if READ_ONLY.contains(&file) {
        0o444
    } else {
        0o644
    }
}

/// The root cgroup2 cgroup has no limits of its own.
const V2_ROOT_FILES: &[&str] = &[
    "cgroup.controllers",
    "cgroup.procs",
    "cpu.stat",
    "memory.stat",
    "pids.current",
];

/// A controller-less cgroup2 cgroup's.
const BARE_FILES: &[&str] = &["cgroup.controllers", "cgroup.procs"];

/// Every v1 cgroup's core files; the root adds two.
const V1_CORE: &[&str] = &[
    "cgroup.clone_children",
    "cgroup.procs",
    "notify_on_release",
    "tasks",
];
const V1_ROOT_CORE: &[&str] = &["cgroup.sane_behavior", "release_agent"];

const V1_CPU: &[&str] = &[
    "cpu.cfs_period_us",
    "cpu.cfs_quota_us",
    "cpu.shares",
    "cpu.stat",
    "cpuacct.stat",
    "cpuacct.usage",
    "cpuacct.usage_sys",
    "cpuacct.usage_user",
];
const V1_MEMORY: &[&str] = &[
    "memory.failcnt",
    "memory.limit_in_bytes",
    "memory.max_usage_in_bytes",
    "memory.oom_control",
    "memory.usage_in_bytes",
];
/// The root of the pids hierarchy has none (it has no limit to keep).
const V1_PIDS: &[&str] = &["pids.current", "pids.events", "pids.max", "pids.peak"];

/// v1's "no limit" for memory: `PAGE_COUNTER_MAX` pages, in bytes.
pub(crate) const V1_MEMORY_UNLIMITED: u64 = 0x7FFF_FFFF_FFFF_F000;

/// `USER_HZ`: the unit of `cpuacct.stat`.
const USER_HZ: u64 = 100;

/// The files of a cgroup in a hierarchy, sorted as `ls` shows them.
fn files(hierarchy: Hierarchy, root: bool) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = match hierarchy {
        Hierarchy::Unified if root => V2_ROOT_FILES.to_vec(),
        Hierarchy::Unified => V2_FILES.to_vec(),
        Hierarchy::Bare => BARE_FILES.to_vec(),
        Hierarchy::V1(index) => {
            let mut names = V1_CORE.to_vec();
            if root {
                names.extend(V1_ROOT_CORE);
            }
            match V1[index].controllers {
                Controllers::CpuCpuacct => names.extend(V1_CPU),
                Controllers::Memory => names.extend(V1_MEMORY),
                Controllers::Pids if !root => names.extend(V1_PIDS),
                Controllers::Pids | Controllers::Other => {}
            }
            names
        }
    };
    names.sort_unstable();
    names
}

/// Whether host root may write a file (below the root cgroup, except
/// where moving processes).
pub(crate) fn writable(file: &str, root: bool) -> bool {
    const MOVES: &[&str] = &["cgroup.procs", "tasks"];
    const LIMITS: &[&str] = &[
        "cpu.max",
        "cpu.weight",
        "memory.max",
        "pids.max",
        "cpu.cfs_period_us",
        "cpu.cfs_quota_us",
        "cpu.shares",
        "memory.limit_in_bytes",
    ];
    MOVES.contains(&file) || (!root && LIMITS.contains(&file))
}

fn max_or<T: ToString>(value: Option<T>) -> String {
    value.map_or("max".to_string(), |v| v.to_string())
}

/// A mount: where, its type, source and options, and what backs it.
pub(crate) type MountEntry = (String, &'static str, String, String, Backing);

impl SimEngine {
    /// The host's cgroupfs mounts, as its layout has them.
    pub(crate) fn host_cgroup_mounts(&self) -> Vec<MountEntry> {
        self.cgroup_mounts("/", "rw,nosuid,nodev,noexec,relatime")
    }

    /// A container's `/sys/fs/cgroup`, read-only in its cgroup namespace
    /// rooted at `cgroup`: cgroup2 on a v2 host; else a tmpfs holding each
    /// hierarchy again (and the links), as the real engine and Docker lay
    /// it out.
    pub(crate) fn container_cgroup_mounts(&self, cgroup: &str) -> Vec<MountEntry> {
        self.cgroup_mounts(cgroup, "ro,nosuid,nodev,noexec,relatime")
    }

    fn cgroup_mounts(&self, root: &str, flags: &str) -> Vec<MountEntry> {
        let base = "/sys/fs/cgroup";
        let root = root.to_string();
        if self.cgroup_layout == CgroupLayout::Unified {
            // The host's and the container's mount name their source
            // `cgroup2`, as the engine mounts it.
            return vec![(
                base.into(),
                "cgroup2",
                "cgroup2".into(),
                format!("{flags},nsdelegate"),
                Backing::Cgroup {
                    hierarchy: Hierarchy::Unified,
                    root,
                },
            )];
        }
        let now = self.boot_epoch();
        let mut dir = Tree::empty(0o755, now);
        for h in V1 {
            dir.insert(h.dir, Node::dir(0o555, now));
        }
        for (name, target) in V1_LINKS {
            dir.insert(
                name,
                Node {
                    kind: NodeKind::Symlink((*target).to_string()),
                    mode: 0o777,
                    uid: 0,
                    gid: 0,
                    mtime: now,
                },
            );
        }
        let hybrid = self.cgroup_layout == CgroupLayout::Hybrid;
        if hybrid {
            dir.insert("unified", Node::dir(0o555, now));
        }
        let tmpfs_options = if root == "/" {
            "ro,nosuid,nodev,noexec,size=4096k,nr_inodes=1024,mode=755".to_string()
        } else {
            format!("{flags},size=64k,mode=755,{}", super::tmpfs_owner())
        };
        let mut mounts: Vec<MountEntry> = vec![(
            base.into(),
            "tmpfs",
            "tmpfs".into(),
            tmpfs_options,
            Backing::Tmpfs(dir),
        )];
        for (index, h) in V1.iter().enumerate() {
            mounts.push((
                format!("{base}/{}", h.dir),
                "cgroup",
                "cgroup".into(),
                format!("{flags},{}", h.names),
                Backing::Cgroup {
                    hierarchy: Hierarchy::V1(index),
                    root: root.clone(),
                },
            ));
        }
        if hybrid {
            mounts.push((
                format!("{base}/unified"),
                "cgroup2",
                "cgroup2".into(),
                flags.to_string(),
                Backing::Cgroup {
                    hierarchy: Hierarchy::Bare,
                    root,
                },
            ));
        }
        mounts
    }

    /// `/proc/PID/cgroup` of `target`, read by `viewer`: a line per
    /// hierarchy, the newest first, then cgroup2's where it is mounted.
    pub(crate) fn proc_cgroup_text(&self, target: &SimProcess, viewer: &SimProcess) -> String {
        let path = self.cgroup_seen_by(target, viewer);
        let mut text = String::new();
        if self.cgroup_layout != CgroupLayout::Unified {
            for h in V1.iter().rev() {
                text.push_str(&format!("{}:{}:{path}\n", h.id, h.names));
            }
        }
        if self.cgroup_layout != CgroupLayout::Legacy {
            text.push_str(&format!("0::{path}\n"));
        }
        text
    }

    /// A node of a cgroupfs mount rooted at the cgroup `root`.
    pub(crate) fn cgroup_node(
        &self,
        viewer: Pid,
        hierarchy: Hierarchy,
        root: &str,
        rel: &str,
    ) -> Result<Node, Errno> {
        let (dir, file) = self.cgroup_split(hierarchy, root, rel)?;
        let Some(file) = file else {
            return Ok(Node::dir(0o755, self.boot_epoch()));
        };
        let cg = self.cgroups.get(&dir).ok_or(Errno::NoEnt)?;
        let u: CgroupUsage = cg.usage;
        let l = cg.limits;
        let viewer_ns = self.processes.get(&viewer).map(SimProcess::own_pid_ns);
        let members = || {
            let mut pids: Vec<Pid> = self
                .processes
                .values()
                .filter(|p| p.cgroup == dir && p.state != ProcessState::Zombie)
                .filter_map(|p| viewer_ns.and_then(|ns| p.pid_in(ns)))
                .collect();
            pids.sort_unstable();
            pids.iter().map(|p| format!("{p}\n")).collect::<String>()
        };
        // Only `cgroup.events` asks: no scan for the other files.
        let populated = || {
            let inside = format!("{dir}/");
            self.processes.values().any(|p| {
                p.state != ProcessState::Zombie
                    && (p.cgroup == dir || p.cgroup.starts_with(&inside))
            })
        };
        let has_children = self.cgroups.descendants(&dir) > 0;
        let user = u.cpu_usage_usec * 9 / 10;
        let system = u.cpu_usage_usec - user;
        let text = match (hierarchy, file.as_str()) {
            (_, "cgroup.procs" | "tasks" | "cgroup.threads") => members(),
            (_, "cgroup.events") => format!("populated {}\nfrozen 0\n", u8::from(populated())),
            (_, "cgroup.type") => "domain\n".to_string(),
            (_, "cgroup.max.depth" | "cgroup.max.descendants") => "max\n".to_string(),
            // The runtime enables the three controllers for the cgroups
            // it makes children in; a leaf enables none.
            (_, "cgroup.subtree_control") if has_children => "cpu memory pids\n".to_string(),
            (_, "cgroup.subtree_control") => "\n".to_string(),
            (_, "cgroup.stat") => format!(
                "nr_descendants {}\nnr_dying_descendants 0\n",
                self.cgroups.descendants(&dir)
            ),
            (_, "cgroup.freeze" | "cpu.idle" | "cpu.max.burst" | "memory.oom.group") => {
                "0\n".to_string()
            }
            (_, "cgroup.kill" | "memory.reclaim") => String::new(),
            (_, "cpu.weight.nice") => format!("{}\n", weight_nice(u64::from(l.cpu_weight))),
            (_, "memory.high" | "memory.swap.high" | "memory.swap.max" | "memory.zswap.max") => {
                "max\n".to_string()
            }
            (_, "memory.low" | "memory.min" | "memory.swap.current" | "memory.zswap.current") => {
                "0\n".to_string()
            }
            (_, "memory.swap.events") => "high 0\nmax 0\nfail 0\n".to_string(),
            (_, "memory.numa_stat") => numa_stat(u.memory_current),
            (_, "pids.peak") => format!("{}\n", u.pids_peak),
            (Hierarchy::Bare, "cgroup.controllers") => "\n".to_string(),
            (_, "cgroup.controllers") => "cpu memory pids\n".to_string(),
            (_, "cgroup.clone_children" | "notify_on_release" | "cgroup.sane_behavior") => {
                "0\n".to_string()
            }
            (_, "release_agent") => "\n".to_string(),
            (_, "cpu.max") => format!("{}\n", l.cpu_max),
            (_, "cpu.weight") => format!("{}\n", l.cpu_weight),
            (Hierarchy::Unified, "cpu.stat") => format!(
                "usage_usec {}\nuser_usec {user}\nsystem_usec {system}\nnr_periods {}\nnr_throttled {}\nthrottled_usec {}\nnr_bursts 0\nburst_usec 0\n",
                u.cpu_usage_usec, u.nr_periods, u.nr_throttled, u.throttled_usec
            ),
            (_, "memory.current") => format!("{}\n", u.memory_current),
            (_, "memory.peak") => format!("{}\n", u.memory_peak),
            (_, "memory.max") => format!("{}\n", max_or(l.memory_max)),
            // Local events are the cgroup's own: a parent's limits hold
            // none here, so its own count is 0.
            (_, "memory.events.local") if has_children => {
                "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n".to_string()
            }
            (_, "memory.events" | "memory.events.local") => format!(
                "low 0\nhigh 0\nmax {}\noom {}\noom_kill {}\noom_group_kill 0\n",
                u.memory_events_max, u.oom, u.oom_kill
            ),
            (Hierarchy::Unified, "memory.stat") => memory_stat(u.memory_current),
            (_, "pids.current") => format!("{}\n", u.pids_current),
            (_, "pids.max") => format!("{}\n", max_or(l.pids_max)),
            (_, "pids.events") => format!("max {}\n", u.pids_events_max),
            // v1: the same numbers under the kernel's v1 names and units.
            (_, "cpu.cfs_period_us") => format!("{}\n", l.cpu_max.period_usec),
            (_, "cpu.cfs_quota_us") => match l.cpu_max.quota_usec {
                Some(q) => format!("{q}\n"),
                None => "-1\n".to_string(),
            },
            (_, "cpu.shares") => format!("{}\n", cg.shares()),
            (_, "cpu.stat") => format!(
                "nr_periods {}\nnr_throttled {}\nthrottled_time {}\nnr_bursts 0\nburst_time 0\n",
                u.nr_periods,
                u.nr_throttled,
                u.throttled_usec * 1000
            ),
            (_, "cpuacct.usage") => format!("{}\n", u.cpu_usage_usec * 1000),
            (_, "cpuacct.usage_user") => format!("{}\n", user * 1000),
            (_, "cpuacct.usage_sys") => format!("{}\n", system * 1000),
            (_, "cpuacct.stat") => format!(
                "user {}\nsystem {}\n",
                user * USER_HZ / 1_000_000,
                system * USER_HZ / 1_000_000
            ),
            (_, "memory.usage_in_bytes") => format!("{}\n", u.memory_current),
            (_, "memory.max_usage_in_bytes") => format!("{}\n", u.memory_peak),
            (_, "memory.failcnt") => format!("{}\n", u.memory_events_max),
            (_, "memory.limit_in_bytes") => {
                format!("{}\n", l.memory_max.unwrap_or(V1_MEMORY_UNLIMITED))
            }
            (_, "memory.oom_control") => {
                format!("oom_kill_disable 0\nunder_oom 0\noom_kill {}\n", u.oom_kill)
            }
            _ => return Err(Errno::NoEnt),
        };
        let mut node = self.proc_file(text);
        node.mode = mode_of(&file);
        Ok(node)
    }

    /// The names in a cgroupfs directory: its files and child cgroups.
    pub(crate) fn cgroup_list(
        &self,
        hierarchy: Hierarchy,
        root: &str,
        rel: &str,
    ) -> Result<Vec<String>, Errno> {
        let (dir, file) = self.cgroup_split(hierarchy, root, rel)?;
        if file.is_some() {
            return Err(Errno::NotDir);
        }
        let mut names: Vec<String> = files(hierarchy, dir == "/")
            .iter()
            .map(|f| f.to_string())
            .collect();
        names.extend(self.cgroups.children(&dir));
        names.sort();
        Ok(names)
    }

    /// Splits a cgroupfs path into the cgroup it is in and the interface
    /// file it names, if any.
    pub(crate) fn cgroup_split(
        &self,
        hierarchy: Hierarchy,
        root: &str,
        rel: &str,
    ) -> Result<(String, Option<String>), Errno> {
        let full = if rel.is_empty() {
            root.to_string()
        } else if root == "/" {
            format!("/{rel}")
        } else {
            format!("{root}/{rel}")
        };
        if self.cgroups.get(&full).is_some() {
            return Ok((full, None));
        }
        let (dir, file) = full.rsplit_once('/').ok_or(Errno::NoEnt)?;
        let dir = if dir.is_empty() { "/" } else { dir };
        if self.cgroups.get(dir).is_some() && files(hierarchy, dir == "/").contains(&file) {
            Ok((dir.to_string(), Some(file.to_string())))
        } else {
            Err(Errno::NoEnt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layout_lists_the_kernels_names() {
        assert!(files(Hierarchy::Unified, false).contains(&"memory.max"));
        assert!(!files(Hierarchy::Unified, true).contains(&"memory.max"));
        let memory = V1.iter().position(|h| h.dir == "memory").unwrap();
        let names = files(Hierarchy::V1(memory), false);
        assert!(names.contains(&"memory.limit_in_bytes"));
        assert!(names.contains(&"tasks"));
        assert!(!names.contains(&"release_agent"));
        let pids = V1.iter().position(|h| h.dir == "pids").unwrap();
        assert!(!files(Hierarchy::V1(pids), true).contains(&"pids.max"));
        assert!(files(Hierarchy::V1(pids), false).contains(&"pids.max"));
        assert_eq!(
            files(Hierarchy::Bare, false),
            ["cgroup.controllers", "cgroup.procs"]
        );
    }

    #[test]
    fn hierarchy_ids_go_by_mount_order() {
        for (i, h) in V1.iter().enumerate() {
            assert_eq!(h.id as usize, i + 1);
        }
    }
}
