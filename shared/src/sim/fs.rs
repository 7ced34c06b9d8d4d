//! The simulated VFS: a process's view of files through its mount
//! namespace. Paths resolve as the kernel's namei does (`.`, `..`, symlinks,
//! at most 40 of them), against the process's root, so nothing outside a
//! container's root is reachable. Each mount dispatches to what backs it:
//! the overlay root, a host directory (volumes), a tmpfs, or procfs,
//! sysfs and cgroupfs, which are rendered on read.

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};

use crate::namespace::NamespaceKind;
use crate::process::Pid;

use super::namespace::Backing;
use super::tarball::{Node, NodeKind, Overlay, Tree, join};
use super::{HOST_CPUS, SimEngine};

/// The errors the file system returns, with the text `strerror` gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Errno {
    NoEnt,
    Exist,
    NotDir,
    IsDir,
    RoFs,
    Loop,
    Inval,
    Busy,
    Access,
    Again,
    NoMem,
    Srch,
    NotEmpty,
    Perm,
    XDev,
    NoSpc,
    NxIo,
    NoDev,
    BadF,
    SPipe,
    FBig,
}

impl Errno {
    pub fn message(self) -> &'static str {
        match self {
            Errno::NoEnt => "No such file or directory",
            Errno::Exist => "File exists",
            Errno::NotDir => "Not a directory",
            Errno::IsDir => "Is a directory",
            Errno::RoFs => "Read-only file system",
            Errno::Loop => "Too many levels of symbolic links",
            Errno::Inval => "Invalid argument",
            Errno::Busy => "Device or resource busy",
            Errno::Access => "Permission denied",
            Errno::Again => "Resource temporarily unavailable",
            Errno::NoMem => "Cannot allocate memory",
            Errno::Srch => "No such process",
            Errno::NotEmpty => "Directory not empty",
            Errno::Perm => "Operation not permitted",
            Errno::XDev => "Invalid cross-device link",
            Errno::NoSpc => "No space left on device",
            Errno::NxIo => "No such device or address",
            Errno::NoDev => "No such device",
            Errno::BadF => "Bad file descriptor",
            Errno::SPipe => "Illegal seek",
            Errno::FBig => "File too large",
        }
    }
}

/// The most symlinks one path walk follows (the kernel's `MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;

/// A tree of files that can be changed: a plain tree (host, tmpfs) or an
/// overlay.
pub(crate) trait FileTree {
    fn node(&self, path: &str) -> Option<&Node>;
    fn node_mut(&mut self, path: &str) -> Option<&mut Node>;
    fn put(&mut self, path: &str, node: Node);
    fn delete(&mut self, path: &str);
    fn children(&self, dir: &str) -> Vec<String>;
    /// Whether a directory may be renamed here: overlayfs without
    /// `redirect_dir` (Debian's default) refuses to move a directory
    /// that a lower layer has, with EXDEV, and `mv` copies it instead.
    fn movable(&self, path: &str) -> bool {
        let _ = path;
        true
    }

    /// `rename(2)` within this tree: `from` and all below it, put at `to`
    /// (whose old contents go).
    fn rename(&mut self, from: &str, to: &str) {
        let mut moving = Vec::new();
        let mut pending = vec![from.to_string()];
        while let Some(path) = pending.pop() {
            let Some(node) = self.node(&path).cloned() else {
                continue;
            };
            if node.is_dir() {
                pending.extend(self.children(&path).iter().map(|name| join(&path, name)));
            }
            moving.push((path, node));
        }
        self.delete(to);
        self.delete(from);
        // Parents before children: `moving` is in walk order.
        for (path, node) in moving {
            self.put(&format!("{to}{}", &path[from.len()..]), node);
        }
    }
}

impl FileTree for Tree {
    fn node(&self, path: &str) -> Option<&Node> {
        self.get(path)
    }
    fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.get_mut(path)
    }
    fn put(&mut self, path: &str, node: Node) {
        self.insert(path, node)
    }
    fn delete(&mut self, path: &str) {
        self.remove_all(path)
    }
    fn children(&self, dir: &str) -> Vec<String> {
        Tree::children(self, dir)
    }
}

impl FileTree for Overlay {
    fn node(&self, path: &str) -> Option<&Node> {
        self.get(path)
    }
    fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.get_for_write(path)
    }
    fn put(&mut self, path: &str, node: Node) {
        Overlay::put(self, path, node)
    }
    fn delete(&mut self, path: &str) {
        self.remove(path)
    }
    fn children(&self, dir: &str) -> Vec<String> {
        Overlay::children(self, dir)
    }
    fn movable(&self, path: &str) -> bool {
        !self.lower_dir_shows(path)
    }
}

