//! Unpacking layers: the change-set rules, and a corpus of malicious
//! archives, each refused (or confined) without touching anything outside
//! the root and without leaving anything behind.

use std::fs;
use std::io::Cursor;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;

/// A layer under construction. Entries are written with raw headers, so
/// the corpus can hold what a well-behaved archiver would refuse to write.
#[derive(Default)]
struct Layer {
    builder: Option<tar::Builder<Vec<u8>>>,
}

impl Layer {
    fn new() -> Layer {
        Layer {
            builder: Some(tar::Builder::new(Vec::new())),
        }
    }

    fn raw(mut self, path: &str, kind: EntryType, link: &str, data: &[u8], mode: u32) -> Layer {
        let mut header = tar::Header::new_gnu();
        let name = &mut header.as_gnu_mut().unwrap().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_mtime(1_767_225_600);
        if !link.is_empty() {
            header.set_link_name_literal(link).unwrap();
        }
        header.set_cksum();
        self.builder
            .as_mut()
            .unwrap()
            .append(&header, data)
            .unwrap();
        self
    }

    fn file(self, path: &str, data: &str) -> Layer {
        self.raw(path, EntryType::Regular, "", data.as_bytes(), 0o644)
    }

    fn dir(self, path: &str) -> Layer {
        self.raw(path, EntryType::Directory, "", b"", 0o755)
    }

    fn symlink(self, path: &str, target: &str) -> Layer {
        self.raw(path, EntryType::Symlink, target, b"", 0o777)
    }

    fn hardlink(self, path: &str, target: &str) -> Layer {
        self.raw(path, EntryType::Link, target, b"", 0o644)
    }

    fn bytes(mut self) -> Vec<u8> {
        self.builder.take().unwrap().into_inner().unwrap()
    }
}

fn as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn options() -> Options {
    Options {
        limits: Limits::default(),
        rootless: !as_root(),
        owner_offset: 0,
    }
}

fn unpack(layers: Vec<Vec<u8>>, dest: &Path, options: Options) -> Result<Stats, UnpackError> {
    let readers: Vec<Box<dyn Read>> = layers
        .into_iter()
        .map(|b| Box::new(Cursor::new(b)) as Box<dyn Read>)
        .collect();
    unpack_image(readers, dest, options).map(|report| report.total)
}

/// A scratch area: `root` will be unpacked into, `outside` holds a file
/// that must never change.
struct Scene {
    _dir: tempfile::TempDir,
    base: std::path::PathBuf,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    let outside = base.join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("sentinel"), "untouched").unwrap();
    Scene {
        root: base.join("rootfs"),
        outside,
        base,
        _dir: dir,
    }
}

impl Scene {
    /// Nothing outside the root changed, and a refused image left nothing.
    fn assert_clean(&self, refused: bool) {
        let names: Vec<String> = fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["sentinel"], "nothing appeared outside the root");
        assert_eq!(
            fs::read_to_string(self.outside.join("sentinel")).unwrap(),
            "untouched"
        );
        if refused {
            let left: Vec<String> = fs::read_dir(&self.base)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(left, ["outside"], "a refused image leaves no trace");
        }
    }
}

