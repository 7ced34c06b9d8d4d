//! Anchorage's shared core: the model of a container host, the wire protocol,
//! the engine interface and the simulated kernel.
//!
//! *Containers are processes born from tarballs anchored to namespaces
//! controlled by cgroups.* The four nouns of that sentence are the four
//! top-level model modules here ([`process`], [`tarball`], [`namespace`],
//! [`cgroup`]), and again inside the simulated kernel ([`sim`]).
//!
//! Everything in this crate is pure logic: no I/O, no clocks, no threads, so
//! it builds for `wasm32-unknown-unknown` (the browser) and for the host.

pub mod cgroup;
pub mod chunk;
pub mod cli;
pub mod console;
pub mod container;
pub mod delta;
pub mod engine;
pub mod host;
pub mod lessons;
pub mod namespace;
pub mod net;
pub mod plan;
pub mod process;
pub mod protocol;
pub mod readiness;
pub mod shell;
pub mod sim;
pub mod tarball;
pub mod userland;

pub use engine::{Command, Engine, EngineError, Event};
pub use host::{EngineInfo, EngineKind, HostSnapshot};
