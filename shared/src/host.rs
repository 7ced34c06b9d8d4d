//! The host: everything an engine reports at one moment, in one value.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cgroup::Cgroup;
use crate::container::Container;
use crate::namespace::Namespace;
use crate::process::Process;
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

/// What an engine is and where it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub kind: EngineKind,
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