#[test]
fn layers_apply_in_order_with_whiteouts_and_opaque_directories() {
    let s = scene();
    let base = Layer::new()
        .dir("etc")
        .file("etc/motd", "hello")
        .file("etc/hosts", "127.0.0.1 localhost")
        .dir("var/cache")
        .file("var/cache/a", "a")
        .file("var/cache/b", "b")
        .raw("bin/tool", EntryType::Regular, "", b"#!/bin/sh\n", 0o755)
        .symlink("bin/sh", "tool")
        .hardlink("bin/tool2", "bin/tool")
        .raw("run/pipe", EntryType::Fifo, "", b"", 0o600)
        .bytes();
    let top = Layer::new()
        .file("etc/.wh.motd", "")
        .file("var/cache/new", "kept")
        .file("var/cache/.wh..wh..opq", "")
        .file("etc/hosts", "replaced")
        .bytes();
    let stats = unpack(vec![base, top], &s.root, options()).unwrap();
    assert_eq!(stats.whiteouts, 2);
    let r = &s.root;
    assert!(!r.join("etc/motd").exists(), "the whiteout deleted it");
    assert_eq!(fs::read_to_string(r.join("etc/hosts")).unwrap(), "replaced");
    let cache: Vec<String> = fs::read_dir(r.join("var/cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        cache,
        ["new"],
        "opaque: the lower files are gone, this layer's stay"
    );
    let tool = fs::metadata(r.join("bin/tool")).unwrap();
    assert_eq!(tool.permissions().mode() & 0o777, 0o755);
    assert_eq!(tool.mtime(), 1_767_225_600);
    assert_eq!(fs::read_link(r.join("bin/sh")).unwrap(), Path::new("tool"));
    assert_eq!(fs::metadata(r.join("bin/tool2")).unwrap().ino(), tool.ino());
    s.assert_clean(false);
}

#[test]
fn paths_that_climb_out_are_refused_and_leave_nothing() {
    let corpus: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        (
            "dot-dot",
            vec![Layer::new().file("../outside/pwned", "x").bytes()],
            "`..`",
        ),
        (
            "dot-dot inside",
            vec![Layer::new().file("etc/../../outside/pwned", "x").bytes()],
            "`..`",
        ),
        (
            "absolute",
            vec![Layer::new().file("/etc/pwned", "x").bytes()],
            "absolute",
        ),
        (
            "hard link out",
            vec![Layer::new().hardlink("h", "../outside/sentinel").bytes()],
            "`..`",
        ),
        (
            "hard link absolute",
            vec![Layer::new().hardlink("h", "/etc/passwd").bytes()],
            "absolute",
        ),
        (
            "hard link to a directory",
            vec![Layer::new().dir("d").hardlink("h", "d").bytes()],
            "not a regular file",
        ),
    ];
    for (what, layers, expect) in corpus {
        let s = scene();
        let err = unpack(layers, &s.root, options()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(expect), "{what}: {text}");
        assert!(
            text.contains("entry `"),
            "{what}: the error names the entry: {text}"
        );
        s.assert_clean(true);
    }
}

#[test]
fn symlinks_resolve_inside_the_root_even_across_layers() {
    let s = scene();
    let outside = s.outside.to_string_lossy().into_owned();
    // A symlink that climbs, then a file through it: it lands in the root.
    let climbing = Layer::new()
        .symlink("up", "../../../../..")
        .file("up/etc/landed", "inside")
        .bytes();
    // An earlier layer's absolute symlink to the real outside directory,
    // and a later layer writing through it: resolved in the root, where
    // that directory does not exist, so it is refused.
    let first = Layer::new().symlink("escape", &outside).bytes();
    let second = Layer::new().file("escape/pwned", "x").bytes();
    unpack(vec![climbing], &s.root, options()).unwrap();
    assert_eq!(
        fs::read_to_string(s.root.join("etc/landed")).unwrap(),
        "inside"
    );
    s.assert_clean(false);

    let s = scene();
    let outside = s.outside.to_string_lossy().into_owned();
    let first_again = Layer::new().symlink("escape", &outside).bytes();
    let err = unpack(vec![first_again, second.clone()], &s.root, options()).unwrap_err();
    assert!(
        err.to_string().contains("layer 2, entry `escape/pwned`"),
        "{err}"
    );
    s.assert_clean(true);
    drop(first);

    // A hard link through a symlink that points out is resolved in the root
    // too: the root has no such file, so it is refused.
    let s = scene();
    let sentinel_dir = s.outside.to_string_lossy().into_owned();
    let layer = Layer::new()
        .symlink("s", &sentinel_dir)
        .hardlink("h", "s/sentinel")
        .bytes();
    let err = unpack(vec![layer], &s.root, options()).unwrap_err();
    assert!(
        err.to_string().contains("which the root does not have"),
        "{err}"
    );
    s.assert_clean(true);
}

