//! The image store, fed archives of every format built here byte by byte.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anchorage_shared::tarball::Digest;
use indicatif::ProgressBar;
use serde_json::json;

use super::*;

/// A layer tarball, made in memory.
#[derive(Default)]
struct Layer(Vec<(String, tar::EntryType, Vec<u8>, String)>);

impl Layer {
    fn dir(mut self, path: &str) -> Self {
        self.0.push((
            path.into(),
            tar::EntryType::Directory,
            vec![],
            String::new(),
        ));
        self
    }
    fn file(mut self, path: &str, contents: &str) -> Self {
        self.0.push((
            path.into(),
            tar::EntryType::Regular,
            contents.as_bytes().to_vec(),
            String::new(),
        ));
        self
    }
    fn symlink(mut self, path: &str, target: &str) -> Self {
        self.0
            .push((path.into(), tar::EntryType::Symlink, vec![], target.into()));
        self
    }
    fn tar(&self) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, contents, target) in &self.0 {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(if *kind == tar::EntryType::Directory {
                0o755
            } else {
                0o644
            });
            header.set_size(contents.len() as u64);
            header.set_mtime(1_700_000_000);
            if *kind == tar::EntryType::Symlink {
                header.set_link_name(target).unwrap();
            }
            // Raw names, so hostile ones (`../x`) get in as they are.
            let name = header.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, contents.as_slice()).unwrap();
        }
        builder.into_inner().unwrap()
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 1).unwrap()
}

fn hex(digest: &Digest) -> &str {
    &digest.0[7..]
}

/// A config for these uncompressed layers.
fn config(layers: &[Vec<u8>], cmd: &[&str]) -> Vec<u8> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::sha256(l)).collect();
    serde_json::to_vec(&json!({
        "architecture": archive::host_architecture(),
        "os": "linux",
        "created": "2026-01-02T03:04:05Z",
        "config": { "Cmd": cmd, "Env": ["PATH=/bin"], "WorkingDir": "/srv", "User": "0" },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))
    .unwrap()
}

/// The base image's layers: a small tree, then a layer that deletes one
/// file and makes one directory opaque.
fn layers() -> Vec<Vec<u8>> {
    vec![
        Layer::default()
            .dir("bin")
            .file("bin/hello", "hello v1")
            .dir("etc")
            .file("etc/motd", "welcome")
            .dir("var/cache")
            .file("var/cache/old", "stale")
            .tar(),
        Layer::default()
            .file("etc/.wh.motd", "")
            .file("var/cache/.wh..wh..opq", "")
            .file("var/cache/new", "fresh")
            .tar(),
        Layer::default()
            .file("bin/hello", "hello v2")
            .symlink("bin/greet", "hello")
            .tar(),
    ]
}

/// An OCI layout in `dir`: layers as given (already compressed or not),
/// with their uncompressed tars for the config.
fn oci_layout(dir: &Path, blobs: &[Vec<u8>], tars: &[Vec<u8>], ref_name: &str) -> Digest {
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let put = |bytes: &[u8]| {
        let digest = Digest::sha256(bytes);
        fs::write(dir.join("blobs/sha256").join(hex(&digest)), bytes).unwrap();
        digest
    };
    let config = config(tars, &["/bin/hello"]);
    let config_digest = put(&config);
    let layers: Vec<_> = blobs
        .iter()
        .map(|b| {
            json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": put(b),
                "size": b.len(),
            })
        })
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": layers,
    }))
    .unwrap();
    let manifest_digest = put(&manifest);
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest.len(),
                "annotations": { "org.opencontainers.image.ref.name": ref_name },
            }],
        }))
        .unwrap(),
    )
    .unwrap();
    config_digest
}

/// A tar of a directory's files, members named relative to it.
fn tar_of(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_dir_all(".", dir).unwrap();
    builder.into_inner().unwrap()
}

