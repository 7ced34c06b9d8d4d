//! The rest of the host, read-only: every namespace (as `lsns` lists them),
//! the top-level cgroups, and containers that other runtimes run here
//! (Docker, Podman, containerd, runc, LXC, systemd-nspawn), recognised by
//! their cgroups' names and by runc's state directories.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anchorage_shared::host::{ForeignContainer, HostCgroup, HostNamespace, HostView};
use anchorage_shared::namespace::{NamespaceId, NamespaceKind};

use super::observe::ns_inode;
use crate::cgroup::{Cgroup, Controller, Layout};

/// Which runtime a cgroup path belongs to, and the container's ID there.
pub fn classify(path: &str) -> Option<(&'static str, String)> {
    let hex = |s: &str| s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for (i, segment) in segments.iter().enumerate().rev() {
        let scoped = |prefix: &str| {
            segment
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(".scope"))
                .filter(|id| hex(id))
                .map(str::to_string)
        };
        if let Some(id) = scoped("docker-") {
            return Some(("docker", id));
        }
        if segment.starts_with("libpod-conmon-") {
            return None;
        }
        if let Some(id) = scoped("libpod-") {
            return Some(("podman", id));
        }
        if let Some(id) = scoped("cri-containerd-") {
            return Some(("containerd", id));
        }
        if let Some(id) = scoped("crio-") {
            return Some(("cri-o", id));
        }
        let parent = i.checked_sub(1).map(|p| segments[p]);
        if hex(segment) {
            match parent {
                Some("docker") => return Some(("docker", segment.to_string())),
                Some("libpod_parent") => return Some(("podman", segment.to_string())),
                Some(p) if p.starts_with("kubepods") || p.starts_with("pod") => {
                    return Some(("containerd", segment.to_string()));
                }
                _ => {}
            }
        }
        if let Some(name) = segment.strip_prefix("lxc.payload.") {
            return Some(("lxc", name.to_string()));
        }
        if parent == Some("lxc") {
            return Some(("lxc", segment.to_string()));
        }
        if let Some(name) = segment
            .strip_prefix("systemd-nspawn@")
            .and_then(|s| s.strip_suffix(".service"))
        {
            return Some(("systemd-nspawn", name.to_string()));
        }
    }
    None
}

/// The cgroup path a process is in, on the hierarchy that accounts its
/// memory: cgroup2's on a unified host, the v1 memory controller's else.
fn cgroup_of(text: &str, unified: bool) -> Option<String> {
    let mut v2 = None;
    let mut memory = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.is_empty() {
            v2 = Some(path.to_string());
        } else if controllers.split(',').any(|c| c == "memory") {
            memory = Some(path.to_string());
        }
    }
    if unified {
        v2.or(memory)
    } else {
        memory.or(v2)
    }
}

/// runc's containers: its state directories (plain `runc`, and the roots
/// Docker and containerd give it), as (runtime, id, init pid).
fn runc_states() -> Vec<(&'static str, String, u32)> {
    let mut found = Vec::new();
    let mut look = |runtime: &'static str, root: &Path| {
        let Ok(entries) = fs::read_dir(root) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(text) = fs::read_to_string(entry.path().join("state.json")) else {
                continue;
            };
            let Ok(state) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if let Some(pid) = state["init_process_pid"].as_u64() {
                found.push((
                    runtime,
                    entry.file_name().to_string_lossy().into_owned(),
                    pid as u32,
                ));
            }
        }
    };
    look("runc", Path::new("/run/runc"));
    look("docker", Path::new("/run/docker/runtime-runc/moby"));
    if let Ok(namespaces) = fs::read_dir("/run/containerd/runc") {
        for namespace in namespaces.flatten() {
            look("containerd", &namespace.path());
        }
    }
    found
}

struct Seen {
    pid: u32,
    comm: String,
    cgroup: String,
    /// Its `/proc/PID/cgroup`, every hierarchy's path.
    cgroups: String,
    namespaces: Vec<NamespaceId>,
}

