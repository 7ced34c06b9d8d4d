//! What an import reads: the four ways an image arrives on a host.
//!
//! - a **root file system tarball** (`.tar`, `.tar.gz`, `.tar.zst`): one
//!   layer, no config;
//! - a **`docker save` archive**, legacy (`manifest.json` naming
//!   `<id>/layer.tar` files and a `<digest>.json` config) or the OCI form
//!   Docker 25 and later write (the same `manifest.json`, pointing into
//!   `blobs/sha256/`);
//! - an **OCI image layout**, as a directory or as a tar of one
//!   (`oci-layout`, `index.json`, `blobs/sha256/`).
//!
//! [`open`] tells them apart by the archive's first entry (an image archive
//! starts with `blobs/`, `manifest.json`, `<64 hex>/`...; a root file
//! system never does) and returns a [`Source`]: the images it holds, each
//! with its config and its layers, bottom first, and a way to open every
//! blob. Nothing is trusted: JSON files are read with a size cap, blob
//! names are checked before they are opened, and every digest an archive
//! states is checked while the bytes stream (see [`super::digest`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anchorage_shared::tarball::{Digest, ImageConfig};
use serde::Deserialize;

use super::digest::{self, Verified};

/// The most a manifest, index or config may weigh.
const MAX_JSON: u64 = 4 << 20;

/// Why a file could not be read as an image.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path} is not an image: {reason}. Give a root file system tarball (.tar, .tar.gz or .tar.zst), a `docker save` archive, or an OCI image layout (a directory or a tar of one)"
    )]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{path}: {what} is not valid: {reason}")]
    Invalid {
        path: PathBuf,
        what: String,
        reason: String,
    },
    #[error("{path}: {what} is missing from the archive")]
    Missing { path: PathBuf, what: String },
    #[error("{0}")]
    Mismatch(Box<digest::Mismatch>),
    #[error(
        "{path} unpacks to {cap}, and is refused: if it is meant to be that large, import it again with a larger cap"
    )]
    TooLarge {
        path: PathBuf,
        cap: super::unpack::Cap,
    },
}

/// How a stream is compressed, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn sniff(head: &[u8]) -> Result<Compression, String> {
        Ok(match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => {
                return Err(
                    "it is xz-compressed, which images do not use: decompress it first (`xz -d`)"
                        .into(),
                );
            }
            [b'B', b'Z', b'h', ..] => {
                return Err("it is bzip2-compressed, which images do not use: decompress it first (`bunzip2`)".into());
            }
            _ => Compression::None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "tar+gzip",
            Compression::Zstd => "tar+zstd",
        }
    }
}

/// A stream, decompressed as its first bytes say.
pub fn decompress<'a>(
    reader: impl Read + Send + 'a,
) -> io::Result<(Box<dyn Read + Send + 'a>, Compression)> {
    let mut reader = BufReader::with_capacity(256 << 10, reader);
    let compression = Compression::sniff(reader.fill_buf()?)
        .map_err(|reason| io::Error::new(io::ErrorKind::InvalidData, reason))?;
    let stream: Box<dyn Read + Send + 'a> = match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    };
    Ok((stream, compression))
}

/// What kind of archive an import read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Rootfs(Compression),
    DockerSave,
    OciLayout,
    OciLayoutTar,
    BuiltIn,
}

impl Format {
    pub fn describe(self) -> String {
        match self {
            Format::Rootfs(Compression::None) => "root file system tarball".into(),
            Format::Rootfs(c) => format!("root file system tarball ({})", c.name()),
            Format::DockerSave => "docker save archive".into(),
            Format::OciLayout => "OCI image layout".into(),
            Format::OciLayoutTar => "OCI image layout (tar)".into(),
            Format::BuiltIn => "built in".into(),
        }
    }
}

/// One layer to apply.
#[derive(Clone, Debug)]
pub struct LayerSource {
    /// Where its blob is: a name in the archive, or the whole file.
    pub blob: String,
    /// The blob's digest, when the archive states it.
    pub digest: Option<Digest>,
    /// The digest of its uncompressed tar (the config's `diff_ids`).
    pub diff_id: Option<Digest>,
    /// The blob's size in bytes.
    pub size: u64,
}

