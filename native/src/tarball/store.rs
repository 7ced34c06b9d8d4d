//! The image store: images kept by content address in the data directory.
//!
//! ```text
//! DATA/
//!   lock                    held while an import or removal runs
//!   refs.json               names to image IDs, rewritten whole (rename)
//!   images/HEX/             one per image: HEX is the SHA-256 of its config
//!     config.json           the OCI image config, byte for byte
//!     image.json            what the store knows (layers, sizes, source)
//!     rootfs/               the layers, applied in order: the overlay's
//!                           read-only lower directory
//!   tmp/                    imports in progress; emptied at each import,
//!                           and by any command when no import runs
//!   uploads/PID-N/          a server's upload being received; removed
//!                           when done, or by any command once PID is gone
//! ```
//!
//! An import unpacks into `tmp/`, and only a complete image is renamed into
//! `images/`; the names are then written to `refs.json` with a rename too.
//! So an import that fails, or is killed half way, leaves nothing behind
//! that the store would read, and the next command clears what it left
//! (`ImageStore::tidy`). A `refs.json` damaged from outside is mended from
//! what of it still reads, and the damaged file kept.
//! Readers (listing, running) take no lock: every change they can see
//! happens by an atomic rename.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anchorage_shared::tarball::{Digest, ImageConfig, ImageInfo, LayerInfo};
use indicatif::ProgressBar;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::archive::{self, Format, ImageSource, OciConfig, Source, SourceError};
use super::digest::{self, Mismatch, Verified};
use super::unpack::{Limits, Options, UnpackError, unpack_image};

/// What the store records about an image (`image.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImage {
    /// The SHA-256 of `config.json`, as Docker and OCI tools show it.
    pub id: Digest,
    /// What it was imported from: a file and its format.
    pub source: String,
    pub format: String,
    /// When it was imported, in milliseconds since the Unix epoch.
    pub imported_ms: u64,
    /// When the image says it was built.
    pub created: Option<String>,
    pub architecture: String,
    pub os: String,
    pub config: ImageConfig,
    /// The user the image's processes run as, if it names one.
    pub user: String,
    pub layers: Vec<StoredLayer>,
    /// Entries and bytes of file contents in the unpacked root.
    pub entries: u64,
    pub bytes: u64,
    /// Added to the image's owners on disk: the user namespace range it
    /// was unpacked for (0 when rootless or unshifted).
    pub owner_offset: u32,
    /// Unpacked without root: owners not kept.
    pub rootless: bool,
    /// Device nodes and fifos its layers held, passed over.
    #[serde(default)]
    pub skipped: u64,
}

/// One layer, as imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLayer {
    /// The blob's digest, when the archive stated it.
    pub digest: Option<Digest>,
    /// The digest of the uncompressed tar.
    pub diff_id: Digest,
    /// The blob's size as stored in the archive.
    pub blob_size: u64,
    pub compression: String,
    pub entries: u64,
    pub bytes: u64,
}

impl StoredImage {
    pub fn hex(&self) -> &str {
        self.id.0.strip_prefix("sha256:").unwrap_or(&self.id.0)
    }

    /// The image as a snapshot shows it.
    pub fn info(&self, names: Vec<String>) -> ImageInfo {
        ImageInfo {
            id: self.id.clone(),
            names,
            layers: self
                .layers
                .iter()
                .map(|layer| LayerInfo {
                    digest: layer.diff_id.clone(),
                    size: layer.bytes,
                    entries: layer.entries,
                })
                .collect(),
            config: self.config.clone(),
        }
    }
}

/// An image with the names it is known by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub image: StoredImage,
    pub names: Vec<String>,
}

/// What one image of an import became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub id: Digest,
    pub names: Vec<String>,
    /// It was already in the store: only its names changed.
    pub existed: bool,
    pub layers: usize,
    pub bytes: u64,
    /// Device nodes and fifos passed over.
    pub skipped: u64,
}