/// Reads the host view. `own` is this engine's cgroup prefix
/// (`/anchorage`): its containers are shown elsewhere.
pub fn read(layout: Option<&Layout>, own: &str) -> HostView {
    let unified = matches!(layout, Some(Layout::Unified { .. }) | None);
    let mut seen: Vec<Seen> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(cgroups) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
                continue;
            };
            let comm = fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim_end().to_string())
                .unwrap_or_default();
            let namespaces = NamespaceKind::ALL
                .iter()
                .filter_map(|kind| {
                    ns_inode(pid, *kind).map(|inode| NamespaceId { kind: *kind, inode })
                })
                .collect();
            seen.push(Seen {
                pid,
                comm,
                cgroup: cgroup_of(&cgroups, unified).unwrap_or_default(),
                cgroups,
                namespaces,
            });
        }
    }
    seen.sort_by_key(|s| s.pid);

    let mut namespaces: BTreeMap<NamespaceId, HostNamespace> = BTreeMap::new();
    for process in &seen {
        for id in &process.namespaces {
            namespaces
                .entry(*id)
                .and_modify(|n| n.processes += 1)
                .or_insert_with(|| HostNamespace {
                    id: *id,
                    processes: 1,
                    pid: process.pid,
                    command: process.comm.clone(),
                });
        }
    }

    // Other runtimes' containers: by runc's state, then by cgroup name.
    let mut others: BTreeMap<(String, String), ForeignContainer> = BTreeMap::new();
    let mut by_cgroup: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (runtime, id, init) in runc_states() {
        if let Some(process) = seen.iter().find(|s| s.pid == init)
            && !process.cgroup.starts_with(own)
        {
            by_cgroup.insert(process.cgroup.clone(), (runtime.into(), id));
        }
    }
    let own_prefix = format!("{own}/");
    for process in &seen {
        if process.cgroup.starts_with(&own_prefix) {
            continue;
        }
        let key = match by_cgroup.get(&process.cgroup) {
            Some(key) => key.clone(),
            None => match classify(&process.cgroup) {
                Some((runtime, id)) => (runtime.to_string(), id),
                None => continue,
            },
        };
        let container = others
            .entry(key.clone())
            .or_insert_with(|| ForeignContainer {
                runtime: key.0.clone(),
                id: key.1.clone(),
                cgroup: process.cgroup.clone(),
                init_pid: None,
                pids: Vec::new(),
                namespaces: Vec::new(),
                limits: None,
                usage: None,
            });
        container.pids.push(process.pid);
    }
    for container in others.values_mut() {
        // The init is PID 1 of its pid namespace: the last NSpid is 1.
        container.init_pid = container.pids.iter().copied().find(|pid| {
            fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|status| {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix("NSpid:"))
                        .and_then(|pids| pids.split_whitespace().last().map(|p| p == "1"))
                })
                .unwrap_or(false)
        });
        let init = container.init_pid.or(container.pids.first().copied());
        let Some(first) = seen.iter().find(|s| Some(s.pid) == init) else {
            continue;
        };
        container.namespaces = first.namespaces.clone();
        if let Some(layout) = layout {
            container.usage = Cgroup::of_process(layout, &first.cgroups).usage().ok();
        }
    }

    HostView {
        namespaces: namespaces.into_values().collect(),
        cgroups: top_cgroups(layout, &seen),
        others: others.into_values().collect(),
        processes: seen.len() as u32,
        own_namespaces: super::observe::namespaces_of(std::process::id()),
    }
}

/// The cgroups just under the root of the memory-accounting hierarchy.
fn top_cgroups(layout: Option<&Layout>, seen: &[Seen]) -> Vec<HostCgroup> {
    let (root, memory_file): (PathBuf, &str) = match layout {
        Some(Layout::Unified { root }) => (root.clone(), "memory.current"),
        Some(Layout::Legacy { controllers, .. } | Layout::Hybrid { controllers, .. }) => {
            match controllers.get(&Controller::Memory) {
                Some(dir) => (dir.clone(), "memory.usage_in_bytes"),
                None => return Vec::new(),
            }
        }
        None => (PathBuf::from("/sys/fs/cgroup"), "memory.current"),
    };
    let Ok(entries) = fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut cgroups: Vec<HostCgroup> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| {
            let path = format!("/{}", e.file_name().to_string_lossy());
            let inside = format!("{path}/");
            let processes = seen
                .iter()
                .filter(|s| s.cgroup == path || s.cgroup.starts_with(&inside))
                .count() as u32;
            let memory_bytes = fs::read_to_string(e.path().join(memory_file))
                .ok()
                .and_then(|t| t.trim().parse().ok());
            HostCgroup {
                path,
                processes,
                memory_bytes,
            }
        })
        .collect();
    cgroups.sort_by(|a, b| a.path.cmp(&b.path));
    cgroups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_are_known_by_their_cgroups() {
        let id = "4c3d2b1a0f9e8d7c6b5a4c3d2b1a0f9e8d7c6b5a4c3d2b1a0f9e8d7c6b5a4c3d";
        for (path, runtime) in [
            (format!("/system.slice/docker-{id}.scope"), "docker"),
            (format!("/docker/{id}"), "docker"),
            (format!("/machine.slice/libpod-{id}.scope"), "podman"),
            (
                format!(
                    "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{id}.scope/container"
                ),
                "podman",
            ),
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-{id}.scope"
                ),
                "containerd",
            ),
            (format!("/kubepods/besteffort/pod1234/{id}"), "containerd"),
        ] {
            assert_eq!(classify(&path), Some((runtime, id.to_string())), "{path}");
        }
        assert_eq!(
            classify("/lxc.payload.web"),
            Some(("lxc", "web".to_string()))
        );
        assert_eq!(
            classify("/machine.slice/systemd-nspawn@debian.service"),
            Some(("systemd-nspawn", "debian".to_string()))
        );
        // Not containers: the host's own services and users, conmon.
        for path in [
            "/",
            "/system.slice/ssh.service",
            "/user.slice/user-1000.slice/session-2.scope",
            &format!("/machine.slice/libpod-conmon-{id}.scope"),
        ] {
            assert_eq!(classify(path), None, "{path}");
        }
    }

    #[test]
    fn the_memory_hierarchy_names_a_process_cgroup() {
        let hybrid = "12:pids:/docker/abc\n6:memory:/docker/abc\n0::/system.slice/docker.service\n";
        assert_eq!(cgroup_of(hybrid, false).as_deref(), Some("/docker/abc"));
        assert_eq!(
            cgroup_of("0::/system.slice/ssh.service\n", true).as_deref(),
            Some("/system.slice/ssh.service")
        );
    }
}