/// A legacy `docker save` archive: `<id>/layer.tar`, `<digest>.json`, and
/// a manifest; the last layer repeats the first as a symlink, as Docker
/// writes shared layers.
fn docker_save_legacy(tars: &[Vec<u8>], tags: &[&str]) -> (Vec<u8>, Digest) {
    let mut builder = tar::Builder::new(Vec::new());
    let add = |builder: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, bytes).unwrap();
    };
    let mut names = Vec::new();
    let mut all = tars.to_vec();
    all.push(tars[0].clone());
    for (i, layer) in all.iter().enumerate() {
        let id = format!("{:064x}", i + 1);
        if i == tars.len() {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder
                .append_link(
                    &mut header,
                    format!("{id}/layer.tar"),
                    format!("../{:064x}/layer.tar", 1),
                )
                .unwrap();
        } else {
            add(&mut builder, &format!("{id}/layer.tar"), layer);
        }
        names.push(format!("{id}/layer.tar"));
    }
    let config = config(&all, &["/bin/hello"]);
    let digest = Digest::sha256(&config);
    add(&mut builder, &format!("{}.json", hex(&digest)), &config);
    let manifest =
        json!([{ "Config": format!("{}.json", hex(&digest)), "RepoTags": tags, "Layers": names }]);
    add(
        &mut builder,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    (builder.into_inner().unwrap(), digest)
}

struct Fixture {
    dir: tempfile::TempDir,
    store: ImageStore,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(
            &dir.path().join("data"),
            StoreOptions {
                rootless: !nix::unistd::geteuid().is_root(),
                ..StoreOptions::default()
            },
        )
        .unwrap();
        Fixture { dir, store }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    fn import(&self, path: &Path, name: Option<&str>) -> Result<Vec<Imported>, StoreError> {
        self.store.import(path, name, &ProgressBar::hidden())
    }

    /// The store holds exactly these names, and nothing is left in tmp.
    fn assert_holds(&self, names: &[&str]) {
        let listed = self.store.list().unwrap();
        let mut all: Vec<String> = listed.iter().flat_map(|l| l.names.clone()).collect();
        all.sort();
        assert_eq!(all, names);
        let left: Vec<_> = fs::read_dir(self.store.data_dir().join("tmp"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "scratch left behind: {left:?}");
    }

    fn read(&self, image: &str, path: &str) -> String {
        let listed = self.store.resolve(image).unwrap();
        fs::read_to_string(self.store.rootfs(&listed.image).join(path)).unwrap()
    }

    fn exists(&self, image: &str, path: &str) -> bool {
        let listed = self.store.resolve(image).unwrap();
        fs::symlink_metadata(self.store.rootfs(&listed.image).join(path)).is_ok()
    }
}

/// What every import of [`layers`] must give.
fn assert_base_image(f: &Fixture, name: &str) {
    assert_eq!(f.read(name, "bin/hello"), "hello v2");
    assert_eq!(f.read(name, "bin/greet"), "hello v2");
    assert!(!f.exists(name, "etc/motd"), "the whiteout deleted it");
    assert!(f.exists(name, "etc"));
    assert!(!f.exists(name, "var/cache/old"), "the opaque marker hid it");
    assert_eq!(f.read(name, "var/cache/new"), "fresh");
    let listed = f.store.resolve(name).unwrap();
    assert_eq!(listed.image.config.cmd, ["/bin/hello"]);
    assert_eq!(listed.image.config.working_dir, "/srv");
    assert_eq!(listed.image.user, "0");
    let config = f.store.config_json(&listed.image).unwrap();
    assert_eq!(
        Digest::sha256(&config),
        listed.image.id,
        "the ID is the config's digest"
    );
}

#[test]
fn an_oci_layout_with_gzip_zstd_and_plain_layers_is_applied_in_order() {
    let f = Fixture::new();
    let tars = layers();
    let blobs = vec![gzip(&tars[0]), zstd(&tars[1]), tars[2].clone()];
    let id = oci_layout(&f.path("layout"), &blobs, &tars, "base:1.0");
    let imported = f.import(&f.path("layout"), None).unwrap();
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0].id, id);
    assert_eq!(imported[0].names, ["base:1.0"]);
    assert!(!imported[0].existed);
    assert_base_image(&f, "base:1.0");
    let image = f.store.resolve("base:1.0").unwrap().image;
    let compressions: Vec<_> = image
        .layers
        .iter()
        .map(|l| l.compression.as_str())
        .collect();
    assert_eq!(compressions, ["tar+gzip", "tar+zstd", "tar"]);
    assert_eq!(image.layers[0].entries, 6);
    assert_eq!(image.layers[2].bytes, 8);
    assert_eq!(image.layers[1].diff_id, Digest::sha256(&tars[1]));
    assert_eq!(image.format, "OCI image layout");
    f.assert_holds(&["base:1.0"]);

    // Again: the same config is the same image, nothing unpacked.
    let again = f.import(&f.path("layout"), Some("other")).unwrap();
    assert!(again[0].existed);
    f.assert_holds(&["base:1.0", "other:latest"]);
}

