//! Embeds the built web UI (the `web-dist` folder that `cargo xtask` writes)
//! into the binary, so `anchorage` needs no files beside it.
//!
//! Without that folder the binary still builds, with no UI: the server then
//! answers every page with a message that says how to build it.
//!
//! It also embeds the workshop image's static userland (`toolbox`, which
//! `cargo xtask` builds into `target/workshop-dist`), from which the real
//! engine makes the built-in `workshop` image. Without it, the binary has
//! no built-in image for real containers, and says so.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=ANCHORAGE_WEB_DIST");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dist = env::var_os("ANCHORAGE_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/web-dist"));
    println!("cargo:rerun-if-changed={}", dist.display());

    let mut files: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(entries) = fs::read_dir(&dist) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                println!("cargo:rerun-if-changed={}", path.display());
                files.push((name, path));
            }
        }
    }
    files.sort();
    if !files.iter().any(|(name, _)| name == "index.html") {
        println!(
            "cargo:warning=no web UI at {}: this build serves no UI. Build with `cargo xtask serve` (or `cargo xtask dist`) to embed it.",
            dist.display()
        );
        files.clear();
    }

    let mut code = String::from(
        "/// The web UI's files: name and contents.\npub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &files {
        let path = path.canonicalize().expect("file exists");
        writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .expect("write to string");
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("web_assets.rs");
    fs::write(out, code).expect("OUT_DIR is writable");

    embed_toolbox(&manifest);
}

fn embed_toolbox(manifest: &std::path::Path) {
    println!("cargo:rerun-if-env-changed=ANCHORAGE_TOOLBOX");
    let toolbox = env::var_os("ANCHORAGE_TOOLBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/workshop-dist/toolbox"));
    println!("cargo:rerun-if-changed={}", toolbox.display());
    let code = match toolbox.canonicalize() {
        Ok(path) if path.is_file() => {
            use sha2::Digest as _;
            let bytes = fs::read(&path).expect("the toolbox is readable");
            let digest: String = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!(
                "/// The workshop image's static userland.\npub static TOOLBOX: Option<&[u8]> = Some(include_bytes!({:?}));\n/// Its SHA-256.\npub const TOOLBOX_SHA256: &str = {digest:?};\n",
                path.display().to_string()
            )
        }
        _ => {
            println!(
                "cargo:warning=no workshop userland at {}: this build has no built-in image for real containers. Build with `cargo xtask serve` (or `cargo xtask dist`) to embed it.",
                toolbox.display()
            );
            "/// The workshop image's static userland: not part of this build.\npub static TOOLBOX: Option<&[u8]> = None;\npub const TOOLBOX_SHA256: &str = \"\";\n".to_string()
        }
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("toolbox.rs");
    fs::write(out, code).expect("OUT_DIR is writable");
}