/// One image an archive holds.
#[derive(Clone, Debug)]
pub struct ImageSource {
    /// Names the archive gives it, normalized (`busybox:latest`).
    pub names: Vec<String>,
    /// The config blob, verified; `None` for a root file system tarball,
    /// whose config is made once its layer's digest is known.
    pub config: Option<Vec<u8>>,
    pub layers: Vec<LayerSource>,
}

/// Where the blobs are.
#[derive(Debug)]
enum Blobs {
    /// The file itself is the only layer.
    Whole(PathBuf),
    Dir(PathBuf),
    /// Blobs made in memory (the built-in image), by name.
    Memory(HashMap<String, std::sync::Arc<[u8]>>),
    /// An uncompressed tar file, its members by name.
    Tar {
        path: PathBuf,
        members: HashMap<String, Member>,
    },
}

#[derive(Clone, Debug)]
enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// An opened archive.
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    pub format: Format,
    pub images: Vec<ImageSource>,
    blobs: Blobs,
}

impl Source {
    /// Opens a blob for reading, with its size.
    pub fn open_blob(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), SourceError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SourceError::Io { path, source }
        };
        match &self.blobs {
            Blobs::Whole(path) => {
                let file = File::open(path).map_err(io_err(path))?;
                let size = file.metadata().map_err(io_err(path))?.len();
                Ok((Box::new(file), size))
            }
            Blobs::Dir(dir) => {
                check_member_name(name).map_err(|reason| self.invalid(name, reason))?;
                let path = dir.join(name);
                let file = File::open(&path).map_err(|err| match err.kind() {
                    io::ErrorKind::NotFound => SourceError::Missing {
                        path: self.path.clone(),
                        what: format!("`{name}`"),
                    },
                    _ => SourceError::Io {
                        path: path.clone(),
                        source: err,
                    },
                })?;
                let size = file.metadata().map_err(io_err(&path))?.len();
                Ok((Box::new(file), size))
            }
            Blobs::Memory(blobs) => {
                let blob = blobs
                    .get(name)
                    .ok_or_else(|| self.missing(format!("`{name}`")))?;
                Ok((Box::new(io::Cursor::new(blob.clone())), blob.len() as u64))
            }
            Blobs::Tar { path, members } => {
                let (offset, size) =
                    resolve_member(members, name).ok_or_else(|| SourceError::Missing {
                        path: self.path.clone(),
                        what: format!("`{name}`"),
                    })?;
                let mut file = File::open(path).map_err(io_err(path))?;
                file.seek(SeekFrom::Start(offset)).map_err(io_err(path))?;
                Ok((Box::new(file.take(size)), size))
            }
        }
    }

    /// An image made in memory: its config and its layers' uncompressed
    /// tars, bottom first.
    pub fn in_memory(
        label: &str,
        names: Vec<String>,
        config: Vec<u8>,
        layers: Vec<Vec<u8>>,
    ) -> Source {
        let mut blobs = HashMap::new();
        let mut sources = Vec::new();
        for layer in layers {
            let digest = Digest::sha256(&layer);
            let name = format!("blobs/sha256/{}", &digest.0[7..]);
            sources.push(LayerSource {
                blob: name.clone(),
                digest: Some(digest.clone()),
                diff_id: Some(digest),
                size: layer.len() as u64,
            });
            blobs.insert(name, std::sync::Arc::from(layer));
        }
        Source {
            path: PathBuf::from(label),
            format: Format::BuiltIn,
            images: vec![ImageSource {
                names,
                config: Some(config),
                layers: sources,
            }],
            blobs: Blobs::Memory(blobs),
        }
    }

    fn invalid(&self, what: &str, reason: impl Into<String>) -> SourceError {
        SourceError::Invalid {
            path: self.path.clone(),
            what: format!("`{what}`"),
            reason: reason.into(),
        }
    }

    fn missing(&self, what: impl Into<String>) -> SourceError {
        SourceError::Missing {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    /// Reads a small JSON member whole, checking its digest when known.
    fn read_json(&self, name: &str, expected: Option<&Digest>) -> Result<Vec<u8>, SourceError> {
        let (reader, size) = self.open_blob(name)?;
        if size > MAX_JSON {
            return Err(self.invalid(
                name,
                format!(
                    "it is {size} bytes, more than a manifest or config ever needs ({MAX_JSON})"
                ),
            ));
        }
        let mut verified = Verified::new(
            reader.take(MAX_JSON),
            format!("`{name}`"),
            expected.cloned(),
            None,
        );
        let mut bytes = Vec::new();
        verified
            .read_to_end(&mut bytes)
            .map_err(|err| match digest::mismatch_in(&err) {
                Some(mismatch) => SourceError::Mismatch(Box::new(mismatch.clone())),
                None => SourceError::Io {
                    path: self.path.clone(),
                    source: err,
                },
            })?;
        Ok(bytes)
    }

    fn parse<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<T, SourceError> {
        serde_json::from_slice(bytes).map_err(|err| self.invalid(name, err.to_string()))
    }

    fn has(&self, name: &str) -> bool {
        match &self.blobs {
            Blobs::Whole(_) => false,
            Blobs::Dir(dir) => dir.join(name).is_file(),
            Blobs::Memory(blobs) => blobs.contains_key(name),
            Blobs::Tar { members, .. } => resolve_member(members, name).is_some(),
        }
    }
}

/// A member name from an untrusted manifest: relative, no `..`, no
/// empty components.
fn check_member_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.starts_with('/') {
        return Err("a member name must be a relative path".into());
    }
    if name.split('/').any(|part| part.is_empty() || part == "..") {
        return Err("a member name may not hold `..` or empty parts".into());
    }
    Ok(())
}

