//! The simulated VFS: a process's view of files through its mount
//! namespace. Paths resolve as the kernel's namei does (`.`, `..`, symlinks,
//! at most 40 of them), against the process's root, so nothing outside a
//! container's root is reachable. Each mount dispatches to what backs it:
//! the overlay root, a host directory (volumes), a tmpfs, or procfs,
//! sysfs and cgroupfs, which are rendered on read.

use std::collections::{BTreeSet, VecDeque};

use crate::namespace::NamespaceKind;
use crate::process::Pid;

use super::SimEngine;
use super::namespace::Backing;
use super::tarball::{Node, NodeKind, Overlay, Tree, join, parent_of};

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

/// A change to the file system a program asks for, as the shell's
/// system-call seam names it.
pub(crate) enum FileOp {
    /// A directory with these permission bits (the umask applied).
    Mkdir(String, u32),
    Unlink(String),
    Rmdir(String),
    Symlink {
        target: String,
        link: String,
    },
    Link(String, String),
    Rename(String, String),
    Chmod(String, u32),
    /// The modification time (the simulator keeps one time per file).
    SetTime(String, u64),
    Chown {
        path: String,
        uid: Option<u32>,
        gid: Option<u32>,
        follow: bool,
    },
}

/// What a write goes to, found before borrowing it mutably.
enum WriteTarget {
    Overlay(String),
    Host,
    Tmpfs(u64, String),
}

