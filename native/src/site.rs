//! `anchorage export-site DIR`: the browser-only site, for any static host or
//! for opening straight from disk. It runs the simulated kernel in the page.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::assets;

/// Why an export failed. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "this anchorage binary was built without its web UI, so there is nothing to export: build it with `cargo xtask dist` first"
    )]
    NoUi,
    #[error(
        "{0} is not empty and holds files an Anchorage site does not ({1}): choose a new or empty folder, so nothing of yours is overwritten"
    )]
    NotOurs(PathBuf, String),
    #[error("{0} exists and is not a folder: choose a folder path")]
    NotADir(PathBuf),
    #[error("could not write {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// The files an export writes, by name, with their contents.
fn site_files() -> Result<Vec<(String, Vec<u8>)>, ExportError> {
    let index = assets::static_index().ok_or(ExportError::NoUi)?;
    let mut files = vec![("index.html".to_string(), index.into_bytes())];
    for asset in assets::all() {
        if asset.name == "index.html" {
            continue;
        }
        files.push((asset.name.to_string(), asset.bytes.to_vec()));
        if asset.name.ends_with("_bg.wasm") {
            // Browsers refuse fetch() from file:// pages, so the module also
            // travels inside a classic script.
            let encoded = base64::engine::general_purpose::STANDARD.encode(asset.bytes);
            files.push((
                assets::INLINE_WASM_SCRIPT.to_string(),
                format!("window.ANCHORAGE_WASM = \"{encoded}\";\n").into_bytes(),
            ));
        }
    }
    Ok(files)
}

/// Writes the site into `dir`, creating it if needed. Refuses a folder that
/// holds anything else, and writes each file whole (temp file, then rename).
pub fn export(dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let files = site_files()?;
    if dir.exists() {
        if !dir.is_dir() {
            return Err(ExportError::NotADir(dir.to_path_buf()));
        }
        let foreign: Vec<String> = fs::read_dir(dir)
            .map_err(|err| ExportError::Io(dir.to_path_buf(), err))?
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| !files.iter().any(|(ours, _)| ours == name))
            .collect();
        if !foreign.is_empty() {
            let mut listed = foreign;
            listed.sort();
            listed.truncate(5);
            return Err(ExportError::NotOurs(dir.to_path_buf(), listed.join(", ")));
        }
    } else {
        fs::create_dir_all(dir).map_err(|err| ExportError::Io(dir.to_path_buf(), err))?;
    }
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let result = fs::File::create(&tmp)
            .and_then(|mut file| file.write_all(&bytes).and_then(|()| file.sync_all()))
            .and_then(|()| fs::rename(&tmp, &path));
        if let Err(err) = result {
            let _ = fs::remove_file(&tmp);
            return Err(ExportError::Io(path, err));
        }
        written.push(path);
    }
    Ok(written)
}
