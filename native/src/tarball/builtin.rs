//! The built-in `workshop` image, for real containers: the simulated
//! kernel's workshop image (the same directories, `/etc` files, symlinks
//! and config, from `anchorage_shared::sim::tarball::workshop_image`) with
//! the real static userland (`toolbox`, from the `workshop` crate,
//! embedded at build time) in place of the simulation's stand-in. So a
//! lesson's commands exist, and print alike, on both engines.
//!
//! The layers are written deterministically (fixed times, root owners),
//! so one `toolbox` always gives one image ID.

use anchorage_shared::sim::tarball::{IMAGE_EPOCH, MULTI_CALL_BINARY, workshop_image};
use anchorage_shared::tarball::{Digest, EntryKind};
use serde_json::json;

use super::archive::{self, Source};
use super::store::{ImageStore, Imported, StoreError};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/toolbox.rs"));
}

/// The embedded userland, if this build has one.
pub fn toolbox() -> Option<&'static [u8]> {
    generated::TOOLBOX
}

/// The name the built-in image goes by.
pub const NAME: &str = "workshop:latest";

/// What a build without the userland says when asked for the image.
pub const NO_TOOLBOX: &str = "this anchorage was built without the workshop image's userland, so it has no built-in image for real containers: build it with `cargo xtask serve` or `cargo xtask dist`, or import an image with `anchorage image import`";

/// The image's layers, as uncompressed tars, and its OCI config.
pub fn layers_and_config(toolbox: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let image = workshop_image();
    let mut tars = Vec::new();
    for (index, layer) in image.layers.iter().enumerate() {
        let mut builder = tar::Builder::new(Vec::new());
        let dir = |builder: &mut tar::Builder<Vec<u8>>, path: &str| {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_mtime(IMAGE_EPOCH);
            header.set_size(0);
            builder
                .append_data(&mut header, path, &[][..])
                .expect("writing a tar to memory cannot fail");
        };
        // The root (the first layer makes it), and every parent directory
        // a layer writes into, with the image's time, as image builders
        // write them: unpacked, no directory carries the time of the
        // import.
        if index == 0 {
            dir(&mut builder, "./");
        }
        let own: std::collections::BTreeSet<&str> = layer
            .entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Dir))
            .map(|e| e.path.as_str())
            .collect();
        let mut parents = std::collections::BTreeSet::new();
        for entry in &layer.entries {
            let mut parent = entry.path.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                if !own.contains(up) {
                    parents.insert(up.to_string());
                }
                parent = up;
            }
        }
        for parent in &parents {
            dir(&mut builder, parent);
        }
        for entry in &layer.entries {
            let mut header = tar::Header::new_ustar();
            header.set_mode(entry.mode);
            header.set_uid(u64::from(entry.uid));
            header.set_gid(u64::from(entry.gid));
            header.set_mtime(IMAGE_EPOCH);
            let written = match &entry.kind {
                EntryKind::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    builder.append_data(&mut header, &entry.path, &[][..])
                }
                EntryKind::File { contents } => {
                    let contents: &[u8] = if entry.path == MULTI_CALL_BINARY {
                        toolbox
                    } else {
                        contents
                    };
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(contents.len() as u64);
                    builder.append_data(&mut header, &entry.path, contents)
                }
                EntryKind::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, &entry.path, target)
                }
                EntryKind::Hardlink { target } => {
                    header.set_entry_type(tar::EntryType::Link);
                    header.set_size(0);
                    builder.append_link(&mut header, &entry.path, target)
                }
            };
            written.expect("writing a tar to memory cannot fail");
        }
        tars.push(
            builder
                .into_inner()
                .expect("writing a tar to memory cannot fail"),
        );
    }
    let diff_ids: Vec<Digest> = tars.iter().map(|t| Digest::sha256(t)).collect();
    let run = &image.config;
    let mut config = json!({
        "Env": run.env,
        "Cmd": run.cmd,
        "WorkingDir": run.working_dir,
    });
    if !run.entrypoint.is_empty() {
        config["Entrypoint"] = json!(run.entrypoint);
    }
    let config = json!({
        "architecture": archive::host_architecture(),
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": [
            { "created": "2026-01-01T00:00:00Z", "created_by": "anchorage: the workshop image's directories and userland" },
            { "created": "2026-01-01T00:00:00Z", "created_by": "anchorage: /etc" },
        ],
    });
    (
        tars,
        serde_json::to_vec(&config).expect("configs always encode"),
    )
}

