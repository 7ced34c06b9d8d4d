//! Namespaces on a real host: the third noun, for the real engine.
//!
//! [`idmap`] picks the host ids a container's user namespace maps to;
//! [`mounts`] makes mounts as descriptors (detached copies, id-mapped
//! trees, an overlay with no mount point) for a container's mount
//! namespace.

pub mod idmap;
pub mod mounts;

pub use idmap::IdRange;
