//! `anchorage image import|ls|rm|inspect`: the image store on the command
//! line.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anchorage_shared::cgroup::format_size;
use anchorage_shared::cli::format::image_table;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::namespace::idmap;
use crate::tarball::builtin;
use crate::tarball::store::{ImageStore, Removed, StoreError, StoreOptions};
pub use crate::tarball::unpack::Limits;

/// Where Anchorage keeps its data when not told: `/var/lib/anchorage` as
/// root, else `$XDG_DATA_HOME/anchorage` (`~/.local/share/anchorage`).
pub fn default_data_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/anchorage");
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        let xdg = PathBuf::from(xdg);
        if xdg.is_absolute() {
            return xdg.join("anchorage");
        }
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/anchorage"),
        None => std::env::temp_dir().join(format!("anchorage-{}", nix::unistd::geteuid().as_raw())),
    }
}

/// The store in `data_dir`, set up for this user: as root, images are
/// unpacked owned by the containers' id range.
pub fn open_store(data_dir: &Path) -> Result<ImageStore, StoreError> {
    open_store_with(data_dir, Limits::default())
}

/// The store in `data_dir`, taking images up to `limits`.
pub fn open_store_with(data_dir: &Path, limits: Limits) -> Result<ImageStore, StoreError> {
    let root = nix::unistd::geteuid().is_root();
    let owner_offset = if root {
        idmap::for_data_dir(data_dir)
            .map_err(|source| StoreError::DataDir {
                path: data_dir.to_path_buf(),
                source,
            })?
            .first
    } else {
        0
    };
    let store = ImageStore::open(
        data_dir,
        StoreOptions {
            rootless: !root,
            owner_offset,
            limits,
        },
    )?;
    for notice in store.tidy() {
        eprintln!("anchorage: {notice}");
    }
    builtin::ensure_workshop(&store)?;
    Ok(store)
}

fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// `anchorage image import FILE [--name NAME]`.
pub fn import(
    data_dir: &Path,
    file: &Path,
    name: Option<&str>,
    quiet: bool,
    limits: Limits,
) -> anyhow::Result<()> {
    let store = open_store_with(data_dir, limits)?;
    let bar = progress_bar(quiet);
    let imported = store.import(file, name, &bar)?;
    let mut out = io::stdout().lock();
    for image in imported {
        let names = if image.names.is_empty() {
            "<none>".to_string()
        } else {
            image.names.join(", ")
        };
        if image.existed {
            writeln!(out, "{names}: {} (already in the store)", image.id)?;
        } else {
            writeln!(
                out,
                "{names}: {} ({} layer{}, {} unpacked{})",
                image.id,
                image.layers,
                if image.layers == 1 { "" } else { "s" },
                format_size(image.bytes),
                match image.skipped {
                    0 => String::new(),
                    n => format!(
                        "; {n} device node{} and fifo{} passed over: the runtime makes /dev",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "" } else { "s" }
                    ),
                }
            )?;
        }
    }
    Ok(())
}

/// `anchorage image ls [-q]`.
pub fn list(data_dir: &Path, quiet: bool) -> anyhow::Result<()> {
    let store = open_store(data_dir)?;
    let listed = store.list()?;
    let mut out = io::stdout().lock();
    if quiet {
        for l in &listed {
            writeln!(out, "{}", l.image.id.short())?;
        }
        return Ok(());
    }
    let infos: Vec<_> = listed
        .iter()
        .map(|l| l.image.info(l.names.clone()))
        .collect();
    write!(out, "{}", image_table(&infos))?;
    Ok(())
}

/// `anchorage image rm IMAGE...`: each is removed or refused on its own;
/// the exit status says whether all went.
pub fn remove(data_dir: &Path, references: &[String]) -> anyhow::Result<()> {
    let store = open_store(data_dir)?;
    let mut failed = 0;
    for reference in references {
        // The built-in image may lose other names, never its own (nor go
        // by its ID).
        let built_in = store.resolve(reference).is_ok_and(|found| {
            let name = archive_name(reference);
            found.names.iter().any(|n| n == builtin::NAME)
                && (name.as_deref() == Some(builtin::NAME)
                    || name.is_none_or(|n| !found.names.contains(&n)))
        });
        let result = if built_in {
            Err(StoreError::BuiltIn(reference.clone()))
        } else {
            store.remove(reference)
        };
        match result {
            Ok(Removed::Untagged(name)) => println!("Untagged: {name}"),
            Ok(Removed::Deleted { id, names }) => {
                for name in names {
                    println!("Untagged: {name}");
                }
                println!("Deleted: {id}");
            }
            Err(err) => {
                eprintln!("anchorage: {err}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} images could not be removed",
            references.len()
        );
    }
    Ok(())
}

fn archive_name(reference: &str) -> Option<String> {
    crate::tarball::archive::normalize_name(reference).ok()
}

/// `anchorage image inspect IMAGE...`: a JSON array, one object each.
pub fn inspect(data_dir: &Path, references: &[String]) -> anyhow::Result<()> {
    let store = open_store(data_dir)?;
    let mut found = Vec::new();
    for reference in references {
        let listed = store.resolve(reference)?;
        let config: serde_json::Value = serde_json::from_slice(&store.config_json(&listed.image)?)
            .unwrap_or(serde_json::Value::Null);
        let mut value = serde_json::to_value(&listed.image)?;
        let object = value.as_object_mut().expect("records are objects");
        object.insert("names".into(), json!(listed.names));
        object.insert("rootfs".into(), json!(store.rootfs(&listed.image)));
        object.insert("oci_config".into(), config);
        found.push(value);
    }
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(())
}
