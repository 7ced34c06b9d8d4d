//! Safe unpacking of image layers into a root file system.
//!
//! Layers are applied in order with the OCI change-set rules: a `.wh.NAME`
//! entry deletes `NAME` from the layers below, `.wh..wh..opq` empties its
//! directory of what the layers below put there. The rules that keep it
//! safe:
//!
//! - An entry's path may not be absolute or contain `..`: the archive is
//!   refused, naming the entry.
//! - Parent directories are opened with `openat2(RESOLVE_IN_ROOT)` against
//!   the root being built, so symlinks (from this layer or an earlier one)
//!   resolve as they would inside the container, never outside it. The last
//!   component is then created with a `*at` call on that directory, and
//!   never followed (`O_NOFOLLOW`, `symlinkat`, `unlinkat`).
//! - A hard link's target is resolved the same way and must be a regular
//!   file of the root.
//! - Device nodes are refused (the runtime makes `/dev`), or replaced by an
//!   empty file when unpacking rootless, where they could not be made.
//! - Limits on the number of entries and the bytes written stop tar bombs.
//! - The image is unpacked into a sibling scratch directory that is renamed
//!   into place only when every layer applied; on any error it is removed,
//!   so a refused or broken image leaves no trace.

use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, fchmod, fstatat, mkdirat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchownat, linkat, symlinkat, unlinkat};
use tar::EntryType;

/// The most an image may hold, against tar bombs (a few hundred
/// kilobytes of zstd can unpack to many gigabytes): `--max-image-size` and
/// `--max-image-entries` of `anchorage image import` and `anchorage serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Entries in all layers.
    pub max_entries: u64,
    /// Bytes of file contents in all layers.
    pub max_bytes: u64,
}

impl Limits {
    /// The default caps: 4 GiB of files, a million entries.
    pub const DEFAULT_BYTES: u64 = 4 << 30;
    pub const DEFAULT_ENTRIES: u64 = 1_000_000;

    /// The most an archive holding such an image can be, decompressed:
    /// the files, a header (and padding) per entry, and room for the
    /// manifests.
    pub fn max_archive_bytes(&self) -> u64 {
        self.max_layer_bytes().saturating_add(64 << 20)
    }

    /// The most an image's layers may stream, decompressed, in all: the
    /// files, a header and padding per entry, and the end blocks.
    pub fn max_layer_bytes(&self) -> u64 {
        self.max_bytes
            .saturating_add(self.max_entries.saturating_mul(1024))
            .saturating_add(1 << 20)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: Self::DEFAULT_ENTRIES,
            max_bytes: Self::DEFAULT_BYTES,
        }
    }
}

/// What the tar reader may read by itself between two entries: headers,
/// GNU long names and PAX records, which it keeps in memory whole.
const HEADER_BUDGET: u64 = 1 << 20;

/// Which of a meter's caps stopped a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trip {
    /// The image's layers, decompressed, in all.
    Stream,
    /// One entry's headers.
    Header,
}

/// Counts what an image's layers give, decompressed, across all of them:
/// at most `cap` in all (so a layer cannot make the unpacker decompress
/// without end, whatever its entries claim), and while `budget` is set, at
/// most that much more.
struct Meter {
    total: Cell<u64>,
    cap: u64,
    budget: Cell<Option<u64>>,
    tripped: Cell<Option<Trip>>,
}

/// A layer's stream, read through its image's [`Meter`].
struct Metered<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let meter = &self.meter;
        let total = meter.total.get() + n as u64;
        meter.total.set(total);
        if total > meter.cap {
            meter.tripped.set(Some(Trip::Stream));
            return Err(io::Error::other("the image's layers run past its cap"));
        }
        if let Some(left) = meter.budget.get() {
            if n as u64 > left {
                meter.tripped.set(Some(Trip::Header));
                return Err(io::Error::other("an entry's headers run past their cap"));
            }
            meter.budget.set(Some(left - n as u64));
        }
        Ok(n)
    }
}

/// A cap as people read it, and the option that raises it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    Bytes(u64),
    Entries(u64),
}

impl std::fmt::Display for Cap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cap::Bytes(bytes) => write!(
                f,
                "more than {} of files, the most this host takes (--max-image-size)",
                anchorage_shared::cgroup::format_size(*bytes)
            ),
            Cap::Entries(entries) => write!(
                f,
                "more than {entries} entries, the most this host takes (--max-image-entries)"
            ),
        }
    }
}