#[test]
fn an_oci_layout_in_a_tar_compressed_or_not_imports_the_same() {
    let f = Fixture::new();
    let tars = layers();
    let blobs: Vec<_> = tars.iter().map(|t| gzip(t)).collect();
    let id = oci_layout(&f.path("layout"), &blobs, &tars, "base");
    let tar = tar_of(&f.path("layout"));
    let plain = f.write("base.oci.tar", &tar);
    let imported = f.import(&plain, None).unwrap();
    assert_eq!(
        (imported[0].id.clone(), imported[0].names.clone()),
        (id.clone(), vec!["base:latest".into()])
    );
    assert_base_image(&f, "base");
    assert_eq!(
        f.store.resolve("base").unwrap().image.format,
        "OCI image layout (tar)"
    );
    f.store.remove("base").unwrap();

    let zipped = f.write("base.oci.tar.gz", &gzip(&tar));
    let imported = f.import(&zipped, None).unwrap();
    assert_eq!(imported[0].id, id);
    assert_base_image(&f, "base");
    f.assert_holds(&["base:latest"]);
}

#[test]
fn a_legacy_docker_save_archive_with_a_repeated_layer() {
    let f = Fixture::new();
    let tars = layers();
    let (archive, id) = docker_save_legacy(&tars, &["docker.io/library/base:2", "base:two"]);
    let path = f.write("base.tar", &archive);
    let imported = f.import(&path, None).unwrap();
    assert_eq!(imported[0].id, id);
    assert_eq!(imported[0].layers, 4);
    // The repeated first layer brings back what the second deleted.
    assert_eq!(f.read("base:2", "etc/motd"), "welcome");
    assert_eq!(f.read("base:two", "bin/hello"), "hello v1");
    assert_eq!(
        f.store.resolve("base:2").unwrap().image.format,
        "docker save archive"
    );
    f.assert_holds(&["base:2", "base:two"]);
}