/// Puts the built-in image in the store if it is not there (or is from
/// another build); `None` when this build has no userland to make it from.
pub fn ensure_workshop(store: &ImageStore) -> Result<Option<Imported>, StoreError> {
    let Some(toolbox) = toolbox() else {
        return Ok(None);
    };
    // Fast path, for every command: the store notes which userland (by
    // its digest, known at build time) its built-in image was made from.
    let marker = store.data_dir().join("images").join("workshop.builtin");
    if let Ok(noted) = std::fs::read_to_string(&marker)
        && let Some((digest, id)) = noted.trim().split_once(' ')
        && digest == generated::TOOLBOX_SHA256
        && let Ok(found) = store.resolve(NAME)
        && found.image.id.0 == id
    {
        return Ok(Some(Imported {
            id: found.image.id.clone(),
            names: found.names,
            existed: true,
            layers: found.image.layers.len(),
            bytes: found.image.bytes,
            skipped: 0,
        }));
    }
    let (layers, config) = layers_and_config(toolbox);
    let id = Digest::sha256(&config);
    let imported = match store.resolve(NAME) {
        Ok(found) if found.image.id == id => Imported {
            id: id.clone(),
            names: found.names,
            existed: true,
            layers: found.image.layers.len(),
            bytes: found.image.bytes,
            skipped: 0,
        },
        _ => {
            let source = Source::in_memory(
                "the built-in workshop image",
                vec![NAME.to_string()],
                config,
                layers,
            );
            store.ensure(source)?
        }
    };
    let _ = super::store::write_atomically(
        &marker,
        format!("{} {}\n", generated::TOOLBOX_SHA256, imported.id).as_bytes(),
    );
    Ok(Some(imported))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_holds_every_workshop_command_and_the_given_userland() {
        let (layers, config) = layers_and_config(b"\x7fELF fake toolbox");
        let again = layers_and_config(b"\x7fELF fake toolbox");
        assert_eq!(config, again.1, "deterministic");
        let other = layers_and_config(b"\x7fELF another build");
        assert_ne!(Digest::sha256(&config), Digest::sha256(&other.1));

        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(
            dir.path(),
            super::super::store::StoreOptions {
                rootless: !nix::unistd::geteuid().is_root(),
                ..Default::default()
            },
        )
        .unwrap();
        let source = Source::in_memory("test", vec![NAME.into()], config.clone(), layers);
        let imported = store.ensure(source).unwrap();
        assert_eq!(imported.id, Digest::sha256(&config));
        let listed = store.resolve("workshop").unwrap();
        let root = store.rootfs(&listed.image);
        assert_eq!(
            std::fs::read(root.join("bin/toolbox")).unwrap(),
            b"\x7fELF fake toolbox"
        );
        for command in anchorage_shared::sim::tarball::WORKSHOP_COMMANDS {
            assert_eq!(
                std::fs::read_link(root.join("bin").join(command)).unwrap(),
                std::path::Path::new("toolbox"),
                "{command}"
            );
        }
        assert!(
            std::fs::read_to_string(root.join("etc/passwd"))
                .unwrap()
                .starts_with("root:x:0:0")
        );
        let meta = std::fs::metadata(root.join("tmp")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o7777, 0o1777);
        assert_eq!(listed.image.config.cmd, ["sh"]);
        assert_eq!(listed.image.format, "built in");
    }
}
