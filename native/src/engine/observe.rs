//! What the engine reads from the live system for a snapshot: `/proc`
//! for processes and namespaces, the writable layer for its size.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use anchorage_shared::container::Container;
use anchorage_shared::namespace::{IdMap, Namespace, NamespaceDetail, NamespaceId, NamespaceKind};
use anchorage_shared::process::{Process, ProcessState};

/// The host's memory, from `/proc/meminfo`.
pub fn host_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A namespace's inode, from its `/proc/PID/ns` link (`pid:[4026531836]`).
pub fn ns_inode(pid: u32, kind: NamespaceKind) -> Option<u64> {
    let link = fs::read_link(format!("/proc/{pid}/ns/{}", kind.proc_name())).ok()?;
    let text = link.to_string_lossy();
    text.split_once(":[")?.1.strip_suffix(']')?.parse().ok()
}

/// The namespaces a process is in, as `/proc/PID/ns` lists them.
pub fn namespaces_of(pid: u32) -> Vec<NamespaceId> {
    NamespaceKind::ALL
        .iter()
        .filter_map(|kind| ns_inode(pid, *kind).map(|inode| NamespaceId { kind: *kind, inode }))
        .collect()
}

/// Entries and bytes of files in a directory tree (the writable layer).
pub fn tree_usage(dir: &Path) -> (u64, u64) {
    let mut entries = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(read) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.flatten() {
            entries += 1;
            if let Ok(meta) = entry.path().symlink_metadata() {
                if meta.is_dir() {
                    stack.push(entry.path());
                } else if meta.is_file() {
                    bytes += meta.len();
                }
            }
        }
    }
    (entries, bytes)
}

fn id_maps(pid: u32, file: &str) -> Vec<IdMap> {
    fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace().map(|n| n.parse::<u32>().ok());
            Some(IdMap {
                inside: f.next()??,
                outside: f.next()??,
                count: f.next()??,
            })
        })
        .collect()
}

/// One process from `/proc`, if it still exists.
fn read_process(pid: u32, container: Option<String>) -> Option<Process> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    let comm = stat[stat.find('(')? + 1..close].to_string();
    let rest: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let state = match rest.first()?.chars().next()? {
        'R' => ProcessState::Running,
        'Z' => ProcessState::Zombie,
        _ => ProcessState::Sleeping,
    };
    let ppid = rest.get(1)?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    let cpu: u64 = rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let ns_pids = field("NSpid:")
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    let uid = field("Uid:")
        .first()
        .and_then(|u| u.parse().ok())
        .unwrap_or(0);
    let gid = field("Gid:")
        .first()
        .and_then(|g| g.parse().ok())
        .unwrap_or(0);
    let rss = field("VmRSS:")
        .first()
        .and_then(|k| k.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv = if cmdline.is_empty() {
        vec![format!("[{comm}]")]
    } else {
        cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    };
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .unwrap_or_default();
    Some(Process {
        pid,
        ppid,
        ns_pids,
        argv,
        state,
        uid,
        gid,
        container,
        cgroup,
        namespaces: namespaces_of(pid),
        memory_bytes: rss,
        cpu_usec: cpu * 1_000_000 / ticks,
        exit: None,
    })
}

/// The processes of the running containers (those in each one's pid
/// namespace) and the namespaces they are anchored to. `members` lists
/// each container's cgroup's processes where it has one (the cheap way);
/// without cgroups every process on the host is looked at.
pub fn processes(
    containers: &[Container],
    members: Option<&BTreeMap<String, Vec<u32>>>,
) -> (Vec<Arc<Process>>, Vec<Arc<Namespace>>) {
    let by_pid_ns: BTreeMap<u64, &Container> = containers
        .iter()
        .filter_map(|c| {
            let pid_ns = c.namespaces.iter().find(|n| n.kind == NamespaceKind::Pid)?;
            Some((pid_ns.inode, c))
        })
        .collect();
    let candidates: Vec<u32> = match members {
        Some(members) => containers
            .iter()
            .filter_map(|c| members.get(&c.id))
            .flatten()
            .copied()
            .collect(),
        None if by_pid_ns.is_empty() => Vec::new(),
        None => fs::read_dir("/proc")
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut processes = Vec::new();
    for pid in candidates {
        // In the container's pid namespace: not an exec's joiner, which
        // shares the cgroup from the host's.
        let Some(inode) = ns_inode(pid, NamespaceKind::Pid) else {
            continue;
        };
        if let Some(container) = by_pid_ns.get(&inode)
            && let Some(process) = read_process(pid, Some(container.id.clone()))
        {
            processes.push(process);
        }
    }
    processes.sort_by_key(|p| p.pid);
    let mut namespaces = Vec::new();
    for container in containers {
        let Some(init) = container.init_pid else {
            continue;
        };
        for id in &container.namespaces {
            let members = processes
                .iter()
                .filter(|p| p.namespaces.contains(id))
                .count() as u32;
            let detail = match id.kind {
                NamespaceKind::Uts => NamespaceDetail::Uts {
                    hostname: container.hostname.clone(),
                },
                NamespaceKind::User => NamespaceDetail::User {
                    uid_map: id_maps(init, "uid_map"),
                    gid_map: id_maps(init, "gid_map"),
                },
                NamespaceKind::Pid => NamespaceDetail::Pid { level: 1 },
                NamespaceKind::Net => NamespaceDetail::Net {
                    interfaces: fs::read_dir(format!("/proc/{init}/root/sys/class/net"))
                        .map(|d| {
                            let mut names: Vec<String> = d
                                .flatten()
                                .map(|e| e.file_name().to_string_lossy().into_owned())
                                .collect();
                            names.sort();
                            names
                        })
                        .unwrap_or_else(|_| vec!["lo".into()]),
                },
                _ => NamespaceDetail::Plain,
            };
            let owner = (id.kind != NamespaceKind::User)
                .then(|| ns_inode(init, NamespaceKind::User))
                .flatten();
            namespaces.push(Arc::new(Namespace {
                id: *id,
                parent: None,
                owner,
                processes: members,
                detail,
            }));
        }
    }
    (processes.into_iter().map(Arc::new).collect(), namespaces)
}