#[test]
fn a_docker_25_archive_uses_its_manifest_and_checks_blob_names() {
    let f = Fixture::new();
    let tars = layers();
    let layout = f.path("layout");
    let id = oci_layout(&layout, &tars, &tars, "ignored");
    let layer_names: Vec<String> = tars
        .iter()
        .map(|t| format!("blobs/sha256/{}", hex(&Digest::sha256(t))))
        .collect();
    let manifest = json!([{
        "Config": format!("blobs/sha256/{}", hex(&id)),
        "RepoTags": ["base:25"],
        "Layers": layer_names,
    }]);
    fs::write(
        layout.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let path = f.write("d25.tar", &tar_of(&layout));
    let imported = f.import(&path, None).unwrap();
    assert_eq!(
        (imported[0].id.clone(), imported[0].names.clone()),
        (id, vec!["base:25".into()])
    );
    assert_base_image(&f, "base:25");
    let image = f.store.resolve("base:25").unwrap().image;
    assert!(
        image.layers.iter().all(|l| l.digest.is_some()),
        "blob digests checked"
    );
}

#[test]
fn root_file_system_tarballs_get_one_id_whatever_the_compression() {
    let f = Fixture::new();
    let tar = Layer::default()
        .dir("bin")
        .file("bin/tool", "#!/bin/sh\n")
        .tar();
    let mut ids = Vec::new();
    for (name, bytes) in [
        ("rootfs.tar", tar.clone()),
        ("rootfs.tar.gz", gzip(&tar)),
        ("rootfs.tar.zst", zstd(&tar)),
    ] {
        let imported = f.import(&f.write(name, &bytes), None).unwrap();
        assert_eq!(imported[0].names, ["rootfs:latest"], "named after the file");
        ids.push(imported[0].id.clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let image = f.store.resolve("rootfs").unwrap().image;
    assert_eq!(image.layers[0].diff_id, Digest::sha256(&tar));
    assert!(
        image.config.cmd.is_empty(),
        "a root file system says nothing to run"
    );
    assert_eq!(image.format, "root file system tarball");
    assert_eq!(f.read("rootfs", "bin/tool"), "#!/bin/sh\n");
    f.assert_holds(&["rootfs:latest"]);
}

#[test]
fn an_altered_blob_is_refused_and_leaves_the_store_as_it_was() {
    let f = Fixture::new();
    f.import(
        &f.write("keep.tar", &Layer::default().file("a", "a").tar()),
        None,
    )
    .unwrap();
    let tars = layers();
    let layout = f.path("layout");
    oci_layout(&layout, &tars, &tars, "base");
    // Flip a byte of the second layer's blob (a file's contents).
    let blob = layout
        .join("blobs/sha256")
        .join(hex(&Digest::sha256(&tars[1])));
    let mut bytes = fs::read(&blob).unwrap();
    let at = bytes.windows(5).position(|w| w == b"fresh").unwrap();
    bytes[at] = b'F';
    fs::write(&blob, &bytes).unwrap();
    let err = f.import(&layout, None).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, StoreError::Mismatch { layer: 2, .. }),
        "{text}"
    );
    assert!(
        text.contains("does not match its digest") && text.contains("refused"),
        "{text}"
    );
    f.assert_holds(&["keep:latest"]);
}

#[test]
fn a_config_that_lies_about_a_layer_is_refused() {
    let f = Fixture::new();
    let tars = layers();
    let lying = vec![
        tars[0].clone(),
        tars[1].clone(),
        Layer::default().file("x", "x").tar(),
    ];
    let (archive, _) = docker_save_legacy(&tars, &["base"]);
    // Same archive, but the config's diff IDs describe other layers.
    let (other, _) = docker_save_legacy(&lying, &["base"]);
    let mut a = tar::Archive::new(&archive[..]);
    let mut b = tar::Archive::new(&other[..]);
    let config_of = |a: &mut tar::Archive<&[u8]>| {
        a.entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| {
                e.path().unwrap().to_string_lossy().ends_with(".json")
                    && !e.path().unwrap().to_string_lossy().contains("manifest")
            })
            .map(|mut e| {
                let mut s = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut s).unwrap();
                (e.path().unwrap().to_string_lossy().into_owned(), s)
            })
            .unwrap()
    };
    let (_, lying_config) = config_of(&mut b);
    let (name, _) = config_of(&mut a);
    // Rebuild: the true layers, the lying config, named by its own digest.
    let mut builder = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(&archive[..]);
    let lying_name = format!("{}.json", hex(&Digest::sha256(&lying_config)));
    for entry in a.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        let mut header = entry.header().clone();
        let (path, bytes) = if path == name {
            (lying_name.clone(), lying_config.clone())
        } else if path == "manifest.json" {
            let text = String::from_utf8(bytes)
                .unwrap()
                .replace(&name, &lying_name);
            (path, text.into_bytes())
        } else {
            (path, bytes)
        };
        header.set_size(bytes.len() as u64);
        if header.entry_type() == tar::EntryType::Symlink {
            let target = entry.link_name().unwrap().unwrap().into_owned();
            builder.append_link(&mut header, &path, target).unwrap();
        } else {
            builder.append_data(&mut header, &path, &bytes[..]).unwrap();
        }
    }
    let path = f.write("lying.tar", &builder.into_inner().unwrap());
    let err = f.import(&path, None).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, StoreError::Mismatch { layer: 3, .. }),
        "{text}"
    );
    assert!(text.contains("uncompressed tar"), "{text}");
    f.assert_holds(&[]);
}

#[test]
fn a_hostile_layer_is_refused_naming_its_entry_and_nothing_escapes() {
    let f = Fixture::new();
    let evil = Layer::default().file("../../escaped", "gotcha").tar();
    let tars = vec![layers()[0].clone(), evil];
    oci_layout(&f.path("layout"), &tars, &tars, "evil");
    let err = f.import(&f.path("layout"), None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("layer 2") && text.contains("../../escaped"),
        "{text}"
    );
    assert!(!f.dir.path().join("escaped").exists());
    assert!(!f.store.data_dir().join("escaped").exists());
    f.assert_holds(&[]);
}

