//! Simulated namespaces: a table of namespaces with inode numbers handed out
//! the way the kernel's proc inode allocator does, and reference counts so a
//! namespace disappears when its last process leaves.

use std::collections::BTreeMap;

use crate::namespace::{IdMap, Namespace, NamespaceDetail, NamespaceId, NamespaceKind};
use crate::process::Pid;

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
}

#[derive(Clone, Debug)]
pub(crate) struct Namespaces {
    pub table: BTreeMap<u64, SimNamespace>,
    next_inode: u64,
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
                NamespaceKind::Mnt => NamespaceDetail::Mnt { root: "/".into() },
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
                },
            );
            host.insert(kind, inode);
        }
        Namespaces {
            table,
            next_inode: FIRST_DYNAMIC_INODE,
            host,
        }
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
            if ns.refs == 0 && self.host.get(kind) != Some(inode) && !self.has_children(*inode) {
                self.table.remove(inode);
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

    pub fn snapshot(&self) -> Vec<Namespace> {
        let mut list: Vec<Namespace> = self
            .table
            .iter()
            .map(|(inode, ns)| Namespace {
                id: NamespaceId {
                    kind: ns.kind,
                    inode: *inode,
                },
                parent: ns.parent,
                owner: ns.owner,
                processes: ns.refs,
                detail: ns.detail.clone(),
            })
            .collect();
        list.sort_by_key(|ns| (ns.id.kind, ns.id.inode));
        list
    }
}
