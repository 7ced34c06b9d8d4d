//! Namespaces: the third noun. What a process can see (pids, mounts,
//! hostname, network, users...) is decided by the namespaces it is anchored to.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The eight kinds of Linux namespace, in the order `/proc/PID/ns` lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceKind {
    Cgroup,
    Ipc,
    Mnt,
    Net,
    Pid,
    Time,
    User,
    Uts,
}

impl NamespaceKind {
    pub const ALL: [NamespaceKind; 8] = [
        NamespaceKind::Cgroup,
        NamespaceKind::Ipc,
        NamespaceKind::Mnt,
        NamespaceKind::Net,
        NamespaceKind::Pid,
        NamespaceKind::Time,
        NamespaceKind::User,
        NamespaceKind::Uts,
    ];

    /// The file name under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NamespaceKind::Cgroup => "cgroup",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Mnt => "mnt",
            NamespaceKind::Net => "net",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Time => "time",
            NamespaceKind::User => "user",
            NamespaceKind::Uts => "uts",
        }
    }

    /// The `clone(2)`/`unshare(2)` flag that creates one.
    pub fn clone_flag(self) -> &'static str {
        match self {
            NamespaceKind::Cgroup => "CLONE_NEWCGROUP",
            NamespaceKind::Ipc => "CLONE_NEWIPC",
            NamespaceKind::Mnt => "CLONE_NEWNS",
            NamespaceKind::Net => "CLONE_NEWNET",
            NamespaceKind::Pid => "CLONE_NEWPID",
            NamespaceKind::Time => "CLONE_NEWTIME",
            NamespaceKind::User => "CLONE_NEWUSER",
            NamespaceKind::Uts => "CLONE_NEWUTS",
        }
    }

    /// What isolating this kind means, in one line, for the UI and lessons.
    pub fn isolates(self) -> &'static str {
        match self {
            NamespaceKind::Cgroup => "the view of the cgroup hierarchy",
            NamespaceKind::Ipc => "System V IPC and POSIX message queues",
            NamespaceKind::Mnt => "the mount table and the root directory",
            NamespaceKind::Net => "network interfaces, routes and ports",
            NamespaceKind::Pid => "process IDs: the first process is PID 1",
            NamespaceKind::Time => "the boot and monotonic clocks",
            NamespaceKind::User => "user and group IDs: root inside, nobody outside",
            NamespaceKind::Uts => "the hostname and domain name",
        }
    }
}

impl fmt::Display for NamespaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proc_name())
    }
}

/// A namespace's identity: its kind and its inode number, as
/// `readlink /proc/PID/ns/KIND` prints it (`pid:[4026531836]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NamespaceId {
    pub kind: NamespaceKind,
    pub inode: u64,
}

impl fmt::Display for NamespaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:[{}]", self.kind, self.inode)
    }
}

/// One line of a user namespace's `uid_map` or `gid_map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    /// The first ID inside the namespace.
    pub inside: u32,
    /// The ID it maps to in the parent namespace.
    pub outside: u32,
    /// How many consecutive IDs are mapped.
    pub count: u32,
}

impl IdMap {
    /// The outside ID of an inside one, if this line maps it.
    pub fn to_outside(&self, inside: u32) -> Option<u32> {
        (inside >= self.inside && inside - self.inside < self.count)
            .then(|| self.outside + (inside - self.inside))
    }
}

/// One entry of a mount namespace's mount table, as `/proc/self/mounts`
/// lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Where it is mounted, as seen inside the namespace.
    pub target: String,
    /// The file-system type: `overlay`, `proc`, `cgroup2`, `tmpfs`...
    pub fstype: String,
    /// What is mounted: a device, a host path for a bind mount, or a name.
    pub source: String,
    /// Mount options, comma-separated (`ro` or `rw` first).
    pub options: String,
}

/// What a namespace holds that the UI shows, by kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NamespaceDetail {
    /// A uts namespace's hostname.
    Uts { hostname: String },
    /// A net namespace's interfaces.
    Net { interfaces: Vec<String> },
    /// A user namespace's ID maps.
    User {
        uid_map: Vec<IdMap>,
        gid_map: Vec<IdMap>,
    },
    /// A pid namespace's nesting level (the host's is 0).
    Pid { level: u32 },
    /// A mount namespace's root and mount table.
    Mnt { root: String, mounts: Vec<Mount> },
    /// Nothing more to show.
    Plain,
}

/// One namespace on the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub id: NamespaceId,
    /// The parent namespace's inode, for the hierarchical kinds (pid, user).
    pub parent: Option<u64>,
    /// The inode of the user namespace that owns it.
    pub owner: Option<u64>,
    /// How many processes are in it.
    pub processes: u32,
    pub detail: NamespaceDetail,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_print_like_proc_pid_ns() {
        let id = NamespaceId {
            kind: NamespaceKind::Pid,
            inode: 4026531836,
        };
        assert_eq!(id.to_string(), "pid:[4026531836]");
    }

    #[test]
    fn id_maps_translate_only_inside_their_range() {
        let map = IdMap {
            inside: 0,
            outside: 100000,
            count: 65536,
        };
        assert_eq!(map.to_outside(0), Some(100000));
        assert_eq!(map.to_outside(65535), Some(165535));
        assert_eq!(map.to_outside(65536), None);
    }
}
