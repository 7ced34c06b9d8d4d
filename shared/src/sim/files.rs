//! Changes to the simulated file systems, as the system calls make them:
//! files written at an offset, at the end or from a truncated start;
//! directories made and removed; links, renames, modes, owners and times.
//! The host's disk and each tmpfs hold only so much: past it, ENOSPC.

use crate::namespace::NamespaceKind;
use crate::process::Pid;
use crate::shell::os::FsStats;

use super::SimEngine;
use super::fs::{Errno, WriteTarget, components};
use super::namespace::Backing;
use super::tarball::{Node, NodeKind, parent_of};

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
    /// `chroot`: the process's root moved to this directory.
    Chroot(String),
    /// `umount2`: the mount at this path taken away.
    Umount {
        target: String,
        lazy: bool,
        force: bool,
    },
    /// The modification time (the simulator keeps one time per file).
    SetTime(String, u64),
    Chown {
        path: String,
        uid: Option<u32>,
        gid: Option<u32>,
        follow: bool,
    },
}

/// Where a write goes in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// `O_TRUNC`: the file is emptied first.
    Truncate,
    /// `O_APPEND`: at its end.
    Append,
    /// At a byte offset, past the end leaving a hole of zeros.
    At(usize),
}

/// What the simulated host's disk holds: the host's files and every
/// container's writable layer. Past it a write fails with ENOSPC, so a
/// learner who fills the disk meets the kernel's answer, not a page out
/// of memory.
pub const HOST_DISK_BYTES: u64 = 512 << 20;

/// A tmpfs `size=`: bytes, or with `k`, `m`, `g` or `%` (of the memory).
fn tmpfs_bytes(size: &str) -> Option<u64> {
    let split = size
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(size.len());
    let (number, unit) = size.split_at(split);
    let n: u64 = number.parse().ok()?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "%" => return Some(super::HOST_MEMORY_BYTES / 100 * n),
        _ => return None,
    };
    n.checked_mul(scale)
}

/// A path without its trailing slashes, `/` kept.
fn trimmed(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" if path.starts_with('/') => "/",
        rest => rest,
    }
}

impl SimEngine {
    /// Writes (or with `append`, appends to) a regular file, creating it.
    pub(crate) fn write_file(
        &mut self,
        viewer: Pid,
        path: &str,
        data: &[u8],
        append: bool,
    ) -> Result<String, Errno> {
        let place = if append {
            Place::Append
        } else {
            Place::Truncate
        };
        self.store(viewer, path, data, place)?;
        self.resolve(viewer, path, true)
    }

    /// Writes to a regular file (creating it) at `place`: the offset its
    /// next write goes to.
    pub(crate) fn store(
        &mut self,
        viewer: Pid,
        path: &str,
        data: &[u8],
        place: Place,
    ) -> Result<usize, Errno> {
        let abs = self.resolve(viewer, path, true)?;
        let (target, rel) = self.write_target(viewer, &abs)?;
        // What the write adds to the disk (a tmpfs keeps to its own size).
        let old = match self.lookup_ref(viewer, &abs).as_deref() {
            Ok(Node {
                kind: NodeKind::File(contents),
                ..
            }) => contents.len(),
            _ => 0,
        };
        let end = |at: usize| at.checked_add(data.len()).ok_or(Errno::FBig);
        let new = match place {
            Place::Truncate => data.len(),
            Place::Append => end(old)?,
            Place::At(at) => old.max(end(at)?),
        };
        // No file is bigger than the disk it is on (the simulated file
        // systems keep no holes).
        if new as u64 > HOST_DISK_BYTES {
            return Err(Errno::FBig);
        }
        let growth = new.saturating_sub(old) as u64;
        if growth > 0 {
            match target {
                WriteTarget::Tmpfs(..) => {
                    let cap = self.tmpfs_size(viewer, &abs);
                    if self.tmpfs_used(viewer, &abs) + growth > cap {
                        return Err(Errno::NoSpc);
                    }
                }
                _ if rel.is_empty() => {}
                _ => {
                    if self.disk_used + growth > HOST_DISK_BYTES {
                        // The count only grows between looks: count again.
                        self.disk_used = self.stored_bytes();
                        if self.disk_used + growth > HOST_DISK_BYTES {
                            return Err(Errno::NoSpc);
                        }
                    }
                    self.disk_used += growth;
                }
            }
        }
        self.with_tree(viewer, &abs, |tree, rel, now| {
            if rel.is_empty() {
                // A device bound on its own (`/dev/null`) takes and drops
                // what is written; a directory cannot be written.
                return match tree.node("").map(|n| &n.kind) {
                    Some(NodeKind::CharDevice(..)) => Ok(0),
                    _ => Err(Errno::IsDir),
                };
            }
            match tree.node(parent_of(rel)) {
                Some(parent) if parent.is_dir() => {}
                Some(_) => return Err(Errno::NotDir),
                None => return Err(Errno::NoEnt),
            }
            if tree.node(rel).is_none() {
                tree.put(rel, Node::file(Vec::new(), 0o644, now));
            }
            let node = tree.node_mut(rel).ok_or(Errno::NoEnt)?;
            match &mut node.kind {
                NodeKind::File(contents) => {
                    let at = match place {
                        Place::Truncate => {
                            contents.clear();
                            0
                        }
                        Place::Append => contents.len(),
                        Place::At(at) => at,
                    };
                    if contents.len() < at + data.len() {
                        contents.resize(at + data.len(), 0);
                    }
                    contents[at..at + data.len()].copy_from_slice(data);
                    node.mtime = now;
                    Ok(at + data.len())
                }
                NodeKind::Dir => Err(Errno::IsDir),
                NodeKind::CharDevice(..) => Ok(0),
                NodeKind::Symlink(_) => Err(Errno::Loop),
            }
        })
    }

