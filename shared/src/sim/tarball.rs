//! The simulated side of tarballs: file trees built from image layers, the
//! overlay that stacks a container's writable layer on them, and the
//! built-in `workshop` image, whose userland is one multi-call binary with a
//! link per command, as the real built-in image has.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::tarball::{Entry, EntryKind, Image, ImageConfig, Layer};

/// When the workshop image's files were written (Unix seconds):
/// 2026-01-01T00:00:00Z.
pub const IMAGE_EPOCH: u64 = 1_767_225_600;

/// What a file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NodeKind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    /// A character device, such as `/dev/null`: (major, minor).
    CharDevice(u32, u32),
}

/// A file, directory or link and its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time, in Unix seconds.
    pub mtime: u64,
}

impl Node {
    pub fn dir(mode: u32, mtime: u64) -> Node {
        Node {
            kind: NodeKind::Dir,
            mode,
            uid: 0,
            gid: 0,
            mtime,
        }
    }

    pub fn file(contents: Vec<u8>, mode: u32, mtime: u64) -> Node {
        Node {
            kind: NodeKind::File(contents),
            mode,
            uid: 0,
            gid: 0,
            mtime,
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == NodeKind::Dir
    }

    pub fn size(&self) -> u64 {
        match &self.kind {
            NodeKind::File(data) => data.len() as u64,
            NodeKind::Symlink(target) => target.len() as u64,
            NodeKind::Dir => 4096,
            NodeKind::CharDevice(..) => 0,
        }
    }
}

/// The parent of a relative path (`""` is the root).
pub(crate) fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// `dir` joined with `name`, both relative.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The direct children of `dir` among sorted relative paths.
fn direct_children<'a, V>(
    map: &'a BTreeMap<String, V>,
    dir: &str,
) -> impl Iterator<Item = (&'a str, &'a V)> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let start = prefix.clone();
    map.range(start..)
        .take_while(move |(path, _)| path.starts_with(&prefix))
        .filter_map(move |(path, value)| {
            let rest = &path[if dir.is_empty() { 0 } else { dir.len() + 1 }..];
            (!rest.is_empty() && !rest.contains('/')).then_some((rest, value))
        })
}

/// A file tree: nodes by path relative to its root; `""` is the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tree {
    nodes: BTreeMap<String, Node>,
}