/// What a removal did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removed {
    /// The name went; the image keeps its other names.
    Untagged(String),
    /// The image and its names went.
    Deleted { id: Digest, names: Vec<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot use the data directory {path}: {source}. Give another with --data-dir or ANCHORAGE_DATA_DIR"
    )]
    DataDir { path: PathBuf, source: io::Error },
    #[error("the store at {path} is damaged: {what}: {reason}")]
    Damaged {
        path: PathBuf,
        what: String,
        reason: String,
    },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{path}, layer {layer}: {mismatch}")]
    Mismatch {
        path: PathBuf,
        layer: usize,
        mismatch: Box<Mismatch>,
    },
    #[error("{path}: {source}")]
    Unpack { path: PathBuf, source: UnpackError },
    #[error("{0}")]
    BadName(String),
    #[error(
        "--name gives one name, but {path} holds {count} images: import it without --name to keep the names it has"
    )]
    NameForMany { path: PathBuf, count: usize },
    #[error(
        "no image is called `{0}`: `anchorage image ls` lists the images, `anchorage image import FILE` adds one"
    )]
    NoSuchImage(String),
    #[error("`{reference}` could be any of {}: give more of the ID", .matches.join(", "))]
    Ambiguous {
        reference: String,
        matches: Vec<String>,
    },
    #[error("`{0}` is built in: it cannot be removed")]
    BuiltIn(String),
}

/// How the store unpacks images.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreOptions {
    pub limits: Limits,
    /// Without root: owners are not kept.
    pub rootless: bool,
    /// Added to owners, see [`StoredImage::owner_offset`].
    pub owner_offset: u32,
}

/// The image store in a data directory.
#[derive(Clone, Debug)]
pub struct ImageStore {
    root: PathBuf,
    options: StoreOptions,
}

type Refs = BTreeMap<String, Digest>;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes a file whole, or not at all: a temporary file, synced, renamed.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