/// What a write goes to, found before borrowing it mutably.
pub(super) enum WriteTarget {
    Overlay(String),
    Host,
    Tmpfs(u64, String),
}

/// `devices/system/cpu/cpuN` of sysfs: N, for each CPU of the host.
fn sys_cpu(rel: &str) -> Option<u64> {
    let n: u64 = rel.strip_prefix("devices/system/cpu/cpu")?.parse().ok()?;
    (n < HOST_CPUS).then_some(n)
}

/// Splits a path into its components.
pub(super) fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// An absolute path from components.
fn absolute(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

impl SimEngine {
    pub(super) fn mnt_ns_of(&self, viewer: Pid) -> Result<u64, Errno> {
        self.processes
            .get(&viewer)
            .map(|p| p.ns[&NamespaceKind::Mnt])
            .ok_or(Errno::NoEnt)
    }

    /// Resolves a path for a process: absolute, with `.`, `..` and every
    /// symlink resolved (the last one only if `follow_last`). The last
    /// component need not exist.
    pub(crate) fn resolve(
        &self,
        viewer: Pid,
        path: &str,
        follow_last: bool,
    ) -> Result<String, Errno> {
        if path.is_empty() {
            return Err(Errno::NoEnt);
        }
        let (cwd, root) = self
            .processes
            .get(&viewer)
            .map_or(("/", "/"), |p| (p.cwd.as_str(), p.root.as_str()));
        // An absolute path (and a link's absolute target) starts at the
        // process's root; `..` stops there, as the kernel's walk does (a
        // working directory left outside it is not stopped).
        let root: Vec<String> = components(root).map(str::to_string).collect();
        let mut current: Vec<String> = if path.starts_with('/') {
            root.clone()
        } else {
            components(cwd).map(str::to_string).collect()
        };
        let mut pending: VecDeque<String> = components(path).map(str::to_string).collect();
        let must_be_dir = path.ends_with('/');
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    if current != root {
                        current.pop();
                    }
                    continue;
                }
                _ => {}
            }
            let is_last = pending.iter().all(|p| p == ".");
            current.push(part);
            let here = absolute(&current);
            match self.lookup_ref(viewer, &here) {
                Ok(node) => match &node.kind {
                    NodeKind::Symlink(target) if !is_last || follow_last || must_be_dir => {
                        let target = target.clone();
                        hops += 1;
                        if hops > MAX_SYMLINKS {
                            return Err(Errno::Loop);
                        }
                        current.pop();
                        if target.starts_with('/') {
                            current.clone_from(&root);
                        }
                        for part in components(&target).rev() {
                            pending.push_front(part.to_string());
                        }
                    }
                    NodeKind::Dir => {}
                    _ if !is_last || must_be_dir => return Err(Errno::NotDir),
                    _ => {}
                },
                Err(Errno::NoEnt) if is_last => {}
                Err(err) => return Err(err),
            }
        }
        Ok(absolute(&current))
    }

    /// A path as the process sees it (`getcwd`): below its root, from
    /// there; elsewhere, the kernel's `(unreachable)` and the whole path.
    pub(crate) fn seen_path(&self, pid: Pid, abs: &str) -> String {
        let root = self.processes.get(&pid).map_or("/", |p| p.root.as_str());
        if root == "/" {
            return abs.to_string();
        }
        match abs.strip_prefix(root) {
            Some("") => "/".to_string(),
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            _ => format!("(unreachable){abs}"),
        }
    }

    /// The node at a resolved absolute path.
    pub(crate) fn lookup(&self, viewer: Pid, abs: &str) -> Result<Node, Errno> {
        self.lookup_ref(viewer, abs).map(Cow::into_owned)
    }

    /// The node at a resolved absolute path, borrowed where it is stored
    /// (a file's contents are not copied to look at it), made where it
    /// is rendered (procfs, sysfs, cgroupfs).
    pub(crate) fn lookup_ref<'a>(
        &'a self,
        viewer: Pid,
        abs: &'a str,
    ) -> Result<Cow<'a, Node>, Errno> {
        let mnt = self.mnt_ns_of(viewer)?;
        let (mount, rel) = self.namespaces.mount_of(mnt, abs).ok_or(Errno::NoEnt)?;
        match &mount.backing {
            Backing::Overlay { container } => self
                .container_by_id(container)
                .and_then(|c| c.rootfs.get(rel))
                .map(Cow::Borrowed)
                .ok_or(Errno::NoEnt),
            Backing::Host { path } => self
                .host_fs
                .get(join(path, rel).trim_end_matches('/'))
                .map(Cow::Borrowed)
                .ok_or(Errno::NoEnt),
            Backing::Tmpfs(tree) => tree.get(rel).map(Cow::Borrowed).ok_or(Errno::NoEnt),
            Backing::Proc { pid_ns, sub } => self
                .proc_node(viewer, *pid_ns, &join(sub, rel))
                .map(Cow::Owned),
            Backing::Sysfs => match rel {
                "" => Ok(Cow::Owned(Node::dir(0o555, self.boot_epoch()))),
                "fs" | "fs/cgroup" | "kernel" | "class" | "devices" | "devices/system"
                | "devices/system/cpu" => Ok(Cow::Owned(Node::dir(0o755, self.boot_epoch()))),
                "devices/system/cpu/online"
                | "devices/system/cpu/possible"
                | "devices/system/cpu/present" => Ok(Cow::Owned(Node::file(
                    format!("0-{}\n", HOST_CPUS - 1).into_bytes(),
                    0o444,
                    self.boot_epoch(),
                ))),
                cpu if sys_cpu(cpu).is_some() => {
                    Ok(Cow::Owned(Node::dir(0o755, self.boot_epoch())))
                }
                _ => Err(Errno::NoEnt),
            },
            Backing::Cgroup { hierarchy, root } => self
                .cgroup_node(viewer, *hierarchy, root, rel)
                .map(Cow::Owned),
        }
    }

    /// The node a path names, following symlinks (`stat`).
    pub(crate) fn stat(&self, viewer: Pid, path: &str) -> Result<(String, Node), Errno> {
        let abs = self.resolve(viewer, path, true)?;
        let node = self.lookup(viewer, &abs)?;
        Ok((abs, node))
    }

    /// The node a path names, not following a final symlink (`lstat`).
    pub(crate) fn lstat(&self, viewer: Pid, path: &str) -> Result<(String, Node), Errno> {
        let abs = self.resolve(viewer, path, false)?;
        let node = self.lookup(viewer, &abs)?;
        Ok((abs, node))
    }

    /// The names in a directory, mount points included, sorted.
    pub(crate) fn read_dir(&self, viewer: Pid, abs: &str) -> Result<Vec<String>, Errno> {
        let node = self.lookup(viewer, abs)?;
        if !node.is_dir() {
            return Err(Errno::NotDir);
        }
        let mnt = self.mnt_ns_of(viewer)?;
        let (mount, rel) = self.namespaces.mount_of(mnt, abs).ok_or(Errno::NoEnt)?;
        let mut names: BTreeSet<String> = match &mount.backing {
            Backing::Overlay { container } => self
                .container_by_id(container)
                .map(|c| c.rootfs.children(rel))
                .unwrap_or_default(),
            Backing::Host { path } => self.host_fs.children(join(path, rel).trim_end_matches('/')),
            Backing::Tmpfs(tree) => tree.children(rel),
            Backing::Proc { pid_ns, sub } => self.proc_list(*pid_ns, &join(sub, rel))?,
            Backing::Sysfs => match rel {
                "" => vec![
                    "class".into(),
                    "devices".into(),
                    "fs".into(),
                    "kernel".into(),
                ],
                "fs" => vec!["cgroup".into()],
                "devices" => vec!["system".into()],
                "devices/system" => vec!["cpu".into()],
                "devices/system/cpu" => (0..HOST_CPUS)
                    .map(|n| format!("cpu{n}"))
                    .chain(["online", "possible", "present"].map(String::from))
                    .collect(),
                _ => vec![],
            },
            Backing::Cgroup { hierarchy, root } => self.cgroup_list(*hierarchy, root, rel)?,
        }
        .into_iter()
        .collect();
        names.extend(self.namespaces.mount_points_in(mnt, abs));
        Ok(names.into_iter().collect())
    }

    /// Whether opening a file for reading is refused whoever asks: a
    /// cgroupfs or procfs file with no read side (`cgroup.kill`,
    /// `/proc/sysrq-trigger`), root or not.
    pub(crate) fn read_refused(&self, viewer: Pid, abs: &str, node: &Node) -> bool {
        node.mode & 0o444 == 0
            && self.mnt_ns_of(viewer).is_ok_and(|mnt| {
                self.namespaces
                    .mount_of(mnt, abs)
                    .is_some_and(|(mount, _)| {
                        matches!(mount.backing, Backing::Cgroup { .. } | Backing::Proc { .. })
                    })
            })
    }

    /// Up to `max` bytes of a file from `offset` (none past its end),
    /// copying only those.
    pub(crate) fn read_at(
        &self,
        viewer: Pid,
        path: &str,
        offset: usize,
        max: usize,
    ) -> Result<Vec<u8>, Errno> {
        let abs = self.resolve(viewer, path, true)?;
        let node = self.lookup_ref(viewer, &abs)?;
        if self.read_refused(viewer, &abs, &node) {
            return Err(Errno::Access);
        }
        match &node.kind {
            NodeKind::File(data) => {
                let start = offset.min(data.len());
                let end = offset.saturating_add(max).min(data.len());
                Ok(data[start..end].to_vec())
            }
            NodeKind::Dir => Err(Errno::IsDir),
            NodeKind::CharDevice(1, 3) => Ok(vec![]),
            NodeKind::CharDevice(5, 0) => Err(Errno::NxIo),
            NodeKind::CharDevice(..) => Err(Errno::Inval),
            NodeKind::Symlink(_) => Err(Errno::Loop),
        }
    }

    /// Reads a regular file.
    pub(crate) fn read_file(&self, viewer: Pid, path: &str) -> Result<Vec<u8>, Errno> {
        let (abs, node) = self.stat(viewer, path)?;
        if self.read_refused(viewer, &abs, &node) {
            return Err(Errno::Access);
        }
        match node.kind {
            NodeKind::File(data) => Ok(data),
            NodeKind::Dir => Err(Errno::IsDir),
            NodeKind::CharDevice(1, 3) => Ok(vec![]),
            NodeKind::CharDevice(5, 0) => Err(Errno::NxIo),
            NodeKind::CharDevice(..) => Err(Errno::Inval),
            NodeKind::Symlink(_) => Err(Errno::Loop),
        }
    }

    pub(super) fn write_target(
        &self,
        viewer: Pid,
        abs: &str,
    ) -> Result<(WriteTarget, String), Errno> {
        let mnt = self.mnt_ns_of(viewer)?;
        let (mount, rel) = self.namespaces.mount_of(mnt, abs).ok_or(Errno::NoEnt)?;
        let rel = rel.to_string();
        let target = match &mount.backing {
            _ if mount.read_only() => return Err(Errno::RoFs),
            Backing::Overlay { container } => WriteTarget::Overlay(container.clone()),
            Backing::Host { path } => {
                let on_host = join(path, &rel).trim_end_matches('/').to_string();
                return Ok((WriteTarget::Host, on_host));
            }
            Backing::Tmpfs(_) => WriteTarget::Tmpfs(mnt, mount.target.clone()),
            // procfs and cgroupfs files exist, but not for writing by
            // container root (Docker mounts cgroupfs read-only).
            Backing::Proc { .. } | Backing::Sysfs | Backing::Cgroup { .. } => {
                return Err(if rel.is_empty() || self.lookup(viewer, abs).is_ok() {
                    Errno::Access
                } else {
                    Errno::NoEnt
                });
            }
        };
        Ok((target, rel))
    }

    /// Runs `f` on the tree a path is written to, with the path relative
    /// to that tree. Mount points cannot be replaced or removed.
    pub(super) fn with_tree<R>(
        &mut self,
        viewer: Pid,
        abs: &str,
        f: impl FnOnce(&mut dyn FileTree, &str, u64) -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        let (target, rel) = self.write_target(viewer, abs)?;
        let now = self.now_epoch();
        match target {
            WriteTarget::Overlay(id) => {
                let c = self
                    .containers
                    .iter_mut()
                    .find(|c| c.info.id == id)
                    .ok_or(Errno::NoEnt)?;
                f(&mut c.rootfs, &rel, now)
            }
            WriteTarget::Host => f(&mut self.host_fs, &rel, now),
            WriteTarget::Tmpfs(mnt, target) => {
                let mount = self
                    .namespaces
                    .mount_of_mut(mnt, &target)
                    .ok_or(Errno::NoEnt)?;
                match &mut mount.backing {
                    Backing::Tmpfs(tree) => f(tree, &rel, now),
                    _ => Err(Errno::Inval),
                }
            }
        }
    }

    /// The hard links `stat` counts: one for a file (the simulated file
    /// systems keep one name per file), for a directory its `.`, its
    /// name and each subdirectory's `..`, except a merged overlay
    /// directory, which overlayfs gives one.
    pub(crate) fn links_of(&self, viewer: Pid, abs: &str, node: &Node) -> u64 {
        if !node.is_dir() {
            return 1;
        }
        let merged = self.mnt_ns_of(viewer).ok().and_then(|mnt| {
            let (mount, rel) = self.namespaces.mount_of(mnt, abs)?;
            match &mount.backing {
                Backing::Overlay { container } => self
                    .container_by_id(container)
                    .map(|c| c.rootfs.is_merged_dir(rel)),
                _ => None,
            }
        });
        if merged == Some(true) {
            return 1;
        }
        let children = self.read_dir(viewer, abs).unwrap_or_default();
        let base = abs.trim_end_matches('/');
        2 + children
            .iter()
            .filter(|name| {
                self.lookup_ref(viewer, &format!("{base}/{name}"))
                    .is_ok_and(|node| node.is_dir())
            })
            .count() as u64
    }

    /// What `stat` says of a file of a pseudo file system: procfs and
    /// cgroupfs files are 0 bytes, sysfs attributes a page, and none
    /// takes a block. `None` for a file that is stored.
    pub(crate) fn pseudo_size(&self, viewer: Pid, abs: &str, node: &Node) -> Option<u64> {
        let mnt = self.mnt_ns_of(viewer).ok()?;
        let (mount, _) = self.namespaces.mount_of(mnt, abs)?;
        match mount.backing {
            Backing::Proc { .. } | Backing::Cgroup { .. } => Some(0),
            Backing::Sysfs if matches!(node.kind, NodeKind::File(_)) => Some(4096),
            Backing::Sysfs => Some(0),
            _ => None,
        }
    }

    /// The size `stat` gives. The simulated host keeps its files as
    /// tmpfs does, where a directory counts 20 bytes for itself, its
    /// parent and each entry; an overlay directory is the size of the
    /// directory that holds it (upper once made, else lower).
    pub(crate) fn size_of(&self, viewer: Pid, abs: &str, node: &Node) -> u64 {
        if let Some(size) = self.pseudo_size(viewer, abs, node) {
            return size;
        }
        match &node.kind {
            NodeKind::File(data) => data.len() as u64,
            NodeKind::Symlink(target) => target.len() as u64,
            NodeKind::CharDevice(..) => 0,
            NodeKind::Dir => {
                let entries = self.mnt_ns_of(viewer).ok().and_then(|mnt| {
                    let (mount, rel) = self.namespaces.mount_of(mnt, abs)?;
                    Some(match &mount.backing {
                        Backing::Overlay { container } => self
                            .container_by_id(container)
                            .map_or(0, |c| c.rootfs.stored_entries(rel)),
                        Backing::Host { path } => self
                            .host_fs
                            .children(join(path, rel).trim_end_matches('/'))
                            .len(),
                        Backing::Tmpfs(tree) => tree.children(rel).len(),
                        _ => 0,
                    })
                });
                20 * (2 + entries.unwrap_or(0) as u64)
            }
        }
    }

    /// The device number `stat` gives, as `mountinfo` shows it: the
    /// host's disk `254:1`, each other mount its own `0:N`.
    pub(crate) fn device_of(&self, viewer: Pid, abs: &str) -> u64 {
        self.mnt_ns_of(viewer)
            .ok()
            .and_then(|mnt| self.namespaces.mount_of(mnt, abs))
            .map_or(0, |(mount, _)| match mount.backing {
                Backing::Host { .. } => (254 << 8) | 1,
                _ => u64::from(mount.id) + 20,
            })
    }

    pub(super) fn is_mount_point(&self, viewer: Pid, abs: &str) -> bool {
        self.mnt_ns_of(viewer).is_ok_and(|mnt| {
            self.namespaces
                .mount_of(mnt, abs)
                .is_some_and(|(m, _)| m.target == abs)
        })
    }

    /// The mount's root, relative to what backs it, for `mountinfo`.
    pub(crate) fn mount_root(backing: &Backing) -> String {
        match backing {
            Backing::Host { path } => format!("/{path}"),
            Backing::Cgroup { root, .. } => root.clone(),
            Backing::Proc { sub, .. } if !sub.is_empty() => format!("/{sub}"),
            _ => "/".into(),
        }
    }
}
