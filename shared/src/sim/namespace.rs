//! Simulated namespaces: a table of namespaces with inode numbers handed out
//! the way the kernel's proc inode allocator does, and reference counts so a
//! namespace disappears when its last process leaves.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::namespace::{IdMap, Mount, Namespace, NamespaceDetail, NamespaceId, NamespaceKind};
use crate::process::Pid;

use super::tarball::Tree;

/// What a mount shows.
#[derive(Clone, Debug)]
pub(crate) enum Backing {
    /// The container's overlay root (its image layers and writable layer).
    Overlay { container: String },
    /// A directory of the host's file system: the host's root, or a bind
    /// mount (a volume). The path is relative to the host's root.
    Host { path: String },
    /// procfs, rendered for whoever reads it, showing the pid namespace
    /// it was mounted for; `sub` is the directory of it a bind shows
    /// (`sys` for `/proc/sys`), empty for the whole.
    Proc { pid_ns: u64, sub: String },
    /// sysfs: only the mount point for cgroupfs.
    Sysfs,
    /// cgroupfs (one hierarchy of the host's layout), rooted at a cgroup:
    /// a cgroup namespace's root.
    Cgroup {
        hierarchy: super::cgroupfs::Hierarchy,
        root: String,
    },
    /// A tmpfs and its files.
    Tmpfs(Tree),
}

/// One mount of a mount namespace.
#[derive(Clone, Debug)]
pub(crate) struct SimMount {
    pub id: u32,
    pub parent: u32,
    /// Where it is mounted: an absolute path.
    pub target: String,
    pub fstype: &'static str,
    pub source: String,
    pub options: String,
    pub backing: Backing,
}

impl SimMount {
    pub fn read_only(&self) -> bool {
        self.options.split(',').next() == Some("ro")
    }

    pub fn public(&self) -> Mount {
        Mount {
            target: self.target.clone(),
            fstype: self.fstype.to_string(),
            source: self.source.clone(),
            options: self.options.clone(),
        }
    }
}

/// The inode numbers of the initial namespaces on a Linux host
/// (`include/linux/proc_ns.h`).
pub(crate) fn initial_inode(kind: NamespaceKind) -> u64 {
    match kind {
        NamespaceKind::Ipc => 0xEFFF_FFFF,    // 4026531839
        NamespaceKind::Uts => 0xEFFF_FFFE,    // 4026531838
        NamespaceKind::User => 0xEFFF_FFFD,   // 4026531837
        NamespaceKind::Pid => 0xEFFF_FFFC,    // 4026531836
        NamespaceKind::Cgroup => 0xEFFF_FFFB, // 4026531835
        NamespaceKind::Time => 0xEFFF_FFFA,   // 4026531834
        NamespaceKind::Mnt => 4026531841,
        NamespaceKind::Net => 4026531840,
    }
}

/// The first inode the allocator hands out after boot on a typical host.
const FIRST_DYNAMIC_INODE: u64 = 4026532160;

/// A process's namespaces: one of each kind.
pub(crate) type NsSet = BTreeMap<NamespaceKind, u64>;

#[derive(Clone, Debug)]
pub(crate) struct SimNamespace {
    pub kind: NamespaceKind,
    pub parent: Option<u64>,
    pub owner: Option<u64>,
    pub refs: u32,
    pub detail: NamespaceDetail,
    /// For a pid namespace: the next pid to hand out and its nesting level.
    pub next_pid: Pid,
    pub level: u32,
    /// For a mount namespace: its mount table, parents before children.
    pub mounts: Vec<SimMount>,
    /// For a cgroup namespace: the cgroup that is its root.
    pub cgroup_root: Option<String>,
    /// Bumped whenever `detail` changes, so a snapshot can tell.
    pub version: u64,
    /// For a net namespace: its devices, addresses and routes.
    pub net: Option<super::net::NetStack>,
}