    /// `truncate`: a file cut to `len` bytes or grown with zeros (the
    /// growth counted on the disk as a write's).
    pub(crate) fn truncate_file(&mut self, viewer: Pid, path: &str, len: u64) -> Result<(), Errno> {
        if len > HOST_DISK_BYTES {
            return Err(Errno::FBig);
        }
        let len = len as usize;
        let size = match self.stat(viewer, path)?.1.kind {
            NodeKind::File(contents) => contents.len(),
            NodeKind::Dir => return Err(Errno::IsDir),
            _ => return Err(Errno::Inval),
        };
        if len > size {
            // Grown as a write of zeros past the end is.
            return self.store(viewer, path, &[], Place::At(len)).map(|_| ());
        }
        let abs = self.resolve(viewer, path, true)?;
        self.with_tree(viewer, &abs, |tree, rel, now| {
            let node = tree.node_mut(rel).ok_or(Errno::NoEnt)?;
            if let NodeKind::File(contents) = &mut node.kind {
                contents.truncate(len);
                node.mtime = now;
            }
            Ok(())
        })
    }

    /// The bytes the host's disk holds: its own files and each
    /// container's writable layer.
    fn stored_bytes(&self) -> u64 {
        let host: u64 = self.host_fs.file_bytes();
        let layers: u64 = self
            .containers
            .iter()
            .map(|c| c.rootfs.upper_usage().1)
            .sum();
        host + layers
    }

    /// A tmpfs's `size=` (in KiB in its options), or half the memory.
    fn tmpfs_size(&self, viewer: Pid, abs: &str) -> u64 {
        let options = self.mnt_ns_of(viewer).ok().and_then(|mnt| {
            let (mount, _) = self.namespaces.mount_of(mnt, abs)?;
            Some(mount.options.clone())
        });
        options
            .as_deref()
            .and_then(|o| o.split(',').find_map(|opt| opt.strip_prefix("size=")))
            .and_then(tmpfs_bytes)
            .unwrap_or(super::HOST_MEMORY_BYTES / 2)
    }

    /// `statfs(2)`: a tmpfs has its `size=` (or half the memory) in pages
    /// and its `nr_inodes=` (or half the memory's pages); the host's disk
    /// (its root, each writable layer and volume) is an ext4 of
    /// [`HOST_DISK_BYTES`] with an inode for each 16 KiB, mke2fs's ratio;
    /// procfs, sysfs, cgroupfs and devpts keep nothing.
    pub(crate) fn statfs(&self, viewer: Pid, path: &str) -> Result<FsStats, Errno> {
        let abs = self.resolve(viewer, path, true)?;
        self.lookup_ref(viewer, &abs)?;
        let mnt = self.mnt_ns_of(viewer)?;
        let (mount, _) = self.namespaces.mount_of(mnt, &abs).ok_or(Errno::NoEnt)?;
        let stats = |blocks: u64, used: u64, files: u64, inodes: u64| FsStats {
            block_size: 4096,
            blocks,
            free: blocks.saturating_sub(used),
            available: blocks.saturating_sub(used),
            files,
            files_free: files.saturating_sub(inodes),
        };
        Ok(match (&mount.backing, mount.fstype) {
            (Backing::Tmpfs(tree), "tmpfs" | "devtmpfs") => {
                let option = |key: &str| {
                    mount
                        .options
                        .split(',')
                        .find_map(|o| o.strip_prefix(key)?.strip_prefix('='))
                        .map(str::to_string)
                };
                let (pages, inodes) = tree.pages_and_inodes();
                let size = option("size")
                    .and_then(|s| tmpfs_bytes(&s))
                    .unwrap_or(super::HOST_MEMORY_BYTES / 2);
                let files = option("nr_inodes")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(super::HOST_MEMORY_BYTES / 4096 / 2);
                stats(size / 4096, pages, files, inodes)
            }
            (Backing::Overlay { .. } | Backing::Host { .. }, _) => {
                let (mut pages, mut inodes) = self.host_fs.pages_and_inodes();
                for container in &self.containers {
                    let (p, i) = container.rootfs.upper_pages_and_inodes();
                    pages += p;
                    inodes += i;
                }
                stats(
                    HOST_DISK_BYTES / 4096,
                    pages,
                    HOST_DISK_BYTES / 16384,
                    inodes,
                )
            }
            _ => FsStats {
                block_size: 4096,
                ..FsStats::default()
            },
        })
    }