#[test]
fn tar_bombs_hit_the_limits() {
    let s = scene();
    let mut many = Layer::new();
    for i in 0..20 {
        many = many.file(&format!("f{i}"), "x");
    }
    let limits = Limits {
        max_entries: 10,
        max_bytes: 1 << 20,
    };
    let err = unpack(
        vec![many.bytes()],
        &s.root,
        Options {
            limits,
            rootless: !as_root(),
            owner_offset: 0,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("more than 10 entries"), "{err}");
    assert!(err.to_string().contains("--max-image-entries"), "{err}");
    s.assert_clean(true);

    let s = scene();
    let big = Layer::new().file("big", &"x".repeat(4096)).bytes();
    let limits = Limits {
        max_entries: 10,
        max_bytes: 1024,
    };
    let err = unpack(
        vec![big],
        &s.root,
        Options {
            limits,
            rootless: !as_root(),
            owner_offset: 0,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("more than 1KiB of files"), "{err}");
    assert!(err.to_string().contains("--max-image-size"), "{err}");
    s.assert_clean(true);
}

#[test]
fn headers_and_data_no_entry_claims_are_bounded_too() {
    // A PAX record of 2 MiB: the tar reader would hold it whole.
    let s = scene();
    let mut pax = Layer::new();
    pax = pax.raw(
        "PaxHeaders/x",
        EntryType::XHeader,
        "",
        &vec![b'x'; 2 << 20],
        0o644,
    );
    let layer = pax.file("after", "x").bytes();
    let err = unpack(vec![layer], &s.root, options()).unwrap_err();
    assert!(err.to_string().contains("run past 1024 KiB"), "{err}");
    s.assert_clean(true);

    // A symlink carrying 3 MiB of data nobody reads, under a 1 MiB image
    // cap: the stream itself is capped.
    let s = scene();
    let layer = Layer::new()
        .raw(
            "s",
            EntryType::Symlink,
            "target",
            &vec![0u8; 3 << 20],
            0o777,
        )
        .bytes();
    let limits = Limits {
        max_entries: 10,
        max_bytes: 1 << 20,
    };
    let small = Options {
        limits: Limits {
            max_entries: 1,
            ..limits
        },
        ..options()
    };
    assert!(small.limits.max_layer_bytes() < 3 << 20);
    let err = unpack(vec![layer], &s.root, small).unwrap_err();
    assert!(err.to_string().contains("--max-image-size"), "{err}");
    s.assert_clean(true);
}

#[test]
fn a_damaged_archive_or_an_existing_destination_is_refused() {
    let s = scene();
    let mut bytes = Layer::new().file("a", "hello").bytes();
    bytes.truncate(700);
    let err = unpack(vec![bytes], &s.root, options()).unwrap_err();
    assert!(err.to_string().contains("layer 1"), "{err}");
    s.assert_clean(true);

    let s = scene();
    fs::create_dir(&s.root).unwrap();
    let err = unpack(
        vec![Layer::new().file("a", "x").bytes()],
        &s.root,
        options(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[test]
fn owners_are_kept_as_root_and_devices_and_fifos_passed_over() {
    // As root file systems made by mmdebstrap or debootstrap hold them:
    // the runtime makes /dev, so they are passed over, and counted.
    for rootless in [true, false] {
        if !rootless && !as_root() {
            continue;
        }
        let s = scene();
        let lower = Layer::new()
            .dir("dev")
            .file("dev/console", "was a file")
            .bytes();
        let layer = Layer::new()
            .raw("dev/console", EntryType::Char, "", b"", 0o600)
            .raw("dev/sda", EntryType::Block, "", b"", 0o600)
            .raw("run/initctl", EntryType::Fifo, "", b"", 0o600)
            .file("etc/kept", "x")
            .bytes();
        let stats = unpack(
            vec![lower, layer],
            &s.root,
            Options {
                limits: Limits::default(),
                rootless,
                owner_offset: 0,
            },
        )
        .unwrap();
        assert_eq!(stats.skipped, 3);
        assert!(s.root.join("etc/kept").exists());
        for gone in ["dev/console", "dev/sda", "run/initctl"] {
            assert!(
                fs::symlink_metadata(s.root.join(gone)).is_err(),
                "{gone} is not there (what a lower layer had went too)"
            );
        }
    }
    if as_root() {
        let s = scene();
        let mut layer = Layer::new();
        let mut header = tar::Header::new_gnu();
        header.set_path("owned").unwrap();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(0o4755);
        header.set_uid(1234);
        header.set_gid(5678);
        header.set_size(1);
        header.set_cksum();
        layer
            .builder
            .as_mut()
            .unwrap()
            .append(&header, &b"x"[..])
            .unwrap();
        let bytes = layer.bytes();
        unpack(vec![bytes.clone()], &s.root, options()).unwrap();
        let meta = fs::metadata(s.root.join("owned")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1234, 5678));
        assert_eq!(
            meta.permissions().mode() & 0o7777,
            0o4755,
            "set-uid survives chown"
        );

        // Shifted into a user namespace's range.
        let s = scene();
        let shifted = Options {
            owner_offset: 100_000,
            ..options()
        };
        unpack(vec![bytes], &s.root, shifted).unwrap();
        let meta = fs::metadata(s.root.join("owned")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (101_234, 105_678));
    }
}
