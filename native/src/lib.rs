//! The `anchorage` binary's library: the web UI embedded in the binary, the
//! static-site export, the server that streams an engine's state over
//! websockets, the simulated host's terminal, and the real engine's parts
//! (so far: cgroups and safe layer unpacking).

pub mod assess;
pub mod assets;
pub mod cgroup;
pub mod cli;
pub mod engine;
pub mod images;
pub mod namespace;
pub mod process;
pub mod server;
pub mod sim;
pub mod site;
pub mod tarball;
