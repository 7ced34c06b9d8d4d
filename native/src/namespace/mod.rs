//! Namespaces on a real host: the third noun, for the real engine.
//!
//! [`idmap`] picks the host ids a container's user namespace maps to.

pub mod idmap;

pub use idmap::IdRange;