#[test]
fn missing_blobs_and_things_that_are_not_images_are_named() {
    let f = Fixture::new();
    let tars = layers();
    let layout = f.path("layout");
    oci_layout(&layout, &tars, &tars, "base");
    fs::remove_file(
        layout
            .join("blobs/sha256")
            .join(hex(&Digest::sha256(&tars[2]))),
    )
    .unwrap();
    let err = f.import(&layout, None).unwrap_err().to_string();
    assert!(
        err.contains("is missing") && err.contains(hex(&Digest::sha256(&tars[2]))),
        "{err}"
    );

    let cases: Vec<(PathBuf, &str)> = vec![
        (f.write("notes.txt", &[b'x'; 2000]), "not a tar archive"),
        (f.write("empty.tar", &[0; 1024]), "empty archive"),
        (f.write("img.tar.xz", b"\xfd7zXZ\0\0\0"), "xz -d"),
        (
            {
                fs::create_dir(f.path("plain-dir")).unwrap();
                f.path("plain-dir")
            },
            "without an `oci-layout`",
        ),
        (f.path("no-such-file.tar"), "cannot read"),
    ];
    for (path, expected) in cases {
        let err = f.import(&path, None).unwrap_err().to_string();
        assert!(err.contains(expected), "{}: {err}", path.display());
    }
    // An image archive without its manifest.
    let only_blob = tar_of(&{
        let d = f.path("blobs-only");
        fs::create_dir_all(d.join("blobs/sha256")).unwrap();
        fs::write(d.join("blobs/sha256/00"), b"x").unwrap();
        fs::write(d.join("oci-layout"), b"{}").unwrap();
        d
    });
    let err = f
        .import(&f.write("blobs-only.tar.gz", &gzip(&only_blob)), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("neither a `manifest.json`"), "{err}");
    f.assert_holds(&[]);
}

#[test]
fn names_are_checked_and_one_name_fits_one_image() {
    let f = Fixture::new();
    let tar = f.write("a.tar", &Layer::default().file("a", "a").tar());
    let err = f.import(&tar, Some("Bad Name")).unwrap_err().to_string();
    assert!(err.contains("is not an image name"), "{err}");
    // Two images in one docker save archive.
    let (one, _) = docker_save_legacy(&layers(), &["x"]);
    let manifests: Vec<serde_json::Value> = {
        let mut a = tar::Archive::new(&one[..]);
        let mut entry = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().unwrap().to_string_lossy() == "manifest.json")
            .unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut entry, &mut s).unwrap();
        serde_json::from_str(&s).unwrap()
    };
    let with_manifests = |manifests: &[serde_json::Value]| {
        let mut builder = tar::Builder::new(Vec::new());
        let mut a = tar::Archive::new(&one[..]);
        for entry in a.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut header = entry.header().clone();
            if path == "manifest.json" {
                let bytes = serde_json::to_vec(manifests).unwrap();
                header.set_size(bytes.len() as u64);
                builder.append_data(&mut header, &path, &bytes[..]).unwrap();
            } else if header.entry_type() == tar::EntryType::Symlink {
                let target = entry.link_name().unwrap().unwrap().into_owned();
                builder.append_link(&mut header, &path, target).unwrap();
            } else {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
                builder.append_data(&mut header, &path, &bytes[..]).unwrap();
            }
        }
        builder.into_inner().unwrap()
    };
    let mut second = manifests[0].clone();
    second["RepoTags"] = json!(["y:1"]);
    let two = f.write(
        "two.tar",
        &with_manifests(&[manifests[0].clone(), second.clone()]),
    );
    let err = f.import(&two, Some("z")).unwrap_err().to_string();
    assert!(err.contains("holds 2 images"), "{err}");
    f.assert_holds(&[]);
    let imported = f.import(&two, None).unwrap();
    assert_eq!(imported.len(), 2);
    assert!(imported[1].existed, "the same config twice is one image");
    f.assert_holds(&["x:latest", "y:1"]);

    // A manifest whose layer count disagrees with its config: refused
    // before anything is unpacked.
    second["RepoTags"] = json!(["short:1"]);
    second["Layers"] = json!([manifests[0]["Layers"][0]]);
    let short = f.write("short.tar", &with_manifests(&[second]));
    let err = f.import(&short, None).unwrap_err().to_string();
    assert!(
        err.contains("lists 4 layer digests but the manifest has 1"),
        "{err}"
    );
    f.assert_holds(&["x:latest", "y:1"]);
}