/// How to unpack.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub limits: Limits,
    /// Unpacking without root: ownership is not kept, and device nodes
    /// become empty files.
    pub rootless: bool,
    /// Added to every owner's uid and gid (when not rootless): the first
    /// host id of the user namespace the containers will run in, so that
    /// root in the image is root inside the container and nobody outside.
    pub owner_offset: u32,
}

/// What an unpacking did: in all, or in one layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub entries: u64,
    /// Bytes of file contents written.
    pub bytes: u64,
    pub whiteouts: u64,
    /// Device nodes and fifos passed over: the runtime makes `/dev`.
    pub skipped: u64,
}

impl std::ops::Sub for Stats {
    type Output = Stats;
    fn sub(self, earlier: Stats) -> Stats {
        Stats {
            entries: self.entries - earlier.entries,
            bytes: self.bytes - earlier.bytes,
            whiteouts: self.whiteouts - earlier.whiteouts,
            skipped: self.skipped - earlier.skipped,
        }
    }
}

/// What unpacking an image did, in all and layer by layer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub total: Stats,
    /// One per layer, bottom first.
    pub layers: Vec<Stats>,
}

/// Why an image could not be unpacked. Each names the layer (from 1) and
/// the entry.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error(
        "layer {layer}, entry `{entry}`: {reason}; the image is refused and nothing was written"
    )]
    Refused {
        layer: usize,
        entry: String,
        reason: String,
    },
    #[error("layer {layer}: the archive is damaged or not a tar archive: {source}")]
    Archive { layer: usize, source: io::Error },
    #[error("layer {layer}, entry `{entry}`: cannot {action}: {source}")]
    Io {
        layer: usize,
        entry: String,
        action: &'static str,
        source: io::Error,
    },
    #[error(
        "the image holds {cap} (layer {layer}, at `{entry}`), and is refused: if it is meant to be that large, import it again with a larger cap"
    )]
    Limit {
        layer: usize,
        entry: String,
        cap: Cap,
    },
    #[error("cannot prepare {path}: {source}")]
    Destination { path: PathBuf, source: io::Error },
}

/// An entry's path, checked and split: the directory it goes in (relative
/// to the root, `""` for the root) and its name.
fn split_path(raw: &[u8]) -> Result<Option<(String, String)>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "its path is not UTF-8".to_string())?;
    if text.starts_with('/') {
        return Err("its path is absolute: layer paths are relative to the root".into());
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("its path contains `..`, which could climb out of the root".into()),
            part if part.contains('\0') => return Err("its path contains a NUL byte".into()),
            part => parts.push(part),
        }
    }
    let Some(name) = parts.pop() else {
        return Ok(None);
    };
    Ok(Some((parts.join("/"), name.to_string())))
}

fn io_err(err: Errno) -> io::Error {
    io::Error::from_raw_os_error(err as i32)
}

/// Where an image is being unpacked, and the running totals.
struct Unpacker {
    root: OwnedFd,
    options: Options,
    stats: Stats,
    layer: usize,
    /// Paths this layer made, which its opaque markers keep.
    made: HashSet<String>,
    /// The directory the last entry went in, open.
    dir_cache: std::cell::RefCell<Option<(String, OwnedFd)>>,
}

