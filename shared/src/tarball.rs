//! Tarballs: the second noun. An image is an ordered stack of layers, each a
//! tarball of file-system entries, plus a config that says what to run.
//!
//! Layers follow the OCI image spec's change-set rules: a file named
//! `.wh.NAME` deletes `NAME` from the layers below, and a `.wh..wh..opq`
//! file makes its directory opaque (hides everything below it).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The prefix of a whiteout file's name.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The name of the marker that makes a directory opaque.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// A content address: `sha256:` and 64 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Digest(pub String);

impl Digest {
    /// The SHA-256 digest of some bytes.
    pub fn sha256(bytes: &[u8]) -> Digest {
        let hash = Sha256::digest(bytes);
        let mut text = String::with_capacity(7 + 64);
        text.push_str("sha256:");
        for byte in hash {
            text.push_str(&format!("{byte:02x}"));
        }
        Digest(text)
    }

    /// The first 12 hex digits, as `docker images` shows an ID.
    pub fn short(&self) -> &str {
        let hex = self.0.split_once(':').map_or(self.0.as_str(), |(_, h)| h);
        &hex[..hex.len().min(12)]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of file an entry is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file and its contents.
    File {
        contents: Vec<u8>,
    },
    Dir,
    Symlink {
        target: String,
    },
    /// A hard link to another path of the same layer.
    Hardlink {
        target: String,
    },
}

/// One entry of a layer tarball.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its path, relative to the root, without a leading `/` or `./`.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits, such as `0o755`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Entry {
    pub fn dir(path: &str, mode: u32) -> Entry {
        Entry {
            path: path.to_string(),
            kind: EntryKind::Dir,
            mode,
            uid: 0,
            gid: 0,
        }
    }

    pub fn file(path: &str, mode: u32, contents: impl Into<Vec<u8>>) -> Entry {
        Entry {
            path: path.to_string(),
            kind: EntryKind::File {
                contents: contents.into(),
            },
            mode,
            uid: 0,
            gid: 0,
        }
    }

    pub fn symlink(path: &str, target: &str) -> Entry {
        Entry {
            path: path.to_string(),
            kind: EntryKind::Symlink {
                target: target.to_string(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
        }
    }

    /// The file name: the last component of the path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// If this entry is a whiteout, the path it deletes.
    pub fn whiteout_target(&self) -> Option<String> {
        let name = self.name();
        if name == OPAQUE_MARKER {
            return None;
        }
        let deleted = name.strip_prefix(WHITEOUT_PREFIX)?;
        Some(match self.path.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{deleted}"),
            None => deleted.to_string(),
        })
    }

    /// If this entry is an opaque marker, the directory it makes opaque.
    pub fn opaque_dir(&self) -> Option<&str> {
        (self.name() == OPAQUE_MARKER)
            .then(|| self.path.rsplit_once('/').map_or("", |(dir, _)| dir))
    }

    /// The size the entry takes in the layer: a file's length, else 0.
    pub fn size(&self) -> u64 {
        match &self.kind {
            EntryKind::File { contents } => contents.len() as u64,
            _ => 0,
        }
    }
}

/// One layer: a change set of entries and its content digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    pub digest: Digest,
    pub entries: Vec<Entry>,
}

impl Layer {
    /// A layer of these entries, addressed by the digest of their canonical
    /// JSON encoding.
    pub fn new(entries: Vec<Entry>) -> Layer {
        let encoded = serde_json::to_vec(&entries).expect("entries always encode");
        Layer {
            digest: Digest::sha256(&encoded),
            entries,
        }
    }

    pub fn size(&self) -> u64 {
        self.entries.iter().map(Entry::size).sum()
    }
}

/// What the image says to run, as an OCI image config's `config` holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    pub working_dir: String,
}

impl ImageConfig {
    /// The command line a container runs: the entrypoint, then the given
    /// command or else the image's `cmd`.
    pub fn command_line(&self, command: &[String]) -> Vec<String> {
        let mut argv = self.entrypoint.clone();
        if command.is_empty() {
            argv.extend(self.cmd.iter().cloned());
        } else {
            argv.extend(command.iter().cloned());
        }
        argv
    }
}

/// A layer as a snapshot lists it: no contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    pub digest: Digest,
    pub size: u64,
    pub entries: u64,
}

/// An image as a snapshot lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// The image ID: the digest of its config and layer list.
    pub id: Digest,
    /// The names it is known by, such as `workshop`.
    pub names: Vec<String>,
    pub layers: Vec<LayerInfo>,
    pub config: ImageConfig,
}

impl ImageInfo {
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|layer| layer.size).sum()
    }
}

/// An image: names, layers bottom first, and its config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub id: Digest,
    pub names: Vec<String>,
    pub layers: Vec<Layer>,
    pub config: ImageConfig,
}

impl Image {
    /// An image of these layers and config; its ID is the digest of the
    /// config and the layers' digests.
    pub fn new(names: Vec<String>, layers: Vec<Layer>, config: ImageConfig) -> Image {
        let digests: Vec<&Digest> = layers.iter().map(|layer| &layer.digest).collect();
        let encoded =
            serde_json::to_vec(&(&config, &digests)).expect("image configs always encode");
        Image {
            id: Digest::sha256(&encoded),
            names,
            layers,
            config,
        }
    }

    pub fn info(&self) -> ImageInfo {
        ImageInfo {
            id: self.id.clone(),
            names: self.names.clone(),
            layers: self
                .layers
                .iter()
                .map(|layer| LayerInfo {
                    digest: layer.digest.clone(),
                    size: layer.size(),
                    entries: layer.entries.len() as u64,
                })
                .collect(),
            config: self.config.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_hex() {
        let digest = Digest::sha256(b"");
        assert_eq!(
            digest.0,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(digest.short(), "e3b0c44298fc");
    }

    #[test]
    fn whiteouts_and_opaque_markers_name_what_they_hide() {
        let wh = Entry::file("etc/.wh.motd", 0o644, "");
        assert_eq!(wh.whiteout_target().as_deref(), Some("etc/motd"));
        assert_eq!(wh.opaque_dir(), None);
        let top = Entry::file(".wh.tmp", 0o644, "");
        assert_eq!(top.whiteout_target().as_deref(), Some("tmp"));
        let opq = Entry::file("var/cache/.wh..wh..opq", 0o644, "");
        assert_eq!(opq.whiteout_target(), None);
        assert_eq!(opq.opaque_dir(), Some("var/cache"));
    }

    #[test]
    fn the_command_line_is_entrypoint_then_command_or_cmd() {
        let config = ImageConfig {
            entrypoint: vec!["/init".into()],
            cmd: vec!["sh".into()],
            ..ImageConfig::default()
        };
        assert_eq!(config.command_line(&[]), ["/init", "sh"]);
        assert_eq!(config.command_line(&["top".into()]), ["/init", "top"]);
    }

    #[test]
    fn the_same_layers_give_the_same_ids() {
        let a = Layer::new(vec![Entry::dir("bin", 0o755)]);
        let b = Layer::new(vec![Entry::dir("bin", 0o755)]);
        let c = Layer::new(vec![Entry::dir("sbin", 0o755)]);
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.digest, c.digest);
    }
}
