//! The host: everything an engine reports at one moment, in one value.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cgroup::{Cgroup, CgroupLimits, CgroupUsage};
use crate::container::Container;
use crate::namespace::{Namespace, NamespaceId};
use crate::process::{Pid, Process};
use crate::tarball::ImageInfo;

/// Which engine produced a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// The deterministic simulated kernel (in the browser or on a server).
    Simulated,
    /// Real containers on a Linux host.
    Real,
}

/// How a host mounts its cgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupLayout {
    /// One cgroup2 hierarchy at `/sys/fs/cgroup`.
    Unified,
    /// One v1 hierarchy per controller.
    Legacy,
    /// v1 controllers plus a cgroup2 mount at `/sys/fs/cgroup/unified`.
    Hybrid,
}

impl CgroupLayout {
    /// The short name a user gives it: `v2`, `v1` or `hybrid`.
    pub fn short_name(self) -> &'static str {
        match self {
            CgroupLayout::Unified => "v2",
            CgroupLayout::Legacy => "v1",
            CgroupLayout::Hybrid => "hybrid",
        }
    }

    /// What it is, in a few words, for a choice on the page.
    pub fn describe(self) -> &'static str {
        match self {
            CgroupLayout::Unified => "v2: one cgroup2 hierarchy",
            CgroupLayout::Legacy => "v1: a hierarchy per controller",
            CgroupLayout::Hybrid => "hybrid: v1 controllers, cgroup2 at unified/",
        }
    }

    /// Every layout, v2 first.
    pub const ALL: [CgroupLayout; 3] = [
        CgroupLayout::Unified,
        CgroupLayout::Legacy,
        CgroupLayout::Hybrid,
    ];
}

impl std::str::FromStr for CgroupLayout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "v2" | "unified" => Ok(CgroupLayout::Unified),
            "v1" | "legacy" => Ok(CgroupLayout::Legacy),
            "hybrid" => Ok(CgroupLayout::Hybrid),
            _ => Err(format!(
                "{text:?} is not a cgroup layout: give v2 (one cgroup2 hierarchy), v1 (a hierarchy per controller) or hybrid (v1 controllers with cgroup2 at /sys/fs/cgroup/unified)"
            )),
        }
    }
}

/// What an engine can do. The page, the lessons and the server decide from
/// these, never from which engine it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Its containers run on a real kernel: what they reach (host paths,
    /// system calls) is a real host's.
    #[serde(default)]
    pub real_kernel: bool,
    /// Cgroups hold its containers' limits (always in the simulation; on
    /// a real host, as root).
    #[serde(default)]
    pub limits: bool,
    /// It opens terminals into containers.
    #[serde(default)]
    pub terminals: bool,
    /// It takes image archives uploaded to the server.
    #[serde(default)]
    pub uploads: bool,
}

/// What an engine is and where it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub kind: EngineKind,
    /// What it can do.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// The host's name.
    pub hostname: String,
    /// The kernel, as `uname -sr` prints it.
    pub kernel: String,
    pub cgroup_layout: CgroupLayout,
    /// Whether containers run without root on the host.
    pub rootless: bool,
    /// The host's CPUs and memory.
    #[serde(default)]
    pub cpus: u32,
    #[serde(default)]
    pub memory_bytes: u64,
    /// The Unix time, in milliseconds, at which the engine's clock reads
    /// zero: 0 where the clock is Unix time (a real host), the simulated
    /// host's boot otherwise.
    #[serde(default)]
    pub clock_epoch_ms: u64,
    /// Why this engine was chosen, for the UI: "no real runtime in the
    /// browser", "real containers as root"...
    pub note: String,
}

/// Everything an engine reports at one moment.
///
/// Each entity is behind an `Arc` that the engine keeps while the entity
/// does not change: taking a snapshot copies pointers, and comparing two
/// snapshots (as the UI does every frame) skips unchanged entities by
/// pointer. On the wire an `Arc<T>` is just a `T`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSnapshot {
    pub engine: EngineInfo,
    /// The engine's clock, in milliseconds since it started.
    pub clock_ms: u64,
    /// Processes by host pid, ascending.
    pub processes: Vec<Arc<Process>>,
    /// Namespaces by kind, then inode.
    pub namespaces: Vec<Arc<Namespace>>,
    /// Cgroups by path.
    pub cgroups: Vec<Arc<Cgroup>>,
    /// Containers in creation order.
    pub containers: Vec<Arc<Container>>,
    pub images: Vec<Arc<ImageInfo>>,
    /// The rest of a real host, read-only: its namespaces, its top-level
    /// cgroups and other runtimes' containers. `None` in simulation (the
    /// simulated host is all in the lists above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Arc<HostView>>,
}