/// A tar member's offset and size, following (in-archive) symlinks and
/// hard links, as legacy `docker save` writes for repeated layers.
fn resolve_member(members: &HashMap<String, Member>, name: &str) -> Option<(u64, u64)> {
    let mut name = normalize_member(name);
    for _ in 0..8 {
        match members.get(&name)? {
            Member::File { offset, size } => return Some((*offset, *size)),
            Member::Link(target) => name = target.clone(),
        }
    }
    None
}

fn normalize_member(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Whether a tar's first member says it is an image archive rather than a
/// root file system.
fn is_image_member(name: &str) -> bool {
    let name = normalize_member(name);
    let first = name.split('/').next().unwrap_or("");
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    // Layer directories and files are named by 64 hex digits: `HEX/`,
    // `HEX.json`, `HEX.tar`.
    let stem = first.split('.').next().unwrap_or("");
    matches!(
        first,
        "blobs" | "oci-layout" | "index.json" | "manifest.json" | "repositories"
    ) || hex(stem)
}

/// The first member's name of a tar stream, if it has one (`./` and the
/// like skipped).
fn first_member(reader: impl Read) -> Result<Option<String>, String> {
    let mut archive = tar::Archive::new(reader.take(4 << 20));
    let entries = archive.entries().map_err(|e| e.to_string())?;
    let mut seen_any = false;
    for entry in entries.take(16) {
        let entry = entry.map_err(|e| e.to_string())?;
        seen_any = true;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if !normalize_member(&name).is_empty() {
            return Ok(Some(name));
        }
    }
    Ok(seen_any.then(|| ".".to_string()))
}

/// Reads an archive or OCI layout directory. A compressed image archive is
/// first decompressed into `scratch` (a directory the caller removes), as
/// its blobs must be read in manifest order.
pub fn open(
    path: &Path,
    scratch: &Path,
    limits: super::unpack::Limits,
    mut on_decompress: impl FnMut(u64),
) -> Result<Source, SourceError> {
    let io_err = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    let not_image = |reason: String| SourceError::NotAnImage {
        path: path.to_path_buf(),
        reason,
    };
    if meta.is_dir() {
        if !path.join("oci-layout").is_file() {
            return Err(not_image(
                "it is a directory without an `oci-layout` file".into(),
            ));
        }
        let source = Source {
            path: path.to_path_buf(),
            format: Format::OciLayout,
            images: Vec::new(),
            blobs: Blobs::Dir(path.to_path_buf()),
        };
        return read_oci(source);
    }
    if !meta.is_file() {
        return Err(not_image("it is not a regular file".into()));
    }
    let file = File::open(path).map_err(io_err)?;
    let (stream, compression) = decompress(file).map_err(|err| not_image(err.to_string()))?;
    let first = first_member(stream)
        .map_err(|err| not_image(format!("it is not a tar archive ({err})")))?;
    let Some(first) = first else {
        return Err(not_image("it is an empty archive".into()));
    };
    let rootfs = || Source {
        path: path.to_path_buf(),
        format: Format::Rootfs(compression),
        images: vec![ImageSource {
            names: Vec::new(),
            config: None,
            layers: vec![LayerSource {
                blob: String::new(),
                digest: None,
                diff_id: None,
                size: meta.len(),
            }],
        }],
        blobs: Blobs::Whole(path.to_path_buf()),
    };
    let is_image = |members: &HashMap<String, Member>| {
        members.contains_key("manifest.json")
            || (members.contains_key("oci-layout") && members.contains_key("index.json"))
    };
    let damaged = |err: io::Error| not_image(format!("its tar is damaged ({err})"));

    // A plain tar is indexed (headers only, so cheaply) and is an image
    // archive if it has a manifest; a compressed one is judged by its
    // first member, and decompressed to be indexed only if it is one.
    let (tar_path, members) = if compression == Compression::None {
        let members = index_tar(path).map_err(damaged)?;
        if !is_image(&members) {
            return Ok(rootfs());
        }
        (path.to_path_buf(), members)
    } else {
        if !is_image_member(&first) {
            return Ok(rootfs());
        }
        let out_path = scratch.join("archive.tar");
        let file = File::open(path).map_err(io_err)?;
        let (mut stream, _) = decompress(file).map_err(io_err)?;
        let mut out = File::create(&out_path).map_err(|source| SourceError::Io {
            path: out_path.clone(),
            source,
        })?;
        let mut buf = vec![0; 1 << 20];
        let mut total: u64 = 0;
        loop {
            let n = stream.read(&mut buf).map_err(io_err)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > limits.max_archive_bytes() {
                return Err(SourceError::TooLarge {
                    path: path.to_path_buf(),
                    cap: super::unpack::Cap::Bytes(limits.max_bytes),
                });
            }
            io::Write::write_all(&mut out, &buf[..n]).map_err(|source| SourceError::Io {
                path: out_path.clone(),
                source,
            })?;
            on_decompress(n as u64);
        }
        let members = index_tar(&out_path).map_err(damaged)?;
        (out_path, members)
    };
    let source = Source {
        path: path.to_path_buf(),
        format: Format::OciLayoutTar,
        images: Vec::new(),
        blobs: Blobs::Tar {
            path: tar_path,
            members,
        },
    };
    if source.has("manifest.json") {
        read_docker(Source {
            format: Format::DockerSave,
            ..source
        })
    } else if source.has("index.json") {
        read_oci(source)
    } else {
        Err(not_image(
            "it looks like an image archive but has neither a `manifest.json` (docker save) nor an `index.json` (OCI layout)".into(),
        ))
    }
}

fn index_tar(path: &Path) -> io::Result<HashMap<String, Member>> {
    let mut archive = tar::Archive::new(File::open(path)?);
    let mut members = HashMap::new();
    for entry in archive.entries_with_seek()? {
        let entry = entry?;
        let name = normalize_member(&String::from_utf8_lossy(&entry.path_bytes()));
        let header = entry.header();
        let member = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => Member::File {
                offset: entry.raw_file_position(),
                size: entry.size(),
            },
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default();
                let target = String::from_utf8_lossy(&target);
                let base = name.rsplit_once('/').map_or("", |(dir, _)| dir);
                let joined = if target.starts_with('/') {
                    target.to_string()
                } else {
                    format!("{base}/{target}")
                };
                Member::Link(normalize_member(&joined))
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().unwrap_or_default();
                Member::Link(normalize_member(&String::from_utf8_lossy(&target)))
            }
            _ => continue,
        };
        members.insert(name, member);
    }
    Ok(members)
}