/// Whether `path` is `target` or inside it.
pub(crate) fn is_under(target: &str, path: &str) -> bool {
    target == "/"
        || path == target
        || path
            .strip_prefix(target)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `path` relative to the mount point `target`, without a leading `/`.
pub(crate) fn relative_to<'a>(target: &str, path: &'a str) -> &'a str {
    let rest = if target == "/" {
        path
    } else {
        &path[target.len()..]
    };
    rest.trim_start_matches('/')
}

/// The mount that covers a path: the deepest mount point above it, the
/// latest mounted on ties.
fn covering_mount<'a>(mounts: &'a [SimMount], path: &str) -> Option<&'a SimMount> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| is_under(&m.target, path))
        .max_by_key(|(i, m)| (m.target.len(), *i))
        .map(|(_, m)| m)
}

#[derive(Clone, Debug)]
pub(crate) struct Namespaces {
    pub table: BTreeMap<u64, SimNamespace>,
    next_inode: u64,
    next_mount_id: u32,
    pub host: NsSet,
}

impl Namespaces {
    /// The host's initial namespaces. `host_pid_start` is the host pid
    /// namespace's next pid.
    pub fn boot(hostname: &str, host_pid_start: Pid) -> Namespaces {
        let mut table = BTreeMap::new();
        let mut host = NsSet::new();
        for kind in NamespaceKind::ALL {
            let inode = initial_inode(kind);
            let detail = match kind {
                NamespaceKind::Uts => NamespaceDetail::Uts {
                    hostname: hostname.to_string(),
                },
                NamespaceKind::Net => NamespaceDetail::Net {
                    interfaces: vec!["lo".into(), "eth0".into()],
                },
                NamespaceKind::User => NamespaceDetail::User {
                    uid_map: vec![IdMap {
                        inside: 0,
                        outside: 0,
                        count: u32::MAX,
                    }],
                    gid_map: vec![IdMap {
                        inside: 0,
                        outside: 0,
                        count: u32::MAX,
                    }],
                },
                NamespaceKind::Pid => NamespaceDetail::Pid { level: 0 },
                NamespaceKind::Mnt => NamespaceDetail::Mnt {
                    root: "/".into(),
                    mounts: vec![],
                },
                _ => NamespaceDetail::Plain,
            };
            table.insert(
                inode,
                SimNamespace {
                    kind,
                    parent: None,
                    owner: (kind != NamespaceKind::User)
                        .then(|| initial_inode(NamespaceKind::User)),
                    refs: 0,
                    detail,
                    next_pid: host_pid_start,
                    level: 0,
                    mounts: vec![],
                    cgroup_root: None,
                    version: 0,
                    net: (kind == NamespaceKind::Net).then(super::net::NetStack::host),
                },
            );
            host.insert(kind, inode);
        }
        let mut namespaces = Namespaces {
            table,
            next_inode: FIRST_DYNAMIC_INODE,
            next_mount_id: 21,
            host,
        };
        let host_mnt = namespaces.host[&NamespaceKind::Mnt];
        let host_pid = namespaces.host[&NamespaceKind::Pid];
        for (target, fstype, source, options, backing) in [
            (
                "/",
                "ext4",
                "/dev/vda1",
                "rw,relatime",
                Backing::Host {
                    path: String::new(),
                },
            ),
            (
                "/proc",
                "proc",
                "proc",
                "rw,nosuid,nodev,noexec,relatime",
                Backing::Proc {
                    pid_ns: host_pid,
                    sub: String::new(),
                },
            ),
            (
                "/sys",
                "sysfs",
                "sysfs",
                "rw,nosuid,nodev,noexec,relatime",
                Backing::Sysfs,
            ),
        ] {
            namespaces.mount(host_mnt, target, fstype, source, options, backing);
        }
        namespaces
    }

    /// Adds a mount to a mount namespace's table, under the mount it
    /// covers.
    pub fn mount(
        &mut self,
        mnt_ns: u64,
        target: &str,
        fstype: &'static str,
        source: &str,
        options: &str,
        backing: Backing,
    ) {
        let id = self.next_mount_id;
        self.next_mount_id += 1;
        let Some(ns) = self.table.get_mut(&mnt_ns) else {
            return;
        };
        let parent = covering_mount(&ns.mounts, target).map_or(id, |m| m.id);
        ns.mounts.push(SimMount {
            id,
            parent,
            target: target.to_string(),
            fstype,
            source: source.to_string(),
            options: options.to_string(),
            backing,
        });
        if let NamespaceDetail::Mnt { mounts, .. } = &mut ns.detail {
            mounts.push(ns.mounts.last().expect("just pushed").public());
        }
        ns.version += 1;
    }

