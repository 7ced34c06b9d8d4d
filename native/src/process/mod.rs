//! Processes on a real host: the first noun, for the real engine.
//!
//! - [`kernel`]: the seam to the system calls a container's init makes.
//! - [`launch`]: what that init does between `clone` and `execve`.
//! - [`shim`]: the supervisor that starts a container's init and outlives
//!   the command that asked for it.

pub mod kernel;
pub mod launch;
pub mod shim;