/// What a real host holds besides this engine's containers, as `lsns`,
/// `systemd-cgls` and other runtimes' `ps` would show it. Read from `/proc`
/// and cgroupfs, and never changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostView {
    /// Every namespace a process is in, by kind then inode.
    pub namespaces: Vec<HostNamespace>,
    /// The cgroups just under the root, by path.
    pub cgroups: Vec<HostCgroup>,
    /// Containers that other runtimes run here.
    pub others: Vec<ForeignContainer>,
    /// How many processes the host has.
    pub processes: u32,
    /// The host's own namespaces (those the engine runs in), one per kind.
    #[serde(default)]
    pub own_namespaces: Vec<NamespaceId>,
}

/// One namespace of the host, as `lsns` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostNamespace {
    pub id: NamespaceId,
    /// How many processes are in it.
    pub processes: u32,
    /// Its lowest pid, and that process's command.
    pub pid: Pid,
    pub command: String,
}

/// A top-level cgroup of the host (`/system.slice`, `/user.slice`,
/// `/docker`, `/anchorage`...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCgroup {
    pub path: String,
    /// Processes in it and below.
    pub processes: u32,
    /// Memory charged to it, in bytes, where the memory controller says.
    pub memory_bytes: Option<u64>,
}

/// A container another runtime started, seen from `/proc` and cgroupfs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignContainer {
    /// `docker`, `podman`, `containerd`, `runc`, `crun`, `lxc` or
    /// `systemd-nspawn`.
    pub runtime: String,
    /// The runtime's ID (or name) for it.
    pub id: String,
    pub cgroup: String,
    /// Its init: the process that is PID 1 in its pid namespace.
    pub init_pid: Option<Pid>,
    /// Its processes' host pids, ascending.
    pub pids: Vec<Pid>,
    /// Its init's namespaces.
    pub namespaces: Vec<NamespaceId>,
    pub limits: Option<CgroupLimits>,
    pub usage: Option<CgroupUsage>,
}

/// Finds a container by name, full ID, or an unambiguous ID prefix of at
/// least 3 digits, as `anchorage` commands accept: the index into
/// `containers`.
pub fn find_container(containers: &[&Container], id_or_name: &str) -> Option<usize> {
    containers
        .iter()
        .position(|c| c.id == id_or_name || c.name == id_or_name)
        .or_else(|| {
            let mut matches = containers
                .iter()
                .enumerate()
                .filter(|(_, c)| id_or_name.len() >= 3 && c.id.starts_with(id_or_name));
            match (matches.next(), matches.next()) {
                (Some((index, _)), None) => Some(index),
                _ => None,
            }
        })
}

impl HostSnapshot {
    pub fn container(&self, id_or_name: &str) -> Option<&Container> {
        let all: Vec<&Container> = self.containers.iter().map(|c| &**c).collect();
        find_container(&all, id_or_name).map(|index| &*self.containers[index])
    }

    /// The processes of a container, by host pid.
    pub fn processes_of<'a>(&'a self, container_id: &'a str) -> impl Iterator<Item = &'a Process> {
        self.processes
            .iter()
            .map(|p| &**p)
            .filter(move |p| p.container.as_deref() == Some(container_id))
    }

    pub fn cgroup(&self, path: &str) -> Option<&Cgroup> {
        self.cgroups
            .binary_search_by(|c| c.path.as_str().cmp(path))
            .ok()
            .map(|i| &*self.cgroups[i])
    }

    pub fn process(&self, pid: u32) -> Option<&Process> {
        self.processes
            .binary_search_by_key(&pid, |p| p.pid)
            .ok()
            .map(|i| &*self.processes[i])
    }
}
