//! The `anchorage` binary's library: the web UI embedded in the binary, the
//! static-site export, and the server that streams an engine's state over
//! websockets.

pub mod assets;
pub mod server;
pub mod sim;
pub mod site;