impl Unpacker {
    fn refuse(&self, entry: &str, reason: impl Into<String>) -> UnpackError {
        UnpackError::Refused {
            layer: self.layer,
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }

    fn io(&self, entry: &str, action: &'static str) -> impl FnOnce(Errno) -> UnpackError + '_ {
        let entry = entry.to_string();
        move |err| UnpackError::Io {
            layer: self.layer,
            entry,
            action,
            source: io_err(err),
        }
    }

    /// Opens a directory of the root, resolving symlinks inside it, and
    /// with `create` makes the missing ones (`mkdir -p`, inside the root).
    fn open_dir(&self, entry: &str, dir: &str) -> Result<OwnedFd, UnpackError> {
        // Consecutive entries mostly share a directory: keep the last one
        // open. Only the entries of a directory run between two uses of
        // the same key, and they change its children, never it.
        if let Some((cached, fd)) = &*self.dir_cache.borrow()
            && cached == dir
            && let Ok(fd) = fd.try_clone()
        {
            return Ok(fd);
        }
        let fd = self.resolve_dir(entry, dir)?;
        if let Ok(copy) = fd.try_clone() {
            *self.dir_cache.borrow_mut() = Some((dir.to_string(), copy));
        }
        Ok(fd)
    }

    fn resolve_dir(&self, entry: &str, dir: &str) -> Result<OwnedFd, UnpackError> {
        let how = || {
            OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
        };
        let target = if dir.is_empty() { "." } else { dir };
        match openat2(self.root.as_fd(), target, how()) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(Errno::ENOTDIR) => {
                return Err(self.refuse(entry, format!("its directory `{dir}` is not a directory")));
            }
            Err(err) => return Err(self.io(entry, "open its directory")(err)),
        }
        // Walk down from the root, making what is missing.
        let mut parent =
            openat2(self.root.as_fd(), ".", how()).map_err(self.io(entry, "open the root"))?;
        let mut prefix = String::new();
        for part in dir.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            match openat2(self.root.as_fd(), prefix.as_str(), how()) {
                Ok(fd) => parent = fd,
                Err(Errno::ENOENT) => {
                    match mkdirat(parent.as_fd(), part, Mode::from_bits_truncate(0o755)) {
                        Ok(()) => {}
                        Err(Errno::EEXIST) => {
                            return Err(self.refuse(
                                entry,
                                format!(
                                    "`{prefix}` is a symlink to a directory the root does not have"
                                ),
                            ));
                        }
                        Err(err) => return Err(self.io(entry, "make its directory")(err)),
                    }
                    parent = openat2(self.root.as_fd(), prefix.as_str(), how())
                        .map_err(self.io(entry, "open its directory"))?;
                }
                Err(Errno::ENOTDIR) => {
                    return Err(self.refuse(entry, format!("`{prefix}` is not a directory")));
                }
                Err(err) => return Err(self.io(entry, "open its directory")(err)),
            }
        }
        Ok(parent)
    }

