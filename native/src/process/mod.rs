//! Processes on a real host: the first noun, for the real engine.
//!
//! - [`console`]: a container's console log on disk, rotated.
//! - [`kernel`]: the seam to the system calls a container's init makes.
//! - [`launch`]: what that init does between `clone` and `execve`.
//! - [`seccomp`]: the system calls a container may make (Docker's default
//!   profile).
//! - [`shim`]: the supervisor that starts a container's init and outlives
//!   the command that asked for it.

pub mod console;
pub mod kernel;
pub mod launch;
pub mod seccomp;
pub mod shim;

/// Whether this process has a single thread (so `fork` without `exec` is
/// safe), from `/proc/self/status`.
pub fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .map(|n| n.trim() == "1")
        })
        .unwrap_or(false)
}