    /// The mount an absolute path is on, and the path relative to the
    /// mount's root.
    pub fn mount_of<'a>(&'a self, mnt_ns: u64, path: &'a str) -> Option<(&'a SimMount, &'a str)> {
        let ns = self.table.get(&mnt_ns)?;
        let mount = covering_mount(&ns.mounts, path)?;
        Some((mount, relative_to(&mount.target, path)))
    }

    pub fn mount_of_mut(&mut self, mnt_ns: u64, path: &str) -> Option<&mut SimMount> {
        let ns = self.table.get_mut(&mnt_ns)?;
        let index = ns
            .mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| is_under(&m.target, path))
            .max_by_key(|(i, m)| (m.target.len(), *i))
            .map(|(i, _)| i)?;
        Some(&mut ns.mounts[index])
    }

    /// The mount points directly inside a directory, as names.
    pub fn mount_points_in(&self, mnt_ns: u64, dir: &str) -> Vec<String> {
        let Some(ns) = self.table.get(&mnt_ns) else {
            return vec![];
        };
        ns.mounts
            .iter()
            .filter_map(|m| {
                let rest = if dir == "/" {
                    m.target.strip_prefix('/')?
                } else {
                    m.target.strip_prefix(dir)?.strip_prefix('/')?
                };
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_string())
            })
            .collect()
    }

    /// Creates a namespace of `kind`, a child of `parent` where the kind
    /// nests, owned by the user namespace `owner`.
    pub fn create(
        &mut self,
        kind: NamespaceKind,
        parent: u64,
        owner: u64,
        detail: NamespaceDetail,
    ) -> u64 {
        let inode = self.next_inode;
        self.next_inode += 1;
        let nests = matches!(kind, NamespaceKind::Pid | NamespaceKind::User);
        let level = if kind == NamespaceKind::Pid {
            self.table.get(&parent).map_or(0, |p| p.level + 1)
        } else {
            0
        };
        let detail = match (kind, detail) {
            (NamespaceKind::Pid, _) => NamespaceDetail::Pid { level },
            (_, detail) => detail,
        };
        self.table.insert(
            inode,
            SimNamespace {
                kind,
                parent: nests.then_some(parent),
                owner: (kind != NamespaceKind::User).then_some(owner),
                refs: 0,
                detail,
                next_pid: 1,
                level,
                mounts: vec![],
                cgroup_root: None,
                version: 0,
                // A new net namespace has loopback only, down; a runtime
                // brings it up.
                net: (kind == NamespaceKind::Net).then(super::net::NetStack::fresh),
            },
        );
        inode
    }

    /// The chain of pid namespaces from the host's down to `inode`.
    pub fn pid_chain(&self, inode: u64) -> Vec<u64> {
        let mut chain = vec![inode];
        let mut current = inode;
        while let Some(parent) = self.table.get(&current).and_then(|ns| ns.parent) {
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        chain
    }

    /// Hands out the next pid in a pid namespace.
    pub fn alloc_pid(&mut self, inode: u64) -> Pid {
        let ns = self.table.get_mut(&inode).expect("pid namespace exists");
        let pid = ns.next_pid;
        ns.next_pid += 1;
        pid
    }

    pub fn enter(&mut self, set: &NsSet) {
        for inode in set.values() {
            if let Some(ns) = self.table.get_mut(inode) {
                ns.refs += 1;
            }
        }
    }

    /// A process left these namespaces; drops the ones nobody uses any more
    /// (the host's stay for ever).
    pub fn leave(&mut self, set: &NsSet) {
        for (kind, inode) in set {
            let Some(ns) = self.table.get_mut(inode) else {
                continue;
            };
            ns.refs = ns.refs.saturating_sub(1);
            let mut candidate = Some(*inode);
            // A namespace goes when nothing is in it and no namespace
            // nests in it; its going may free its parent too.
            while let Some(inode) = candidate.take() {
                let Some(ns) = self.table.get(&inode) else {
                    break;
                };
                if ns.refs == 0 && self.host.get(kind) != Some(&inode) && !self.has_children(inode)
                {
                    let parent = ns.parent;
                    self.table.remove(&inode);
                    candidate = parent;
                }
            }
        }
    }

    fn has_children(&self, inode: u64) -> bool {
        self.table.values().any(|ns| ns.parent == Some(inode))
    }

    pub fn hostname(&self, uts: u64) -> String {
        match self.table.get(&uts).map(|ns| &ns.detail) {
            Some(NamespaceDetail::Uts { hostname }) => hostname.clone(),
            _ => String::new(),
        }
    }

    /// Sets a uts namespace's hostname.
    pub fn set_hostname(&mut self, uts: u64, name: &str) {
        if let Some(ns) = self.table.get_mut(&uts) {
            ns.detail = NamespaceDetail::Uts {
                hostname: name.to_string(),
            };
            ns.version += 1;
        }
    }

    /// A net namespace's interfaces.
    pub fn interfaces(&self, net: u64) -> Vec<String> {
        match self.table.get(&net).map(|ns| &ns.detail) {
            Some(NamespaceDetail::Net { interfaces }) => interfaces.clone(),
            _ => vec![],
        }
    }

    /// A net namespace's stack.
    pub fn net(&self, net: u64) -> Option<&super::net::NetStack> {
        self.table.get(&net)?.net.as_ref()
    }

    /// Changes a net namespace's stack; its interface list (what the
    /// model shows) follows a rename.
    pub fn net_apply(
        &mut self,
        net: u64,
        request: crate::net::NetRequest,
        admin: bool,
    ) -> Result<(), &'static str> {
        let ns = self.table.get_mut(&net).ok_or("Invalid argument")?;
        let stack = ns.net.as_mut().ok_or("Invalid argument")?;
        stack.apply(request, admin)?;
        let names = stack.names();
        if ns.detail
            != (NamespaceDetail::Net {
                interfaces: names.clone(),
            })
        {
            ns.detail = NamespaceDetail::Net { interfaces: names };
            ns.version += 1;
        }
        Ok(())
    }

    /// A user namespace's uid and gid maps (the host's maps all ids).
    pub fn id_maps(&self, user: u64) -> (Vec<IdMap>, Vec<IdMap>) {
        match self.table.get(&user).map(|ns| &ns.detail) {
            Some(NamespaceDetail::User { uid_map, gid_map }) => (uid_map.clone(), gid_map.clone()),
            _ => (vec![], vec![]),
        }
    }

    /// The namespaces as a snapshot lists them, reusing the entries of
    /// `cache` (the last snapshot's, by inode) that did not change.
    pub fn snapshot(&self, cache: &mut Vec<(u64, Arc<Namespace>)>) -> Vec<Arc<Namespace>> {
        let mut fresh = Vec::with_capacity(self.table.len());
        let mut old = cache.iter().peekable();
        for (inode, ns) in &self.table {
            while old.peek().is_some_and(|(_, o)| o.id.inode < *inode) {
                old.next();
            }
            let entry = match old.peek() {
                Some((version, o))
                    if o.id.inode == *inode && *version == ns.version && o.processes == ns.refs =>
                {
                    Arc::clone(o)
                }
                _ => Arc::new(Namespace {
                    id: NamespaceId {
                        kind: ns.kind,
                        inode: *inode,
                    },
                    parent: ns.parent,
                    owner: ns.owner,
                    processes: ns.refs,
                    detail: ns.detail.clone(),
                }),
            };
            fresh.push((ns.version, entry));
        }
        let mut list: Vec<Arc<Namespace>> = fresh.iter().map(|(_, ns)| Arc::clone(ns)).collect();
        *cache = fresh;
        list.sort_by_key(|ns| (ns.id.kind, ns.id.inode));
        list
    }
}