/// The parts of an OCI image config the runtime uses.
#[derive(Debug, Default, Deserialize)]
pub struct OciConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub config: Option<OciRunConfig>,
    #[serde(default)]
    pub rootfs: Option<OciRootfs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OciRunConfig {
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct OciRootfs {
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl OciConfig {
    pub fn image_config(&self) -> ImageConfig {
        let run = self.config.as_ref();
        ImageConfig {
            entrypoint: run.and_then(|c| c.entrypoint.clone()).unwrap_or_default(),
            cmd: run.and_then(|c| c.cmd.clone()).unwrap_or_default(),
            env: run.and_then(|c| c.env.clone()).unwrap_or_default(),
            working_dir: run.and_then(|c| c.working_dir.clone()).unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The digest a `blobs/sha256/HEX` or `HEX.json` member name states.
fn digest_in_name(name: &str) -> Option<Digest> {
    let name = normalize_member(name);
    let hex = name
        .strip_prefix("blobs/sha256/")
        .or_else(|| name.strip_suffix(".json"))?;
    let digest = format!("sha256:{hex}");
    digest::is_sha256(&digest).then_some(Digest(digest))
}

fn read_docker(mut source: Source) -> Result<Source, SourceError> {
    let bytes = source.read_json("manifest.json", None)?;
    let manifests: Vec<DockerManifest> = source.parse("manifest.json", &bytes)?;
    if manifests.is_empty() {
        return Err(source.invalid("manifest.json", "it lists no image"));
    }
    let mut images = Vec::new();
    for manifest in manifests {
        let config_digest = digest_in_name(&manifest.config);
        let config = source.read_json(&manifest.config, config_digest.as_ref())?;
        let parsed: OciConfig = source.parse(&manifest.config, &config)?;
        let diff_ids = parsed.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        if diff_ids.len() != manifest.layers.len() {
            return Err(source.invalid(
                &manifest.config,
                format!(
                    "it lists {} layer digests but the manifest has {} layers",
                    diff_ids.len(),
                    manifest.layers.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (blob, diff_id) in manifest.layers.into_iter().zip(diff_ids) {
            let (_, size) = source.open_blob(&blob)?;
            layers.push(LayerSource {
                digest: blob
                    .starts_with("blobs/")
                    .then(|| digest_in_name(&blob))
                    .flatten(),
                diff_id: Some(diff_id),
                size,
                blob,
            });
        }
        let names = manifest
            .repo_tags
            .unwrap_or_default()
            .iter()
            .filter_map(|name| normalize_name(name).ok())
            .collect();
        images.push(ImageSource {
            names,
            config: Some(config),
            layers,
        });
    }
    source.images = images;
    Ok(source)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: Digest,
    size: u64,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    media_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// This host's architecture, as images name it.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

fn blob_name(source: &Source, digest: &Digest) -> Result<String, SourceError> {
    if !digest::is_sha256(&digest.0) {
        return Err(source.invalid(
            "index.json",
            format!("`{digest}` is not a sha256 digest, the only kind this store checks"),
        ));
    }
    Ok(format!("blobs/sha256/{}", &digest.0[7..]))
}

fn read_oci(mut source: Source) -> Result<Source, SourceError> {
    if !source.has("oci-layout") {
        return Err(source.missing("`oci-layout`"));
    }
    let bytes = source.read_json("index.json", None)?;
    let index: Index = source.parse("index.json", &bytes)?;
    let mut images = Vec::new();
    for descriptor in index.manifests {
        let names = oci_names(&descriptor);
        let manifest_descriptor = if INDEX_TYPES.contains(&descriptor.media_type.as_str()) {
            pick_platform(&source, &descriptor)?
        } else {
            descriptor
        };
        let name = blob_name(&source, &manifest_descriptor.digest)?;
        let bytes = source.read_json(&name, Some(&manifest_descriptor.digest))?;
        let manifest: Manifest = source.parse(&name, &bytes)?;
        if INDEX_TYPES.contains(&manifest.media_type.as_str()) {
            return Err(source.invalid(&name, "an index nested in an index is not supported"));
        }
        let config_name = blob_name(&source, &manifest.config.digest)?;
        let config = source.read_json(&config_name, Some(&manifest.config.digest))?;
        let parsed: OciConfig = source.parse(&config_name, &config)?;
        let diff_ids = parsed.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        if diff_ids.len() != manifest.layers.len() {
            return Err(source.invalid(
                &config_name,
                format!(
                    "it lists {} layer digests but the manifest has {} layers",
                    diff_ids.len(),
                    manifest.layers.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (layer, diff_id) in manifest.layers.into_iter().zip(diff_ids) {
            if layer.media_type.contains("encrypted") {
                return Err(source.invalid(
                    &name,
                    format!("layer {} is encrypted ({})", layer.digest, layer.media_type),
                ));
            }
            let blob = blob_name(&source, &layer.digest)?;
            if !source.has(&blob) {
                return Err(source.missing(format!("layer blob `{blob}`")));
            }
            layers.push(LayerSource {
                blob,
                digest: Some(layer.digest),
                diff_id: Some(diff_id),
                size: layer.size,
            });
        }
        images.push(ImageSource {
            names,
            config: Some(config),
            layers,
        });
    }
    if images.is_empty() {
        return Err(source.invalid("index.json", "it lists no image"));
    }
    source.images = images;
    Ok(source)
}

/// For a multi-platform index, the manifest for this host.
fn pick_platform(source: &Source, index: &Descriptor) -> Result<Descriptor, SourceError> {
    let name = blob_name(source, &index.digest)?;
    let bytes = source.read_json(&name, Some(&index.digest))?;
    let nested: Index = source.parse(&name, &bytes)?;
    let arch = host_architecture();
    let mut seen = Vec::new();
    for manifest in nested.manifests {
        match &manifest.platform {
            Some(p) if p.os == "linux" && p.architecture == arch => return Ok(manifest),
            Some(p) => seen.push(format!("{}/{}", p.os, p.architecture)),
            None => seen.push("unknown".into()),
        }
    }
    let _ = index.size;
    Err(source.invalid(
        &name,
        format!(
            "it has no image for linux/{arch}, only for {}",
            if seen.is_empty() {
                "no platform".to_string()
            } else {
                seen.join(", ")
            }
        ),
    ))
}

/// An OCI descriptor's names: Docker's full name annotation, else the
/// standard ref name (`busybox:1.36`, or a bare `busybox`).
fn oci_names(descriptor: &Descriptor) -> Vec<String> {
    [
        "io.containerd.image.name",
        "org.opencontainers.image.ref.name",
    ]
    .iter()
    .filter_map(|key| descriptor.annotations.get(*key))
    .find_map(|name| normalize_name(name).ok())
    .into_iter()
    .collect()
}

/// A repository name from a file name: `alpine-minirootfs-3.20.tar.gz`
/// gives `alpine-minirootfs-3.20`.
pub fn name_from_path(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stem = file.as_str();
    for suffix in [".gz", ".zst", ".tgz", ".tar", ".oci"] {
        stem = stem.strip_suffix(suffix).unwrap_or(stem);
    }
    stem = stem.strip_suffix(".tar").unwrap_or(stem);
    let cleaned: String = stem
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    if cleaned.is_empty() {
        "imported".into()
    } else {
        cleaned
    }
}

/// An image name as people write it, checked and in the form the store
/// keeps: `busybox` becomes `busybox:latest`, `docker.io/library/busybox`
/// becomes `busybox:latest`.
pub fn normalize_name(name: &str) -> Result<String, String> {
    let explain = |why: &str| {
        format!(
            "`{name}` is not an image name: {why} (for example `busybox`, `myapp:1.2` or `registry.example:5000/team/app:dev`)"
        )
    };
    let (repository, tag) = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (name, "latest"),
    };
    let repository = repository
        .strip_prefix("docker.io/library/")
        .or_else(|| repository.strip_prefix("docker.io/"))
        .unwrap_or(repository);
    if repository.is_empty() {
        return Err(explain("the repository part is empty"));
    }
    if repository.len() > 255 {
        return Err(explain("it is longer than 255 characters"));
    }
    let parts = repository.split('/').count();
    let ok_repo = repository.split('/').enumerate().all(|(i, part)| {
        // The first of several parts may be a registry: `host:port`.
        let registry = i == 0
            && parts > 1
            && (part.contains('.') || part.contains(':') || part == "localhost");
        !part.is_empty()
            && part.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b"._-".contains(&b)
                    || (registry && (b == b':' || b.is_ascii_uppercase()))
            })
            && part.as_bytes()[0].is_ascii_alphanumeric()
    });
    if !ok_repo {
        return Err(explain(
            "a repository is lowercase letters, digits, `.`, `_`, `-` and `/`, each part starting with a letter or digit",
        ));
    }
    if tag.is_empty()
        || tag.len() > 128
        || !tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        || !tag.as_bytes()[0].is_ascii_alphanumeric() && tag.as_bytes()[0] != b'_'
    {
        return Err(explain(
            "a tag is up to 128 letters, digits, `.`, `_` and `-`, not starting with `.` or `-`",
        ));
    }
    Ok(format!("{repository}:{tag}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_as_people_write_them() {
        assert_eq!(normalize_name("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize_name("busybox:1.36").unwrap(), "busybox:1.36");
        assert_eq!(
            normalize_name("docker.io/library/alpine:3.20").unwrap(),
            "alpine:3.20"
        );
        assert_eq!(
            normalize_name("localhost:5000/team/app").unwrap(),
            "localhost:5000/team/app:latest"
        );
        for bad in [
            "", "Busybox", "a b", "app:", "app:-x", "../etc", "/abs", "x//y",
        ] {
            let err = normalize_name(bad).unwrap_err();
            assert!(err.contains("is not an image name"), "{bad}: {err}");
        }
    }

    #[test]
    fn file_names_give_repository_names() {
        assert_eq!(
            name_from_path(Path::new("/tmp/alpine-minirootfs-3.20.3-x86_64.tar.gz")),
            "alpine-minirootfs-3.20.3-x86_64"
        );
        assert_eq!(name_from_path(Path::new("My Image.tar")), "my-image");
        assert_eq!(name_from_path(Path::new("busybox.oci")), "busybox");
        assert_eq!(name_from_path(Path::new("???.tar")), "imported");
    }

    #[test]
    fn image_archives_are_told_from_root_file_systems_by_their_first_member() {
        for name in [
            "blobs/",
            "blobs/sha256/0123",
            "oci-layout",
            "./manifest.json",
            "index.json",
            "repositories",
            &"a".repeat(64),
            &format!("{}/layer.tar", "b".repeat(64)),
            &format!("{}.json", "c".repeat(64)),
            &format!("{}.tar", "d".repeat(64)),
        ] {
            assert!(is_image_member(name), "{name}");
        }
        for name in ["./", "bin/", "etc/passwd", "manifest", "blob/x"] {
            assert!(!is_image_member(name), "{name}");
        }
    }

    #[test]
    fn member_names_from_manifests_may_not_escape() {
        assert!(check_member_name("blobs/sha256/ab").is_ok());
        for bad in ["", "/etc/shadow", "../x", "a/../../b", "a//b"] {
            assert!(check_member_name(bad).is_err(), "{bad}");
        }
        let mut members = HashMap::new();
        members.insert(
            "a/layer.tar".to_string(),
            Member::File {
                offset: 512,
                size: 9,
            },
        );
        members.insert(
            "b/layer.tar".to_string(),
            Member::Link("a/layer.tar".into()),
        );
        members.insert("loop".to_string(), Member::Link("loop".into()));
        assert_eq!(resolve_member(&members, "./b/layer.tar"), Some((512, 9)));
        assert_eq!(resolve_member(&members, "loop"), None);
        assert_eq!(resolve_member(&members, "c"), None);
    }

    #[test]
    fn compression_is_known_by_its_magic() {
        assert_eq!(
            Compression::sniff(&[0x1f, 0x8b, 8]).unwrap(),
            Compression::Gzip
        );
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]).unwrap(),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"bin/").unwrap(), Compression::None);
        assert!(
            Compression::sniff(b"\xfd7zXZ\0")
                .unwrap_err()
                .contains("xz -d")
        );
    }
}