impl ImageStore {
    /// The store in `data_dir`, made if need be.
    pub fn open(data_dir: &Path, options: StoreOptions) -> Result<ImageStore, StoreError> {
        let err = |source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(err)?;
        // Only this user reaches the images: containers get their root
        // from the supervisor, as a mount made with root's view.
        for (sub, mode) in [("images", 0o700), ("tmp", 0o700)] {
            let dir = data_dir.join(sub);
            fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(&dir)
                .map_err(err)?;
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).map_err(err)?;
        }
        Ok(ImageStore {
            root: data_dir.to_path_buf(),
            options,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    fn image_dir(&self, hex: &str) -> PathBuf {
        self.root.join("images").join(hex)
    }

    /// The unpacked root of an image: the overlay's lower directory.
    pub fn rootfs(&self, image: &StoredImage) -> PathBuf {
        self.image_dir(image.hex()).join("rootfs")
    }

    /// The image's config, byte for byte.
    pub fn config_json(&self, image: &StoredImage) -> Result<Vec<u8>, StoreError> {
        let path = self.image_dir(image.hex()).join("config.json");
        fs::read(&path).map_err(|e| self.damaged(&path, e.to_string()))
    }

    fn damaged(&self, what: &Path, reason: String) -> StoreError {
        StoreError::Damaged {
            path: self.root.clone(),
            what: what.display().to_string(),
            reason,
        }
    }

    /// Holds the store's lock until dropped; says so if it has to wait.
    fn lock(&self) -> Result<Flock<File>, StoreError> {
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| StoreError::DataDir {
                path: self.root.clone(),
                source,
            })?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(lock),
            Err((file, _)) => {
                eprintln!("Waiting for another anchorage to finish with the image store...");
                Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| {
                    StoreError::DataDir {
                        path: self.root.clone(),
                        source: io::Error::from(errno),
                    }
                })
            }
        }
    }

    fn refs(&self) -> Result<Refs, StoreError> {
        let path = self.root.join("refs.json");
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| self.damaged(&path, e.to_string()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Refs::new()),
            Err(e) => Err(self.damaged(&path, e.to_string())),
        }
    }

    fn write_refs(&self, refs: &Refs) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(refs).expect("refs always encode");
        write_atomically(&self.root.join("refs.json"), &bytes).map_err(|source| {
            StoreError::DataDir {
                path: self.root.clone(),
                source,
            }
        })
    }

    fn read_image(&self, hex: &str) -> Result<StoredImage, StoreError> {
        let path = self.image_dir(hex).join("image.json");
        let bytes = fs::read(&path).map_err(|e| self.damaged(&path, e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| self.damaged(&path, e.to_string()))
    }

    /// Every image, newest import first, with its names.
    pub fn list(&self) -> Result<Vec<Listed>, StoreError> {
        let refs = self.refs()?;
        let dir = self.root.join("images");
        let entries = fs::read_dir(&dir).map_err(|e| self.damaged(&dir, e.to_string()))?;
        let mut listed = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.damaged(&dir, e.to_string()))?;
            let hex = entry.file_name().to_string_lossy().into_owned();
            if !digest::is_sha256(&format!("sha256:{hex}")) {
                continue;
            }
            let image = self.read_image(&hex)?;
            let names = refs
                .iter()
                .filter(|(_, id)| **id == image.id)
                .map(|(name, _)| name.clone())
                .collect();
            listed.push(Listed { image, names });
        }
        listed.sort_by(|a, b| {
            b.image
                .imported_ms
                .cmp(&a.image.imported_ms)
                .then_with(|| a.image.id.cmp(&b.image.id))
        });
        Ok(listed)
    }

    /// The image a reference means: a name (`busybox`, `busybox:1.36`),
    /// a full ID, or a unique prefix of one.
    pub fn resolve(&self, reference: &str) -> Result<Listed, StoreError> {
        let listed = self.list()?;
        if let Ok(name) = archive::normalize_name(reference)
            && let Some(found) = listed.iter().find(|l| l.names.contains(&name))
        {
            return Ok(found.clone());
        }
        let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NoSuchImage(reference.to_string()));
        }
        let hex = hex.to_ascii_lowercase();
        let matches: Vec<&Listed> = listed
            .iter()
            .filter(|l| l.image.hex().starts_with(&hex))
            .collect();
        match matches.as_slice() {
            [] => Err(StoreError::NoSuchImage(reference.to_string())),
            [one] => Ok((*one).clone()),
            many => Err(StoreError::Ambiguous {
                reference: reference.to_string(),
                matches: many
                    .iter()
                    .map(|l| l.image.id.short().to_string())
                    .collect(),
            }),
        }
    }

    /// Removes a name, or (given an ID, or its last name) the image.
    pub fn remove(&self, reference: &str) -> Result<Removed, StoreError> {
        let _lock = self.lock()?;
        let found = self.resolve(reference)?;
        let mut refs = self.refs()?;
        if let Ok(name) = archive::normalize_name(reference)
            && found.names.contains(&name)
            && found.names.len() > 1
        {
            refs.remove(&name);
            self.write_refs(&refs)?;
            return Ok(Removed::Untagged(name));
        }
        // Names first: a crash after this leaves an unnamed image, which
        // `image ls` shows and `image rm ID` removes.
        refs.retain(|_, id| *id != found.image.id);
        self.write_refs(&refs)?;
        let dir = self.image_dir(found.image.hex());
        let doomed =
            self.root
                .join("tmp")
                .join(format!("rm-{}-{}", found.image.hex(), std::process::id()));
        fs::rename(&dir, &doomed).map_err(|source| StoreError::DataDir {
            path: self.root.clone(),
            source,
        })?;
        remove_tree(&doomed).map_err(|source| StoreError::DataDir {
            path: self.root.clone(),
            source,
        })?;
        Ok(Removed::Deleted {
            id: found.image.id,
            names: found.names,
        })
    }

    /// Imports every image in an archive or OCI layout. `name` (only for
    /// an archive of one image) replaces the names it carries; a root file
    /// system tarball without one is named after its file.
    pub fn import(
        &self,
        path: &Path,
        name: Option<&str>,
        progress: &ProgressBar,
    ) -> Result<Vec<Imported>, StoreError> {
        let name = name
            .map(|n| archive::normalize_name(n).map_err(StoreError::BadName))
            .transpose()?;
        let _lock = self.lock()?;
        self.clear_scratch()?;
        let work =
            self.root
                .join("tmp")
                .join(format!("import-{}-{}", std::process::id(), now_ms()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&work)
            .map_err(|source| StoreError::DataDir {
                path: self.root.clone(),
                source,
            })?;
        let result = self.import_into(path, name, progress, &work);
        let _ = remove_tree(&work);
        progress.finish_and_clear();
        result
    }

    /// Removes what interrupted imports, removals and uploads left, when
    /// no import is under way (every command does this as it opens the
    /// store, so a killed import costs no disk past the next command):
    /// `tmp/`, half-written files of the store's, and uploads whose server
    /// is gone.
    /// A damaged `refs.json` is mended from what of it can be read (the
    /// damaged file kept beside it); what was done is returned, to be said.
    pub fn tidy(&self) -> Vec<String> {
        let mut notices = Vec::new();
        let Ok(file) = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.root.join("lock"))
        else {
            return notices;
        };
        let Ok(_lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
            // An import is under way: what is in `tmp/` is its.
            return notices;
        };
        let _ = self.clear_scratch();
        if let Err(StoreError::Damaged { reason, .. }) = self.refs() {
            notices.extend(self.mend_refs(&reason));
        }
        let stale = |name: &str| {
            // `.NAME.tmp-PID`: a write_atomically of a process now gone.
            name.starts_with('.')
                && name
                    .rsplit_once(".tmp-")
                    .and_then(|(_, pid)| pid.parse::<i32>().ok())
                    .is_some_and(|pid| !process_alive(pid))
        };
        for dir in [self.root.clone(), self.root.join("images")] {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                if stale(&entry.file_name().to_string_lossy()) {
                    let _ = remove_tree(&entry.path());
                }
            }
        }
        // Uploads are `uploads/PID-N`, of the server PID.
        for entry in fs::read_dir(self.root.join("uploads"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let owner = name.split('-').next().and_then(|p| p.parse::<i32>().ok());
            if owner.is_none_or(|pid| !process_alive(pid)) {
                let _ = remove_tree(&entry.path());
            }
        }
        notices
    }

    /// Rewrites a `refs.json` that does not parse with every name in it
    /// that still reads whole and names an image the store holds; the
    /// damaged file is kept as `refs.json.damaged-MS`.
    fn mend_refs(&self, reason: &str) -> Option<String> {
        let path = self.root.join("refs.json");
        let bytes = fs::read(&path).ok()?;
        let refs: Refs = salvage_refs(&String::from_utf8_lossy(&bytes))
            .into_iter()
            .filter(|(_, id): &(String, Digest)| {
                let hex = id.0.strip_prefix("sha256:").unwrap_or(&id.0);
                self.image_dir(hex).join("image.json").is_file()
            })
            .collect();
        // A copy kept first; the mended file then replaces the damaged
        // one in one rename, so readers never find none.
        let kept = self.root.join(format!("refs.json.damaged-{}", now_ms()));
        fs::write(&kept, &bytes).ok()?;
        if let Err(e) = self.write_refs(&refs) {
            let _ = fs::remove_file(&kept);
            return Some(format!(
                "{} is damaged ({reason}) and could not be mended: {e}",
                path.display()
            ));
        }
        Some(format!(
            "{} was damaged ({reason}): the {} name(s) still readable in it were kept and the damaged file saved as {}; an image that lost its name is listed by its ID in `anchorage image ls`, and importing it again names it",
            path.display(),
            refs.len(),
            kept.display()
        ))
    }

    /// Removes what interrupted imports and removals left in `tmp/`.
    fn clear_scratch(&self) -> Result<(), StoreError> {
        let tmp = self.root.join("tmp");
        let entries = fs::read_dir(&tmp).map_err(|source| StoreError::DataDir {
            path: self.root.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            remove_tree(&entry.path()).map_err(|source| StoreError::DataDir {
                path: self.root.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Makes sure an image made in memory (the built-in `workshop`) is in
    /// the store under its names: imported if its config is new, else only
    /// named.
    pub fn ensure(&self, source: Source) -> Result<Imported, StoreError> {
        let _lock = self.lock()?;
        self.clear_scratch()?;
        let work =
            self.root
                .join("tmp")
                .join(format!("builtin-{}-{}", std::process::id(), now_ms()));
        let result = self.import_source(source, None, &ProgressBar::hidden(), &work);
        let _ = remove_tree(&work);
        result.map(|mut all| all.remove(0))
    }

    fn import_into(
        &self,
        path: &Path,
        name: Option<String>,
        progress: &ProgressBar,
        work: &Path,
    ) -> Result<Vec<Imported>, StoreError> {
        progress.set_message("reading");
        let source = archive::open(path, work, self.options.limits, |n| progress.inc(n))?;
        self.import_source(source, name, progress, work)
    }

    fn import_source(
        &self,
        source: Source,
        name: Option<String>,
        progress: &ProgressBar,
        work: &Path,
    ) -> Result<Vec<Imported>, StoreError> {
        let path = source.path.clone();
        let path = path.as_path();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(work)
            .map_err(|source| StoreError::DataDir {
                path: self.root.clone(),
                source,
            })?;
        if name.is_some() && source.images.len() > 1 {
            return Err(StoreError::NameForMany {
                path: path.to_path_buf(),
                count: source.images.len(),
            });
        }
        let total: u64 = source
            .images
            .iter()
            .flat_map(|i| i.layers.iter().map(|l| l.size))
            .sum();
        progress.set_position(0);
        progress.set_length(total);
        progress.set_message("importing");
        let mut refs = self.refs()?;
        let mut imported = Vec::new();
        for (index, image) in source.images.iter().enumerate() {
            let mut names = match &name {
                Some(name) => vec![name.clone()],
                None => image.names.clone(),
            };
            if names.is_empty() && matches!(source.format, Format::Rootfs(_)) {
                let fallback = format!("{}:latest", archive::name_from_path(path));
                names.push(
                    archive::normalize_name(&fallback).unwrap_or_else(|_| "imported:latest".into()),
                );
            }
            let done = self.import_one(&source, image, work.join(index.to_string()), progress)?;
            for name in &names {
                refs.insert(name.clone(), done.0.id.clone());
            }
            imported.push(Imported {
                id: done.0.id.clone(),
                names,
                existed: done.1,
                layers: done.0.layers.len(),
                bytes: done.0.bytes,
                skipped: done.0.skipped,
            });
        }
        self.write_refs(&refs)?;
        Ok(imported)
    }

    /// Unpacks one image into `work` and moves it into the store. Returns
    /// the record and whether the store had it already.
    fn import_one(
        &self,
        source: &Source,
        image: &ImageSource,
        work: PathBuf,
        progress: &ProgressBar,
    ) -> Result<(StoredImage, bool), StoreError> {
        let path = &source.path;
        // A known config is a known image: nothing to unpack.
        if let Some(config) = &image.config {
            let id = Digest::sha256(config);
            let hex = &id.0[7..];
            if self.image_dir(hex).join("image.json").is_file() {
                let existing = self.read_image(hex)?;
                progress.inc(image.layers.iter().map(|l| l.size).sum());
                return Ok((existing, true));
            }
        }
        fs::DirBuilder::new()
            .mode(0o711)
            .create(&work)
            .map_err(|source| StoreError::DataDir {
                path: self.root.clone(),
                source,
            })?;

        let slots: Vec<_> = image.layers.iter().map(|_| DigestSlot::default()).collect();
        let compressions: Vec<CompressionSlot> = image
            .layers
            .iter()
            .map(|_| CompressionSlot::default())
            .collect();
        let mut readers: Vec<Box<dyn Read>> = Vec::new();
        for ((layer, slot), compression) in image.layers.iter().zip(&slots).zip(&compressions) {
            let (blob, _) = source.open_blob(&layer.blob)?;
            let what = if layer.blob.is_empty() {
                path.display().to_string()
            } else {
                format!("`{}`", layer.blob)
            };
            let raw = Verified::new(
                progress.wrap_read(blob),
                what.clone(),
                layer.digest.clone(),
                layer.digest.as_ref().map(|_| layer.size),
            );
            readers.push(Box::new(LazyLayer {
                raw: Some(raw),
                chunks: None,
                worker: None,
                current: io::Cursor::new(Vec::new()),
                what: format!("the uncompressed tar of {what}"),
                diff_id: layer.diff_id.clone(),
                slot: slot.clone(),
                compression: compression.clone(),
            }));
        }
        let rootfs = work.join("rootfs");
        let report = unpack_image(
            readers,
            &rootfs,
            Options {
                limits: self.options.limits,
                rootless: self.options.rootless,
                owner_offset: self.options.owner_offset,
            },
        )
        .map_err(|err| match &err {
            UnpackError::Archive { layer, source: io } => match digest::mismatch_in(io) {
                Some(mismatch) => StoreError::Mismatch {
                    path: path.clone(),
                    layer: *layer,
                    mismatch: Box::new(mismatch.clone()),
                },
                None => StoreError::Unpack {
                    path: path.clone(),
                    source: err,
                },
            },
            _ => StoreError::Unpack {
                path: path.clone(),
                source: err,
            },
        })?;

        let diff_ids: Vec<Digest> = slots
            .iter()
            .map(|slot| slot.get().map(|(d, _)| d).unwrap_or(Digest(String::new())))
            .collect();
        let config = match &image.config {
            Some(config) => config.clone(),
            None => synthesized_config(&diff_ids),
        };
        let parsed: OciConfig =
            serde_json::from_slice(&config).map_err(|e| SourceError::Invalid {
                path: path.clone(),
                what: "the image config".into(),
                reason: e.to_string(),
            })?;
        let id = Digest::sha256(&config);
        let layers = image
            .layers
            .iter()
            .zip(&report.layers)
            .zip(diff_ids)
            .zip(&compressions)
            .map(|(((layer, stats), diff_id), compression)| StoredLayer {
                digest: layer.digest.clone(),
                diff_id,
                blob_size: layer.size,
                compression: compression
                    .lock()
                    .ok()
                    .and_then(|c| c.map(|c| c.name().to_string()))
                    .unwrap_or_default(),
                entries: stats.entries,
                bytes: stats.bytes,
            })
            .collect();
        let record = StoredImage {
            id: id.clone(),
            source: path.display().to_string(),
            format: source.format.describe(),
            imported_ms: now_ms(),
            created: parsed.created.clone(),
            architecture: parsed.architecture.clone(),
            os: parsed.os.clone(),
            config: parsed.image_config(),
            user: parsed
                .config
                .as_ref()
                .and_then(|c| c.user.clone())
                .unwrap_or_default(),
            layers,
            entries: report.total.entries,
            bytes: report.total.bytes,
            skipped: report.total.skipped,
            owner_offset: if self.options.rootless {
                0
            } else {
                self.options.owner_offset
            },
            rootless: self.options.rootless,
        };
        let io = |source| StoreError::DataDir {
            path: self.root.clone(),
            source,
        };
        write_atomically(&work.join("config.json"), &config).map_err(io)?;
        write_atomically(
            &work.join("image.json"),
            &serde_json::to_vec_pretty(&record).expect("records always encode"),
        )
        .map_err(io)?;
        let dest = self.image_dir(&id.0[7..]);
        if dest.join("image.json").is_file() {
            // The same root file system imported again.
            let existing = self.read_image(&id.0[7..])?;
            return Ok((existing, true));
        }
        if dest.exists() {
            // Left by a removal cut short: not an image the store reads.
            remove_tree(&dest).map_err(io)?;
        }
        fs::rename(&work, &dest).map_err(io)?;
        File::open(self.root.join("images"))
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok((record, false))
    }
}

/// The config of a root file system tarball: no command, this host's
/// platform, and its one layer. The same tarball always gives the same ID.
fn synthesized_config(diff_ids: &[Digest]) -> Vec<u8> {
    let config = serde_json::json!({
        "architecture": archive::host_architecture(),
        "os": "linux",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    serde_json::to_vec(&config).expect("configs always encode")
}

/// Where a layer's reader leaves what it learned at the end of its stream.
#[derive(Clone, Default)]
struct DigestSlot(std::sync::Arc<std::sync::Mutex<Option<(Digest, u64)>>>);

impl DigestSlot {
    fn get(&self) -> Option<(Digest, u64)> {
        self.0.lock().map(|slot| slot.clone()).unwrap_or(None)
    }

    fn set(&self, digest: Digest, len: u64) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((digest, len));
        }
    }
}

/// How a layer's blob turned out to be compressed.
type CompressionSlot = std::sync::Arc<std::sync::Mutex<Option<archive::Compression>>>;

type RawBlob = Verified<indicatif::ProgressBarIter<Box<dyn Read + Send>>>;

/// A chunk of a layer's uncompressed tar, or why it stopped.
type Chunk = io::Result<Vec<u8>>;

/// A layer's stream: the blob checked against its digest, decompressed as
/// its first bytes say, the tar checked against its diff ID. That work
/// runs on a thread of its own, a few chunks ahead of the unpacker (as
/// `tar -z` runs gzip beside tar), and starts on the first read, so a
/// file is only opened when its layer's turn comes.
struct LazyLayer {
    raw: Option<RawBlob>,
    chunks: Option<std::sync::mpsc::Receiver<Chunk>>,
    worker: Option<std::thread::JoinHandle<()>>,
    current: io::Cursor<Vec<u8>>,
    what: String,
    diff_id: Option<Digest>,
    slot: DigestSlot,
    compression: CompressionSlot,
}

impl LazyLayer {
    fn start(&mut self) -> io::Result<()> {
        let raw = self.raw.take().expect("a layer starts once");
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Chunk>(8);
        let (what, diff_id, slot, compression) = (
            self.what.clone(),
            self.diff_id.clone(),
            self.slot.clone(),
            self.compression.clone(),
        );
        let worker = std::thread::Builder::new()
            .name("layer".into())
            .spawn(move || {
                let (decoded, kind) = match archive::decompress(raw) {
                    Ok(found) => found,
                    Err(err) => {
                        let _ = sender.send(Err(err));
                        return;
                    }
                };
                if let Ok(mut slot) = compression.lock() {
                    *slot = Some(kind);
                }
                let mut stream = Verified::new(decoded, what, diff_id, None);
                loop {
                    let mut chunk = vec![0u8; 256 << 10];
                    match read_full(&mut stream, &mut chunk) {
                        Ok(0) => {
                            if let Some(digest) = stream.digest() {
                                slot.set(digest.clone(), stream.len());
                            }
                            return;
                        }
                        Ok(n) => {
                            chunk.truncate(n);
                            // The unpacker stopped (an error): so do we.
                            if sender.send(Ok(chunk)).is_err() {
                                return;
                            }
                        }
                        Err(err) => {
                            let _ = sender.send(Err(err));
                            return;
                        }
                    }
                }
            })?;
        self.chunks = Some(receiver);
        self.worker = Some(worker);
        Ok(())
    }
}

/// Reads until `buf` is full or the stream ends.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

impl Read for LazyLayer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.chunks.is_none() {
            self.start()?;
        }
        loop {
            let n = self.current.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let next = self.chunks.as_ref().expect("started above").recv();
            match next {
                Ok(Ok(chunk)) => self.current = io::Cursor::new(chunk),
                Ok(Err(err)) => return Err(err),
                // The worker is done: the end of the stream (its verdict,
                // if any, came as an error before).
                Err(_) => {
                    if let Some(worker) = self.worker.take() {
                        let _ = worker.join();
                    }
                    return Ok(0);
                }
            }
        }
    }
}

impl Drop for LazyLayer {
    fn drop(&mut self) {
        // Closing the channel stops the worker at its next chunk.
        self.chunks.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The `"NAME": "sha256:HEX"` pairs that read whole in a damaged
/// `refs.json` (cut short, or with garbage in the middle).
fn salvage_refs(text: &str) -> Refs {
    let mut refs = Refs::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("\"sha256:") {
        let value_at = from + found;
        from = value_at + 1;
        let value = &text[value_at + 1..];
        let Some(end) = value.find('"') else {
            break;
        };
        let digest = Digest(value[..end].to_string());
        if !digest::is_sha256(&digest.0) {
            continue;
        }
        // Back from the value: `"NAME"`, blanks, `:`, blanks.
        let before = text[..value_at].trim_end();
        let Some(before) = before.strip_suffix(':') else {
            continue;
        };
        let Some(before) = before.trim_end().strip_suffix('"') else {
            continue;
        };
        let Some(start) = before.rfind('"') else {
            continue;
        };
        let name = &before[start + 1..];
        if archive::normalize_name(name).is_ok_and(|n| n == name) {
            refs.insert(name.to_string(), digest);
        }
    }
    refs
}

/// Whether a process of this pid runs (or is a zombie).
pub(crate) fn process_alive(pid: i32) -> bool {
    pid > 0 && Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes a tree the store made, making read-only directories writable
/// on the way (a rootless unpack keeps the image's modes, `0555` and all).
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(path);
            match fs::remove_dir_all(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        }
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(path) {
        for entry in entries.flatten() {
            make_writable(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests;
