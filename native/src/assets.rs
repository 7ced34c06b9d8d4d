//! The web UI, embedded at build time (see `build.rs`).

mod generated {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// The page marker the web app reads to choose its mode.
const MODE_STATIC: &str = r#"<meta name="anchorage-mode" content="static">"#;
const MODE_LIVE: &str = r#"<meta name="anchorage-mode" content="live">"#;
/// Where the exported site's inline wasm script goes.
const INLINE_WASM_SLOT: &str = "<!-- anchorage:inline-wasm -->";
/// The script that carries the wasm module for `file://` pages.
pub const INLINE_WASM_SCRIPT: &str = "anchorage_web_wasm.js";

/// One embedded file.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    pub name: &'static str,
    pub bytes: &'static [u8],
}

impl Asset {
    /// The `Content-Type` to serve it with.
    pub fn content_type(&self) -> &'static str {
        content_type(self.name)
    }
}

pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Every embedded file.
pub fn all() -> impl Iterator<Item = Asset> {
    generated::FILES
        .iter()
        .map(|(name, bytes)| Asset { name, bytes })
}

/// One embedded file by name.
pub fn get(name: &str) -> Option<Asset> {
    all().find(|asset| asset.name == name)
}

/// Whether this binary was built with its web UI.
pub fn has_ui() -> bool {
    get("index.html").is_some()
}

/// The page as the server sends it: marked live, so the app connects back.
pub fn live_index() -> Option<String> {
    let index = get("index.html")?;
    let text = String::from_utf8_lossy(index.bytes);
    Some(text.replace(MODE_STATIC, MODE_LIVE))
}

/// The page as the exported site has it: static, with the wasm module
/// carried by a script so the page also works when opened from disk.
pub fn static_index() -> Option<String> {
    let index = get("index.html")?;
    let text = String::from_utf8_lossy(index.bytes);
    Some(text.replace(
        INLINE_WASM_SLOT,
        &format!(r#"<script src="{INLINE_WASM_SCRIPT}"></script>"#),
    ))
}

/// The message every page gets from a binary built without its UI.
pub const NO_UI_MESSAGE: &str = "This anchorage binary was built without its web UI.\n\
Build it with `cargo xtask serve` (or `cargo xtask dist` and then `cargo build -p anchorage`), \
which compiles the UI to WebAssembly and embeds it.\n";