    /// The names in a directory (`.` and `..` left out).
    fn names_in(&self, entry: &str, dir: &OwnedFd) -> Result<Vec<String>, UnpackError> {
        let fd = openat(
            dir.as_fd(),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(self.io(entry, "open a directory"))?;
        let mut listing = Dir::from_fd(fd).map_err(self.io(entry, "list a directory"))?;
        Ok(listing
            .iter()
            .filter_map(Result::ok)
            .map(|e| {
                OsStr::from_bytes(e.file_name().to_bytes())
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|n| n != "." && n != "..")
            .collect())
    }

    /// Creates a new regular file in `dir`, never following a link there.
    fn create_file(
        &self,
        entry: &str,
        dir: &OwnedFd,
        name: &str,
        mode: Mode,
    ) -> Result<File, UnpackError> {
        openat(
            dir.as_fd(),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            mode,
        )
        .map(File::from)
        .map_err(self.io(entry, "create the file"))
    }

    /// Removes `name` from `dir` whatever it is, a directory with all it
    /// holds included. Missing is fine.
    fn remove(&self, entry: &str, dir: &OwnedFd, name: &str) -> Result<(), UnpackError> {
        let stat = match fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::ENOENT) => return Ok(()),
            Err(err) => return Err(self.io(entry, "inspect what it replaces")(err)),
        };
        if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
            let fd = openat(
                dir.as_fd(),
                name,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(self.io(entry, "open a directory to remove"))?;
            for child in self.names_in(entry, &fd)? {
                self.remove(entry, &fd, &child)?;
            }
            unlinkat(dir.as_fd(), name, UnlinkatFlags::RemoveDir)
                .map_err(self.io(entry, "remove a directory"))?;
        } else {
            unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir)
                .map_err(self.io(entry, "remove a file"))?;
        }
        Ok(())
    }

    fn apply_layer(&mut self, reader: impl Read, meter: &Rc<Meter>) -> Result<(), UnpackError> {
        let mut archive = tar::Archive::new(Metered {
            inner: reader,
            meter: meter.clone(),
        });
        self.apply_entries(&mut archive, meter)?;
        // Read on to the end of the stream, past the archive's end blocks:
        // a reader that checks a digest does so at the end, and its verdict
        // belongs to this layer.
        io::copy(&mut archive.into_inner(), &mut io::sink())
            .map_err(|source| self.stream_error(meter, "", source))?;
        Ok(())
    }

    /// A failed read, named for what stopped it: a cap of the meter's, or
    /// the archive itself.
    fn stream_error(&self, meter: &Meter, entry: &str, source: io::Error) -> UnpackError {
        let layer = self.layer;
        match meter.tripped.get() {
            Some(Trip::Stream) => UnpackError::Limit {
                layer,
                entry: entry.to_string(),
                cap: Cap::Bytes(self.options.limits.max_bytes),
            },
            Some(Trip::Header) => self.refuse(
                entry,
                format!(
                    "the archive's headers for one entry (long names, PAX records) run past {} KiB, which no image needs",
                    HEADER_BUDGET >> 10
                ),
            ),
            None => UnpackError::Archive { layer, source },
        }
    }

    fn apply_entries(
        &mut self,
        archive: &mut tar::Archive<impl Read>,
        meter: &Rc<Meter>,
    ) -> Result<(), UnpackError> {
        let layer = self.layer;
        let mut entries = archive
            .entries()
            .map_err(|source| UnpackError::Archive { layer, source })?;
        // Directories' times, to set at the end: (parent, name, mtime).
        let mut dir_times: Vec<(String, String, u64)> = Vec::new();
        let mut last = String::new();
        // The data of the last entry that nobody read (all but a regular
        // file's): the tar reader passes over it before the next header.
        let mut unread: u64 = 0;
        loop {
            // What the tar reader takes in itself between two entries (their
            // headers, long names, PAX records) it holds in memory: that
            // is kept small. What it passes over counts against the image's
            // cap as everything read does.
            meter.budget.set(Some(
                HEADER_BUDGET.saturating_add(unread.div_ceil(512) * 512),
            ));
            let next = entries.next();
            meter.budget.set(None);
            let Some(entry) = next else {
                break;
            };
            let mut entry = entry.map_err(|source| self.stream_error(meter, &last, source))?;
            unread = match entry.header().entry_type() {
                EntryType::Regular | EntryType::Continuous => 0,
                _ => entry.size(),
            };
            let raw = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            last.clone_from(&shown);
            self.stats.entries += 1;
            if self.stats.entries > self.options.limits.max_entries {
                return Err(UnpackError::Limit {
                    layer,
                    entry: shown,
                    cap: Cap::Entries(self.options.limits.max_entries),
                });
            }
            let (dir, name) = match split_path(&raw) {
                Ok(Some(split)) => split,
                // The root itself: nothing to make, but its mode and time
                // are the image's.
                Ok(None) => {
                    let header = entry.header();
                    if header.entry_type() == EntryType::Directory {
                        let mode = header.mode().unwrap_or(0o755) & 0o7777;
                        fchmod(
                            self.root_dir(&shown)?.as_fd(),
                            Mode::from_bits_truncate(mode),
                        )
                        .map_err(self.io(&shown, "set the root's mode"))?;
                        dir_times.push((String::new(), ".".into(), header.mtime().unwrap_or(0)));
                    }
                    continue;
                }
                Err(reason) => return Err(self.refuse(&shown, reason)),
            };
            let path = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };

            // Whiteouts: deletions from the layers below.
            if name == ".wh..wh..opq" {
                let parent = self.open_dir(&shown, &dir)?;
                let below: Vec<String> = self
                    .names_in(&shown, &parent)?
                    .into_iter()
                    .filter(|n| {
                        let child = if dir.is_empty() {
                            n.clone()
                        } else {
                            format!("{dir}/{n}")
                        };
                        !self.made.contains(&child)
                    })
                    .collect();
                for child in below {
                    self.remove(&shown, &parent, &child)?;
                }
                self.stats.whiteouts += 1;
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                if hidden.is_empty() {
                    return Err(self.refuse(&shown, "a whiteout names nothing"));
                }
                let target = if dir.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{dir}/{hidden}")
                };
                if !self.made.contains(&target) {
                    let parent = self.open_dir(&shown, &dir)?;
                    self.remove(&shown, &parent, hidden)?;
                }
                self.stats.whiteouts += 1;
                continue;
            }

            let header = entry.header();
            let mode = Mode::from_bits_truncate(header.mode().unwrap_or(0o644) & 0o7777);
            let owner = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
            let mtime = header.mtime().unwrap_or(0);
            let kind = header.entry_type();
            let parent = self.open_dir(&shown, &dir)?;
            match kind {
                EntryType::Directory => {
                    match fstatat(parent.as_fd(), name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                        Ok(stat)
                            if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits())
                                == SFlag::S_IFDIR => {}
                        Ok(_) => {
                            self.remove(&shown, &parent, &name)?;
                            mkdirat(parent.as_fd(), name.as_str(), mode)
                                .map_err(self.io(&shown, "make the directory"))?;
                        }
                        Err(_) => {
                            mkdirat(parent.as_fd(), name.as_str(), mode)
                                .map_err(self.io(&shown, "make the directory"))?;
                        }
                    }
                    // The exact mode, whatever the umask.
                    nix::sys::stat::fchmodat(
                        parent.as_fd(),
                        name.as_str(),
                        mode,
                        nix::sys::stat::FchmodatFlags::FollowSymlink,
                    )
                    .map_err(self.io(&shown, "set the directory's mode"))?;
                }
                EntryType::Regular | EntryType::Continuous => {
                    let size = entry.size();
                    if self.stats.bytes + size > self.options.limits.max_bytes {
                        return Err(UnpackError::Limit {
                            layer,
                            entry: shown,
                            cap: Cap::Bytes(self.options.limits.max_bytes),
                        });
                    }
                    self.remove(&shown, &parent, &name)?;
                    let mut file =
                        self.create_file(&shown, &parent, &name, Mode::from_bits_truncate(0o600))?;
                    let written =
                        io::copy(&mut (&mut entry).take(size), &mut file).map_err(|source| {
                            if meter.tripped.get().is_some() {
                                return self.stream_error(meter, &shown, source);
                            }
                            UnpackError::Io {
                                layer,
                                entry: shown.clone(),
                                action: "write the file",
                                source,
                            }
                        })?;
                    self.stats.bytes += written;
                    fchmod(file.as_fd(), mode).map_err(self.io(&shown, "set the file's mode"))?;
                }
                EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| t.into_owned())
                        .ok_or_else(|| self.refuse(&shown, "a symlink without a target"))?;
                    self.remove(&shown, &parent, &name)?;
                    symlinkat(OsStr::from_bytes(&target), parent.as_fd(), name.as_str())
                        .map_err(self.io(&shown, "make the symlink"))?;
                }
                EntryType::Link => {
                    let raw_target = entry
                        .link_name_bytes()
                        .map(|t| t.into_owned())
                        .ok_or_else(|| self.refuse(&shown, "a hard link without a target"))?;
                    let target = match split_path(&raw_target) {
                        Ok(Some((d, n))) if d.is_empty() => n,
                        Ok(Some((d, n))) => format!("{d}/{n}"),
                        Ok(None) => return Err(self.refuse(&shown, "a hard link to the root")),
                        Err(reason) => {
                            return Err(self.refuse(&shown, format!("its link target: {reason}")));
                        }
                    };
                    let how = OpenHow::new()
                        .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
                        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
                    let source = openat2(self.root.as_fd(), target.as_str(), how).map_err(
                        |err| match err {
                            Errno::ENOENT => self.refuse(
                                &shown,
                                format!("it links to `{target}`, which the root does not have"),
                            ),
                            other => self.io(&shown, "open the link's target")(other),
                        },
                    )?;
                    let stat = nix::sys::stat::fstat(source.as_fd())
                        .map_err(self.io(&shown, "inspect the link's target"))?;
                    if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits())
                        != SFlag::S_IFREG
                    {
                        return Err(self.refuse(
                            &shown,
                            format!("it links to `{target}`, which is not a regular file"),
                        ));
                    }
                    self.remove(&shown, &parent, &name)?;
                    // Link the very inode we opened (no second lookup).
                    let by_fd = format!("/proc/self/fd/{}", source.as_raw_fd());
                    linkat(
                        nix::fcntl::AT_FDCWD,
                        by_fd.as_str(),
                        parent.as_fd(),
                        name.as_str(),
                        AtFlags::AT_SYMLINK_FOLLOW,
                    )
                    .map_err(self.io(&shown, "make the hard link"))?;
                }
                // Device nodes and fifos (root file systems as mmdebstrap
                // and debootstrap make them hold /dev/console, /dev/null...)
                // are passed over: the runtime makes the container's /dev,
                // and a device of an image's is no container's to open.
                // What a lower layer had there is gone, as the layer says.
                EntryType::Char | EntryType::Block | EntryType::Fifo => {
                    self.remove(&shown, &parent, &name)?;
                    self.stats.skipped += 1;
                    continue;
                }
                // Extended headers are read by the tar crate itself.
                EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink => continue,
                other => {
                    return Err(self.refuse(
                        &shown,
                        format!("its type ({other:?}) has no place in a layer"),
                    ));
                }
            }
            if !self.options.rootless {
                let shift = |id: u64| {
                    u32::try_from(id)
                        .ok()
                        .and_then(|id| id.checked_add(self.options.owner_offset))
                };
                let (Some(uid), Some(gid)) = (shift(owner.0), shift(owner.1)) else {
                    return Err(self.refuse(
                        &shown,
                        format!(
                            "its owner ({}:{}) is beyond the ids a host has",
                            owner.0, owner.1
                        ),
                    ));
                };
                fchownat(
                    parent.as_fd(),
                    name.as_str(),
                    Some(Uid::from_raw(uid)),
                    Some(Gid::from_raw(gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(self.io(&shown, "set the owner"))?;
                // chown clears set-id bits: put the mode back.
                if matches!(
                    kind,
                    EntryType::Regular | EntryType::Continuous | EntryType::Directory
                ) && mode.bits() & 0o6000 != 0
                {
                    nix::sys::stat::fchmodat(
                        parent.as_fd(),
                        name.as_str(),
                        mode,
                        nix::sys::stat::FchmodatFlags::FollowSymlink,
                    )
                    .map_err(self.io(&shown, "set the mode"))?;
                }
            }
            if kind == EntryType::Directory {
                // Set once the layer is done: making what is inside a
                // directory would change its time again.
                dir_times.push((dir, name, mtime));
            } else {
                let time = TimeSpec::new(mtime as i64, 0);
                utimensat(
                    parent.as_fd(),
                    name.as_str(),
                    &time,
                    &time,
                    UtimensatFlags::NoFollowSymlink,
                )
                .map_err(self.io(&shown, "set the time"))?;
            }
            self.made.insert(path);
        }
        // Deepest first, so setting one cannot disturb another.
        for (dir, name, mtime) in dir_times.into_iter().rev() {
            let shown = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            let parent = self.open_dir(&shown, &dir)?;
            let time = TimeSpec::new(mtime as i64, 0);
            utimensat(
                parent.as_fd(),
                name.as_str(),
                &time,
                &time,
                UtimensatFlags::NoFollowSymlink,
            )
            .map_err(self.io(&shown, "set the time"))?;
        }
        Ok(())
    }

    /// The root being built, opened for changing its own attributes.
    fn root_dir(&self, shown: &str) -> Result<OwnedFd, UnpackError> {
        openat(
            self.root.as_fd(),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(self.io(shown, "open the root"))
    }
}

/// Unpacks an image's layers, bottom first, into `dest`, which must not
/// exist yet. On success `dest` holds the root file system; on any error
/// nothing is left at `dest` or beside it.
pub fn unpack_image(
    layers: Vec<Box<dyn Read + '_>>,
    dest: &Path,
    options: Options,
) -> Result<Report, UnpackError> {
    let destination = |source| UnpackError::Destination {
        path: dest.to_path_buf(),
        source,
    };
    if dest.exists() {
        return Err(destination(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "it already exists: unpack into a new directory",
        )));
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = dest.file_name().ok_or_else(|| {
        destination(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it has no name",
        ))
    })?;
    let scratch = parent.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).map_err(destination)?;
    }
    std::fs::create_dir(&scratch).map_err(destination)?;
    let result = (|| {
        let root = openat(
            nix::fcntl::AT_FDCWD,
            scratch.as_path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| destination(io_err(e)))?;
        let mut unpacker = Unpacker {
            root,
            options,
            stats: Stats::default(),
            layer: 0,
            made: HashSet::new(),
            dir_cache: std::cell::RefCell::new(None),
        };
        let mut report = Report::default();
        let meter = Rc::new(Meter {
            total: Cell::new(0),
            cap: options.limits.max_layer_bytes(),
            budget: Cell::new(None),
            tripped: Cell::new(None),
        });
        for (index, layer) in layers.into_iter().enumerate() {
            unpacker.layer = index + 1;
            unpacker.made.clear();
            unpacker.dir_cache.borrow_mut().take();
            let before = unpacker.stats;
            unpacker.apply_layer(layer, &meter)?;
            report.layers.push(unpacker.stats - before);
        }
        report.total = unpacker.stats;
        Ok(report)
    })();
    match result {
        Ok(report) => {
            std::fs::rename(&scratch, dest).map_err(destination)?;
            Ok(report)
        }
        Err(err) => {
            // std's remove_dir_all does not follow symlinks out of the tree.
            let _ = std::fs::remove_dir_all(&scratch);
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests;