#[test]
fn removing_untags_first_and_deletes_with_the_last_name_or_the_id() {
    let f = Fixture::new();
    let a = f.write("a.tar", &Layer::default().file("a", "a").tar());
    let b = f.write("b.tar", &Layer::default().file("b", "b").tar());
    let id_a = f.import(&a, Some("app:1")).unwrap()[0].id.clone();
    f.import(&a, Some("app:2")).unwrap();
    let id_b = f.import(&b, None).unwrap()[0].id.clone();
    assert_eq!(
        f.store.remove("app:1").unwrap(),
        Removed::Untagged("app:1".into())
    );
    assert!(matches!(f.store.remove("app:2").unwrap(), Removed::Deleted { id, .. } if id == id_a));
    assert!(!f.store.data_dir().join("images").join(hex(&id_a)).exists());
    // By an ID prefix.
    let removed = f.store.remove(&hex(&id_b)[..8]).unwrap();
    assert_eq!(
        removed,
        Removed::Deleted {
            id: id_b,
            names: vec!["b:latest".into()]
        }
    );
    let err = f.store.remove("app:1").unwrap_err().to_string();
    assert!(
        err.contains("no image is called `app:1`") && err.contains("image ls"),
        "{err}"
    );
    f.assert_holds(&[]);
}

#[test]
fn what_an_interrupted_import_left_is_cleared_by_the_next() {
    let f = Fixture::new();
    let tmp = f.store.data_dir().join("tmp");
    fs::create_dir_all(tmp.join("import-1-2/0/rootfs/bin")).unwrap();
    fs::write(tmp.join("import-1-2/0/rootfs/bin/half"), b"half").unwrap();
    // A read-only directory, as a rootless unpack of an image can leave.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        tmp.join("import-1-2/0/rootfs/bin"),
        fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    let listed_before = f.store.list().unwrap();
    assert!(listed_before.is_empty(), "scratch is never listed");
    f.import(
        &f.write("a.tar", &Layer::default().file("a", "a").tar()),
        None,
    )
    .unwrap();
    f.assert_holds(&["a:latest"]);
}

#[test]
fn a_multi_platform_index_gives_this_hosts_image() {
    let f = Fixture::new();
    let tars = layers();
    let layout = f.path("layout");
    oci_layout(&layout, &tars, &tars, "base");
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let mut ours = index["manifests"][0].clone();
    ours["platform"] = json!({ "architecture": archive::host_architecture(), "os": "linux" });
    let mut theirs = ours.clone();
    theirs["platform"] = json!({ "architecture": "mips64le", "os": "linux" });
    let write_index = |manifests: Vec<serde_json::Value>| {
        let nested =
            serde_json::to_vec(&json!({ "schemaVersion": 2, "manifests": manifests })).unwrap();
        let digest = Digest::sha256(&nested);
        fs::write(layout.join("blobs/sha256").join(hex(&digest)), &nested).unwrap();
        fs::write(
            layout.join("index.json"),
            serde_json::to_vec(&json!({ "schemaVersion": 2, "manifests": [{
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": digest,
                "size": nested.len(),
                "annotations": { "org.opencontainers.image.ref.name": "multi:1" },
            }]}))
            .unwrap(),
        )
        .unwrap();
    };
    write_index(vec![theirs.clone(), ours]);
    f.import(&layout, None).unwrap();
    assert_base_image(&f, "multi:1");
    write_index(vec![theirs]);
    let err = f.import(&layout, None).unwrap_err().to_string();
    assert!(
        err.contains("no image for linux/") && err.contains("linux/mips64le"),
        "{err}"
    );
}

#[test]
fn listing_shows_names_and_sizes_as_the_snapshot_does() {
    let f = Fixture::new();
    let tars = layers();
    oci_layout(&f.path("layout"), &tars, &tars, "base");
    f.import(&f.path("layout"), None).unwrap();
    let listed = f.store.list().unwrap();
    let info = listed[0].image.info(listed[0].names.clone());
    assert_eq!(info.names, ["base:latest"]);
    assert_eq!(info.layers.len(), 3);
    let sizes: BTreeMap<_, _> = info
        .layers
        .iter()
        .map(|l| (l.digest.clone(), l.size))
        .collect();
    assert_eq!(sizes[&Digest::sha256(&tars[0])], 8 + 7 + 5);
}
