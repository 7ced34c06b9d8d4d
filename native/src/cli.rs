//! The `anchorage` container verbs on a real host: the same verbs, parsed
//! by the same definitions and carried out by the same `Session` as on the
//! simulator, on the real engine.

use std::path::Path;

use std::sync::atomic::{AtomicBool, Ordering};

use anchorage_shared::cli::{Pace, Session, Verb};

use crate::engine::RealEngine;
use crate::sim::Console;

/// Set by SIGINT (Ctrl-C) while a verb runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// The real host's pace: no pause of its own, as the engine's `advance`
/// waits for something to happen (or a short while); Ctrl-C stops a wait.
/// A plain signal handler, no thread: the engine may then start a
/// container's supervisor by `fork` alone, without re-executing itself.
struct HostClock;

impl Pace for HostClock {
    fn pause(&mut self, _ms: u64) {}

    fn interrupted(&mut self) -> bool {
        INTERRUPTED.swap(false, Ordering::SeqCst)
    }

    fn real_time(&self) -> bool {
        true
    }
}

/// Runs one verb; returns the exit status, as Docker's CLI would.
pub fn run(verb: Verb, data_dir: &Path) -> anyhow::Result<i32> {
    let binary = std::env::current_exe().map_err(|e| {
        anyhow::anyhow!("cannot find the anchorage binary to start supervisors: {e}")
    })?;
    let engine = RealEngine::open(data_dir, binary).map_err(|e| anyhow::anyhow!(e))?;
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_interrupt),
        nix::sys::signal::SaFlags::SA_RESTART,
        nix::sys::signal::SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic.
    unsafe { nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGINT, &action) }
        .map_err(|e| anyhow::anyhow!("cannot catch Ctrl-C: {}", e.desc()))?;
    let mut session = Session::new(engine, Box::new(HostClock));
    Ok(session.execute(verb, &mut Console))
}