    fn tmpfs_used(&self, viewer: Pid, abs: &str) -> u64 {
        self.mnt_ns_of(viewer)
            .ok()
            .and_then(|mnt| {
                let (mount, _) = self.namespaces.mount_of(mnt, abs)?;
                match &mount.backing {
                    Backing::Tmpfs(tree) => Some(tree.file_bytes()),
                    _ => None,
                }
            })
            .unwrap_or(0)
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
        self.make_node(viewer, trimmed(path), |now| Node::dir(0o755, now))
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
                self.make_node(viewer, trimmed(&path), |now| Node::dir(mode & 0o7777, now))
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
                let abs = self.resolve(viewer, trimmed(&path), false)?;
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
            FileOp::Chroot(path) => self.chroot(viewer, &path),
            FileOp::Umount {
                target,
                lazy,
                force,
            } => self.umount(viewer, &target, lazy, force),
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

    /// `chroot(2)`: the path must be a directory, and the caller needs
    /// CAP_SYS_CHROOT (root in its user namespace has it: a container's
    /// root keeps it in Docker's default set).
    fn chroot(&mut self, viewer: Pid, path: &str) -> Result<(), Errno> {
        let abs = self.resolve(viewer, path, true)?;
        if !self.lookup_ref(viewer, &abs)?.is_dir() {
            return Err(Errno::NotDir);
        }
        let p = self.processes.get(&viewer).ok_or(Errno::Srch)?;
        if self.ids_seen_by(p, p).0 != 0 {
            return Err(Errno::Perm);
        }
        if let Some(p) = self.processes.get_mut(&viewer) {
            p.root = abs;
        }
        Ok(())
    }

    /// `umount2(2)`, checked as Linux checks it (after the seccomp
    /// filter): the path must exist, the caller needs CAP_SYS_ADMIN (which Docker's default set, and so a
    /// container's root, lacks), the path must be a mount's root, and
    /// without `lazy` nothing may be mounted under it or work in it.
    fn umount(&mut self, viewer: Pid, target: &str, lazy: bool, force: bool) -> Result<(), Errno> {
        let _ = force;
        // Docker's seccomp profile refuses umount2 to a process without
        // CAP_SYS_ADMIN before the kernel looks at the path.
        if self.seccomp_confined(viewer) {
            return Err(Errno::Perm);
        }
        let abs = self.resolve(viewer, target, true)?;
        self.lookup(viewer, &abs)?;
        if self
            .processes
            .get(&viewer)
            .is_none_or(|p| p.container.is_some())
        {
            return Err(Errno::Perm);
        }
        let mnt = self.mnt_ns_of(viewer)?;
        if !self.is_mount_point(viewer, &abs) {
            return Err(Errno::Inval);
        }
        if abs == "/" {
            return Err(Errno::Busy);
        }
        let below = format!("{}/", abs.trim_end_matches('/'));
        let ns = self.namespaces.table.get(&mnt).ok_or(Errno::Inval)?;
        let covered = ns.mounts.iter().any(|m| m.target.starts_with(&below));
        let in_use = self.processes.values().any(|p| {
            p.ns[&NamespaceKind::Mnt] == mnt && (p.cwd == abs || p.cwd.starts_with(&below))
        });
        if !lazy && (covered || in_use) {
            return Err(Errno::Busy);
        }
        let ns = self.namespaces.table.get_mut(&mnt).ok_or(Errno::Inval)?;
        // The last mount there (the one on top), and with `lazy` all below.
        if let Some(top) = ns.mounts.iter().rposition(|m| m.target == abs) {
            ns.mounts.remove(top);
        }
        if lazy {
            ns.mounts.retain(|m| !m.target.starts_with(&below));
        }
        Ok(())
    }

    /// `rename(2)`: within one mount, a directory only onto an empty one,
    /// never into itself.
    fn rename(&mut self, viewer: Pid, from: &str, to: &str) -> Result<(), Errno> {
        let from_abs = self.resolve(viewer, trimmed(from), false)?;
        let node = self.lookup(viewer, &from_abs)?;
        let to_abs = self.resolve(viewer, trimmed(to), false)?;
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
        let abs = self.resolve(viewer, trimmed(path), false)?;
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
}