/// Splits a path into its components.
fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// An absolute path from components.
fn absolute(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

impl SimEngine {
    fn mnt_ns_of(&self, viewer: Pid) -> Result<u64, Errno> {
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
        let cwd = self
            .processes
            .get(&viewer)
            .map_or("/".to_string(), |p| p.cwd.clone());
        let mut current: Vec<String> = if path.starts_with('/') {
            vec![]
        } else {
            components(&cwd).map(str::to_string).collect()
        };
        let mut pending: VecDeque<String> = components(path).map(str::to_string).collect();
        let must_be_dir = path.ends_with('/');
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    current.pop();
                    continue;
                }
                _ => {}
            }
            let is_last = pending.iter().all(|p| p == ".");
            current.push(part);
            match self.lookup(viewer, &absolute(&current)) {
                Ok(node) => match node.kind {
                    NodeKind::Symlink(target) if !is_last || follow_last || must_be_dir => {
                        hops += 1;
                        if hops > MAX_SYMLINKS {
                            return Err(Errno::Loop);
                        }
                        current.pop();
                        if target.starts_with('/') {
                            current.clear();
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

    /// The node at a resolved absolute path.
    pub(crate) fn lookup(&self, viewer: Pid, abs: &str) -> Result<Node, Errno> {
        let mnt = self.mnt_ns_of(viewer)?;
        let (mount, rel) = self.namespaces.mount_of(mnt, abs).ok_or(Errno::NoEnt)?;
        match &mount.backing {
            Backing::Overlay { container } => self
                .container_by_id(container)
                .and_then(|c| c.rootfs.get(rel))
                .cloned()
                .ok_or(Errno::NoEnt),
            Backing::Host { path } => self
                .host_fs
                .get(join(path, rel).trim_end_matches('/'))
                .cloned()
                .ok_or(Errno::NoEnt),
            Backing::Tmpfs(tree) => tree.get(rel).cloned().ok_or(Errno::NoEnt),
            Backing::Proc { pid_ns, sub } => self.proc_node(viewer, *pid_ns, &join(sub, rel)),
            Backing::Sysfs => match rel {
                "" | "fs" | "fs/cgroup" | "kernel" | "class" | "devices" => {
                    Ok(Node::dir(0o555, self.boot_epoch()))
                }
                _ => Err(Errno::NoEnt),
            },
            Backing::Cgroup { hierarchy, root } => self.cgroup_node(viewer, *hierarchy, root, rel),
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
            NodeKind::CharDevice(..) => Err(Errno::Inval),
            NodeKind::Symlink(_) => Err(Errno::Loop),
        }
    }

    fn write_target(&self, viewer: Pid, abs: &str) -> Result<(WriteTarget, String), Errno> {
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
    fn with_tree<R>(
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
                self.lookup(viewer, &format!("{base}/{name}"))
                    .is_ok_and(|node| node.is_dir())
            })
            .count() as u64
    }

    fn is_mount_point(&self, viewer: Pid, abs: &str) -> bool {
        self.mnt_ns_of(viewer).is_ok_and(|mnt| {
            self.namespaces
                .mount_of(mnt, abs)
                .is_some_and(|(m, _)| m.target == abs)
        })
    }

    /// Writes (or with `append`, appends to) a regular file, creating it.
    pub(crate) fn write_file(
        &mut self,
        viewer: Pid,
        path: &str,
        data: &[u8],
        append: bool,
    ) -> Result<String, Errno> {
        let abs = self.resolve(viewer, path, true)?;
        self.with_tree(viewer, &abs.clone(), |tree, rel, now| {
            if rel.is_empty() {
                // A device bound on its own (`/dev/null`) takes and drops
                // what is written; a directory cannot be written.
                return match tree.node("").map(|n| &n.kind) {
                    Some(NodeKind::CharDevice(..)) => Ok(abs.clone()),
                    _ => Err(Errno::IsDir),
                };
            }
            match tree.node(parent_of(rel)) {
                Some(parent) if parent.is_dir() => {}
                Some(_) => return Err(Errno::NotDir),
                None => return Err(Errno::NoEnt),
            }
            match tree.node_mut(rel) {
                Some(node) => match &mut node.kind {
                    NodeKind::File(contents) => {
                        if !append {
                            contents.clear();
                        }
                        contents.extend_from_slice(data);
                        node.mtime = now;
                    }
                    NodeKind::Dir => return Err(Errno::IsDir),
                    NodeKind::CharDevice(..) => {}
                    NodeKind::Symlink(_) => return Err(Errno::Loop),
                },
                None => tree.put(rel, Node::file(data.to_vec(), 0o644, now)),
            }
            Ok(abs)
        })
    }

    /// Creates a directory; with `parents`, its missing parents too and no
    /// error if it exists.
    pub(crate) fn mkdir(&mut self, viewer: Pid, path: &str, parents: bool) -> Result<(), Errno> {
        if parents {
            let mut prefix = if path.starts_with('/') {
                "/".to_string()
            } else {
                String::new()
            };
            for part in components(path) {
                prefix.push_str(part);
                match self.stat(viewer, &prefix) {
                    Ok((_, node)) if node.is_dir() => {}
                    Ok(_) => return Err(Errno::NotDir),
                    Err(Errno::NoEnt) => self.mkdir(viewer, &prefix, false)?,
                    Err(err) => return Err(err),
                }
                prefix.push('/');
            }
            return Ok(());
        }
        self.make_node(viewer, path.trim_end_matches('/'), |now| {
            Node::dir(0o755, now)
        })
    }

    /// Makes a new directory entry: `path` must not exist, its parent
    /// must be a directory.
    fn make_node(
        &mut self,
        viewer: Pid,
        path: &str,
        node: impl FnOnce(u64) -> Node,
    ) -> Result<(), Errno> {
        let abs = self.resolve(viewer, path, false)?;
        if self.lookup(viewer, &abs).is_ok() {
            return Err(Errno::Exist);
        }
        self.with_tree(viewer, &abs, |tree, rel, now| {
            match tree.node(parent_of(rel)) {
                Some(parent) if parent.is_dir() => {}
                Some(_) => return Err(Errno::NotDir),
                None => return Err(Errno::NoEnt),
            }
            tree.put(rel, node(now));
            Ok(())
        })
    }

    /// A change a program asks of the file system, as the system call
    /// it names answers it.
    pub(crate) fn file_op(&mut self, viewer: Pid, op: FileOp) -> Result<(), Errno> {
        // Changing an inode's attributes where writing is refused (procfs,
        // cgroupfs) is refused as the kernel refuses a file whose owner
        // the process is not: EPERM.
        let attributes = matches!(
            op,
            FileOp::Chmod(..) | FileOp::Chown { .. } | FileOp::SetTime(..)
        );
        self.apply(viewer, op).map_err(|err| match err {
            Errno::Access if attributes => Errno::Perm,
            other => other,
        })
    }

    fn apply(&mut self, viewer: Pid, op: FileOp) -> Result<(), Errno> {
        match op {
            FileOp::Mkdir(path, mode) => {
                self.make_node(viewer, path.trim_end_matches('/'), |now| {
                    Node::dir(mode & 0o7777, now)
                })
            }
            FileOp::Symlink { target, link } => self.make_node(viewer, &link, |now| Node {
                kind: NodeKind::Symlink(target),
                mode: 0o777,
                uid: 0,
                gid: 0,
                mtime: now,
            }),
            FileOp::Unlink(path) => {
                let abs = self.resolve(viewer, &path, false)?;
                if self.lookup(viewer, &abs)?.is_dir() {
                    return Err(Errno::IsDir);
                }
                if self.is_mount_point(viewer, &abs) {
                    return Err(Errno::Busy);
                }
                self.with_tree(viewer, &abs, |tree, rel, _| {
                    tree.delete(rel);
                    Ok(())
                })
            }
            FileOp::Rmdir(path) => {
                let abs = self.resolve(viewer, path.trim_end_matches('/'), false)?;
                if !self.lookup(viewer, &abs)?.is_dir() {
                    return Err(Errno::NotDir);
                }
                if abs == "/" || self.is_mount_point(viewer, &abs) {
                    return Err(Errno::Busy);
                }
                if !self.read_dir(viewer, &abs)?.is_empty() {
                    return Err(Errno::NotEmpty);
                }
                self.with_tree(viewer, &abs, |tree, rel, _| {
                    tree.delete(rel);
                    Ok(())
                })
            }
            // The simulated file systems keep one name per file: as a
            // file system without hard links, they refuse `link(2)`.
            FileOp::Link(existing, new) => {
                self.lstat(viewer, &existing)?;
                let abs = self.resolve(viewer, &new, false)?;
                if self.lookup(viewer, &abs).is_ok() {
                    return Err(Errno::Exist);
                }
                Err(Errno::Perm)
            }
            FileOp::Rename(from, to) => self.rename(viewer, &from, &to),
            FileOp::Chmod(path, mode) => {
                let abs = self.resolve(viewer, &path, true)?;
                self.lookup(viewer, &abs)?;
                self.with_tree(viewer, &abs, |tree, rel, _| {
                    let node = tree.node_mut(rel).ok_or(Errno::NoEnt)?;
                    node.mode = mode & 0o7777;
                    Ok(())
                })
            }
            FileOp::SetTime(path, mtime) => {
                let abs = self.resolve(viewer, &path, true)?;
                self.lookup(viewer, &abs)?;
                self.with_tree(viewer, &abs, |tree, rel, _| {
                    tree.node_mut(rel).ok_or(Errno::NoEnt)?.mtime = mtime;
                    Ok(())
                })
            }
            FileOp::Chown {
                path,
                uid,
                gid,
                follow,
            } => {
                let abs = self.resolve(viewer, &path, follow)?;
                self.lookup(viewer, &abs)?;
                // An id the user namespace does not map cannot be given.
                let user_ns = self
                    .processes
                    .get(&viewer)
                    .map(|p| p.ns[&NamespaceKind::User])
                    .ok_or(Errno::NoEnt)?;
                let (uid_map, gid_map) = self.namespaces.id_maps(user_ns);
                let mapped = |maps: &[crate::namespace::IdMap], id: Option<u32>| {
                    id.is_none_or(|id| {
                        maps.is_empty()
                            || maps
                                .iter()
                                .any(|m| id >= m.inside && id - m.inside < m.count)
                    })
                };
                if !mapped(&uid_map, uid) || !mapped(&gid_map, gid) {
                    return Err(Errno::Inval);
                }
                self.with_tree(viewer, &abs, |tree, rel, _| {
                    let node = tree.node_mut(rel).ok_or(Errno::NoEnt)?;
                    node.uid = uid.unwrap_or(node.uid);
                    node.gid = gid.unwrap_or(node.gid);
                    // As `chown(2)`: a changed owner drops set-user-id, and
                    // set-group-id where the group may execute.
                    if !node.is_dir() {
                        node.mode &= !0o4000;
                        if node.mode & 0o010 != 0 {
                            node.mode &= !0o2000;
                        }
                    }
                    Ok(())
                })
            }
        }
    }

    /// `rename(2)`: within one mount, a directory only onto an empty one,
    /// never into itself.
    fn rename(&mut self, viewer: Pid, from: &str, to: &str) -> Result<(), Errno> {
        let from_abs = self.resolve(viewer, from.trim_end_matches('/'), false)?;
        let node = self.lookup(viewer, &from_abs)?;
        let to_abs = self.resolve(viewer, to.trim_end_matches('/'), false)?;
        if from_abs == to_abs {
            return Ok(());
        }
        if to_abs.starts_with(&format!("{}/", from_abs.trim_end_matches('/'))) {
            return Err(Errno::Inval);
        }
        if from_abs == "/"
            || self.is_mount_point(viewer, &from_abs)
            || self.is_mount_point(viewer, &to_abs)
        {
            return Err(Errno::Busy);
        }
        match self.lookup(viewer, &to_abs) {
            Ok(there) if there.is_dir() => {
                if !node.is_dir() {
                    return Err(Errno::IsDir);
                }
                if !self.read_dir(viewer, &to_abs)?.is_empty() {
                    return Err(Errno::NotEmpty);
                }
            }
            Ok(_) if node.is_dir() => return Err(Errno::NotDir),
            _ => {}
        }
        let mnt = self.mnt_ns_of(viewer)?;
        let mount = |abs: &str| {
            self.namespaces
                .mount_of(mnt, abs)
                .map(|(m, _)| m.target.clone())
        };
        if mount(&from_abs) != mount(&to_abs) {
            return Err(Errno::XDev);
        }
        let from_rel = self.write_target(viewer, &from_abs)?.1;
        let to_rel = self.write_target(viewer, &to_abs)?.1;
        self.with_tree(viewer, &from_abs, |tree, _, _| {
            match tree.node(parent_of(&to_rel)) {
                Some(parent) if parent.is_dir() => {}
                Some(_) => return Err(Errno::NotDir),
                None => return Err(Errno::NoEnt),
            }
            if node.is_dir() && !tree.movable(&from_rel) {
                return Err(Errno::XDev);
            }
            tree.rename(&from_rel, &to_rel);
            Ok(())
        })
    }

    /// Removes a file, a symlink, or with `recursive` a directory tree.
    pub(crate) fn remove(&mut self, viewer: Pid, path: &str, recursive: bool) -> Result<(), Errno> {
        let abs = self.resolve(viewer, path.trim_end_matches('/'), false)?;
        let node = self.lookup(viewer, &abs)?;
        if abs == "/" || self.is_mount_point(viewer, &abs) {
            return Err(Errno::Busy);
        }
        if node.is_dir() && !recursive {
            return Err(Errno::IsDir);
        }
        self.with_tree(viewer, &abs, |tree, rel, _| {
            tree.delete(rel);
            Ok(())
        })
    }

    /// Updates a file's time, creating it empty if it does not exist.
    pub(crate) fn touch(&mut self, viewer: Pid, path: &str) -> Result<(), Errno> {
        let abs = self.resolve(viewer, path, true)?;
        if self.lookup(viewer, &abs).is_ok() {
            return self.with_tree(viewer, &abs, |tree, rel, now| {
                if let Some(node) = tree.node_mut(rel) {
                    node.mtime = now;
                }
                Ok(())
            });
        }
        self.write_file(viewer, &abs, b"", true).map(|_| ())
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