impl Tree {
    /// An empty directory.
    pub fn empty(mode: u32, mtime: u64) -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert(String::new(), Node::dir(mode, mtime));
        Tree { nodes }
    }

    /// The root file system of an image: its layers applied in order, each
    /// a change set (whiteouts delete, opaque markers hide what is below).
    pub fn from_layers(layers: &[Layer]) -> Tree {
        let mut tree = Tree::empty(0o755, IMAGE_EPOCH);
        for layer in layers {
            // Deletions first: they apply to the layers below only.
            for entry in &layer.entries {
                if let Some(target) = entry.whiteout_target() {
                    tree.remove_all(&target);
                } else if let Some(dir) = entry.opaque_dir() {
                    let children: Vec<String> = direct_children(&tree.nodes, dir)
                        .map(|(n, _)| join(dir, n))
                        .collect();
                    for child in children {
                        tree.remove_all(&child);
                    }
                }
            }
            for entry in &layer.entries {
                if entry.whiteout_target().is_some() || entry.opaque_dir().is_some() {
                    continue;
                }
                let kind = match &entry.kind {
                    EntryKind::File { contents } => NodeKind::File(contents.clone()),
                    EntryKind::Dir => NodeKind::Dir,
                    EntryKind::Symlink { target } => NodeKind::Symlink(target.clone()),
                    EntryKind::Hardlink { target } => match tree.get(target) {
                        Some(node) => node.kind.clone(),
                        None => continue,
                    },
                };
                tree.make_parents(&entry.path, IMAGE_EPOCH);
                if kind != NodeKind::Dir {
                    tree.remove_all(&entry.path);
                }
                tree.nodes.insert(
                    entry.path.clone(),
                    Node {
                        kind,
                        mode: entry.mode,
                        uid: entry.uid,
                        gid: entry.gid,
                        mtime: IMAGE_EPOCH,
                    },
                );
            }
        }
        tree
    }

    fn make_parents(&mut self, path: &str, mtime: u64) {
        let mut dir = parent_of(path);
        let mut missing = Vec::new();
        while !dir.is_empty() && !self.nodes.contains_key(dir) {
            missing.push(dir.to_string());
            dir = parent_of(dir);
        }
        for dir in missing {
            self.nodes.insert(dir, Node::dir(0o755, mtime));
        }
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    pub fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.nodes.get_mut(path)
    }

    /// The names in a directory, sorted.
    pub fn children(&self, dir: &str) -> Vec<String> {
        direct_children(&self.nodes, dir)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    pub fn insert(&mut self, path: &str, node: Node) {
        self.nodes.insert(path.to_string(), node);
    }

    /// The bytes its regular files hold.
    pub fn file_bytes(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| match &n.kind {
                NodeKind::File(data) => data.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// The 4 KiB pages its regular files take, each rounded up (as tmpfs
    /// and ext4 store them), and its inodes.
    pub fn pages_and_inodes(&self) -> (u64, u64) {
        let pages = self
            .nodes
            .values()
            .map(|n| match &n.kind {
                NodeKind::File(data) => (data.len() as u64).div_ceil(4096),
                _ => 0,
            })
            .sum();
        (pages, self.nodes.len() as u64)
    }

    /// Removes a path and everything under it.
    pub fn remove_all(&mut self, path: &str) {
        self.nodes.remove(path);
        let prefix = format!("{path}/");
        let under: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for p in under {
            self.nodes.remove(&p);
        }
    }
}

/// What the writable layer holds for a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Upper {
    Node(Node),
    /// A whiteout: the path is deleted from the layers below.
    Whiteout,
}

/// A container's root: the image's layers, read-only, under a writable
/// upper layer, with overlayfs's rules. The upper layer dies with the
/// container.
#[derive(Clone, Debug)]
pub(crate) struct Overlay {
    lower: Arc<Tree>,
    upper: BTreeMap<String, Upper>,
    /// Directories of the upper layer that hide the lower ones entirely.
    opaque: BTreeSet<String>,
}

impl Overlay {
    pub fn new(lower: Arc<Tree>) -> Overlay {
        Overlay {
            lower,
            upper: BTreeMap::new(),
            opaque: BTreeSet::new(),
        }
    }

    /// The merged view of a path.
    pub fn get(&self, path: &str) -> Option<&Node> {
        match self.upper.get(path) {
            Some(Upper::Node(node)) => return Some(node),
            Some(Upper::Whiteout) => return None,
            None => {}
        }
        // The lower file shows only if no ancestor hides it.
        let mut dir = path;
        while !dir.is_empty() {
            dir = parent_of(dir);
            if self.opaque.contains(dir) {
                return None;
            }
            match self.upper.get(dir) {
                Some(Upper::Whiteout) => return None,
                Some(Upper::Node(node)) if !node.is_dir() => return None,
                _ => {}
            }
        }
        self.lower.get(path)
    }

    /// The names in a merged directory, sorted.
    pub fn children(&self, dir: &str) -> Vec<String> {
        let mut names: BTreeSet<String> = self.lower.children(dir).into_iter().collect();
        names.extend(direct_children(&self.upper, dir).map(|(name, _)| name.to_string()));
        names
            .into_iter()
            .filter(|name| self.get(&join(dir, name)).is_some())
            .collect()
    }

    /// Creates or replaces a path in the upper layer (a copy-up when the
    /// file came from below). A directory made where a whiteout was is
    /// opaque: what the lower layers had there stays deleted.
    pub fn put(&mut self, path: &str, node: Node) {
        let was_whiteout = matches!(self.upper.get(path), Some(Upper::Whiteout));
        if node.is_dir()
            && (was_whiteout || (self.lower.get(path).is_some() && self.get(path).is_none()))
        {
            self.opaque.insert(path.to_string());
        }
        self.upper.insert(path.to_string(), Upper::Node(node));
    }

    /// Deletes a path and everything under it: from the upper layer, and
    /// with a whiteout when a lower layer has it.
    pub fn remove(&mut self, path: &str) {
        let prefix = format!("{path}/");
        let under: Vec<String> = self
            .upper
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for p in under {
            self.upper.remove(&p);
            self.opaque.remove(&p);
        }
        self.opaque.remove(path);
        if self.lower.get(path).is_some() {
            self.upper.insert(path.to_string(), Upper::Whiteout);
        } else {
            self.upper.remove(path);
        }
    }

    /// Whether a lower layer's directory shows at `path` (a merged or a
    /// lower directory, in overlayfs's words), not hidden by an opaque
    /// directory, a whiteout or a file above it.
    pub fn lower_dir_shows(&self, path: &str) -> bool {
        if !self.lower.get(path).is_some_and(Node::is_dir) || self.opaque.contains(path) {
            return false;
        }
        if matches!(self.upper.get(path), Some(Upper::Whiteout))
            || matches!(self.upper.get(path), Some(Upper::Node(n)) if !n.is_dir())
        {
            return false;
        }
        let mut dir = path;
        while !dir.is_empty() {
            dir = parent_of(dir);
            if self.opaque.contains(dir) {
                return false;
            }
            match self.upper.get(dir) {
                Some(Upper::Whiteout) => return false,
                Some(Upper::Node(node)) if !node.is_dir() => return false,
                _ => {}
            }
        }
        true
    }

    /// A directory both layers hold, merged: overlayfs counts one link
    /// for it, not knowing the lower layers' subdirectories.
    /// The upper layer holds it once anything below it was written (a
    /// copy-up brings up every parent).
    pub fn is_merged_dir(&self, path: &str) -> bool {
        if path.is_empty() {
            // The root always has its upper directory.
            return true;
        }
        let prefix = format!("{path}/");
        let upper = matches!(self.upper.get(path), Some(Upper::Node(n)) if n.is_dir())
            || self
                .upper
                .range(prefix.clone()..)
                .next()
                .is_some_and(|(p, _)| p.starts_with(&prefix) && p.len() > prefix.len());
        upper && self.lower_dir_shows(path)
    }

    /// The entries of the directory that holds `dir` on disk: the upper
    /// one once it exists (whiteouts count), else the lower one.
    pub fn stored_entries(&self, dir: &str) -> usize {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let upper_exists = dir.is_empty()
            || matches!(self.upper.get(dir), Some(Upper::Node(n)) if n.is_dir())
            || self
                .upper
                .range(prefix.clone()..)
                .next()
                .is_some_and(|(p, _)| p.starts_with(&prefix));
        if upper_exists {
            direct_children(&self.upper, dir).count()
        } else {
            self.lower.children(dir).len()
        }
    }

    /// A copy of a node for modification: from the upper layer, or copied
    /// up from below.
    pub fn get_for_write(&mut self, path: &str) -> Option<&mut Node> {
        if !matches!(self.upper.get(path), Some(Upper::Node(_))) {
            let node = self.get(path)?.clone();
            self.upper.insert(path.to_string(), Upper::Node(node));
        }
        match self.upper.get_mut(path) {
            Some(Upper::Node(node)) => Some(node),
            _ => None,
        }
    }

    /// The 4 KiB pages the writable layer's files take, and its entries.
    pub fn upper_pages_and_inodes(&self) -> (u64, u64) {
        let pages = self
            .upper
            .values()
            .map(|u| match u {
                Upper::Node(node) => match &node.kind {
                    NodeKind::File(data) => (data.len() as u64).div_ceil(4096),
                    _ => 0,
                },
                _ => 0,
            })
            .sum();
        (pages, self.upper.len() as u64)
    }

    /// What the writable layer holds: entries (whiteouts included) and
    /// bytes, as `docker ps -s` reports a container's size.
    pub fn upper_usage(&self) -> (u64, u64) {
        let bytes = self
            .upper
            .values()
            .map(|u| match u {
                Upper::Node(node) if matches!(node.kind, NodeKind::File(_)) => node.size(),
                _ => 0,
            })
            .sum();
        (self.upper.len() as u64, bytes)
    }
}

/// The name of the built-in image.
pub const WORKSHOP_IMAGE: &str = "workshop";

/// The multi-call binary every command of the workshop userland links to.
pub const MULTI_CALL_BINARY: &str = "bin/toolbox";

/// The commands of the workshop userland, one link each in `/bin`.
pub const WORKSHOP_COMMANDS: &[&str] = &[
    "sh", "ps", "hostname", "id", "ls", "cat", "echo", "rm", "touch", "mkdir", "sleep", "kill",
    "mount", "ip", "true", "false", "uname", "env", "nsenter", "unshare", "memhog", "cpuburn",
    "forkbomb", "stty", "keyctl", "grep", "egrep", "fgrep", "wc", "head", "tail", "sort", "uniq",
    "cut", "tr", "seq", "yes", "printf", "xargs", "sed", "find", "readlink", "help", "ln", "cp",
    "mv", "stat", "chmod", "chown", "whoami", "date", "nproc", "free", "du", "dd", "umount", "df",
    "lsns", "pstree", "chroot", "top",
];

/// How the multi-call binary's contents begin: an ELF header, so `execve`
/// knows it from a script.
pub const ELF_MAGIC: &[u8] = b"\x7fELF";

/// The `workshop` image: a base layer with the directory skeleton and the
/// userland, and a config layer with `/etc`.
pub fn workshop_image() -> Image {
    let mut base = vec![];
    for dir in [
        "bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "var", "var/log",
    ] {
        let mode = if dir == "tmp" { 0o1777 } else { 0o755 };
        base.push(Entry::dir(dir, mode));
    }
    base.push(Entry::file(
        MULTI_CALL_BINARY,
        0o755,
        [
            ELF_MAGIC,
            b"\x02\x01\x01 anchorage workshop userland: one static program, called by the name of its link\n",
        ]
        .concat(),
    ));
    for command in WORKSHOP_COMMANDS {
        base.push(Entry::symlink(&format!("bin/{command}"), "toolbox"));
    }

    let etc = vec![
        Entry::file(
            "etc/passwd",
            0o644,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        Entry::file("etc/group", 0o644, "root:x:0:\nnogroup:x:65534:\n"),
        Entry::file(
            "etc/os-release",
            0o644,
            "NAME=\"Anchorage workshop\"\nID=workshop\nPRETTY_NAME=\"Anchorage workshop image\"\n",
        ),
        Entry::file(
            "etc/motd",
            0o644,
            "A container is a process born from a tarball, anchored to namespaces, controlled by cgroups.\n",
        ),
    ];

    Image::new(
        vec![WORKSHOP_IMAGE.to_string()],
        vec![Layer::new(base), Layer::new(etc)],
        ImageConfig {
            entrypoint: vec![],
            cmd: vec!["sh".into()],
            env: vec!["PATH=/bin".into(), "HOME=/root".into()],
            working_dir: "/".into(),
        },
    )
}

/// Whether an image provides a command: a `bin/NAME` entry in some layer
/// not deleted by a later whiteout.
pub fn image_has_command(image: &Image, name: &str) -> bool {
    let path = format!("bin/{name}");
    let mut present = false;
    for layer in &image.layers {
        for entry in &layer.entries {
            if entry.path == path {
                present = true;
            } else if entry.whiteout_target().as_deref() == Some(path.as_str())
                || entry.opaque_dir() == Some("bin")
            {
                present = false;
            }
        }
    }
    present
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workshop_image_has_every_command_and_a_stable_id() {
        let image = workshop_image();
        for command in WORKSHOP_COMMANDS {
            assert!(image_has_command(&image, command), "{command}");
        }
        assert!(!image_has_command(&image, "bash"));
        assert_eq!(image.id, workshop_image().id);
        assert_eq!(image.layers.len(), 2);
    }

    #[test]
    fn a_whiteout_in_a_later_layer_removes_a_command() {
        let mut image = workshop_image();
        image
            .layers
            .push(Layer::new(vec![Entry::file("bin/.wh.ps", 0o644, "")]));
        assert!(!image_has_command(&image, "ps"));
        assert!(image_has_command(&image, "ls"));
    }
}
