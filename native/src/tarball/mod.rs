//! Tarballs on a real host: the second noun, for the real engine.
//!
//! [`unpack`] turns an image's layer tarballs into a root file system
//! without ever touching anything outside it: every path is resolved inside
//! the root by the kernel (`openat2` with `RESOLVE_IN_ROOT`), so `..`,
//! absolute symlinks and symlinks that earlier layers left all stay inside.

pub mod archive;
pub mod builtin;
pub mod digest;
pub mod store;
pub mod unpack;

pub use store::{ImageStore, StoreError, StoreOptions, StoredImage};
pub use unpack::{Limits, Options, Report, Stats, UnpackError, unpack_image};
