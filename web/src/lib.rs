//! Anchorage's web UI. It shows a host's containers (each one's image,
//! processes, namespaces and cgroup) from one of two backends, both speaking
//! the engine interface:
//!
//! - **live**: the page came from `anchorage serve`; it connects to `/ws`
//!   and shows the server's engine;
//! - **simulation**: the page was opened as a static site (or the server went
//!   away); it runs the simulated kernel right here in the browser.

mod app;
mod assess;
mod backend;
mod lessons;
mod pty;
mod view;

use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point, called by the page once the module has loaded.
#[wasm_bindgen(start)]
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
