//! The `anchorage` container verbs on a real host: the same verbs, parsed
//! by the same definitions and carried out by the same `Session` as on the
//! simulator, on the real engine.

use std::path::Path;

use anchorage_shared::cli::{Session, Verb};

use crate::engine::RealEngine;
use crate::sim::{Console, WallClock, catch_ctrl_c};

/// Runs one verb; returns the exit status, as Docker's CLI would.
pub fn run(verb: Verb, data_dir: &Path) -> anyhow::Result<i32> {
    let binary = std::env::current_exe().map_err(|e| {
        anyhow::anyhow!("cannot find the anchorage binary to start supervisors: {e}")
    })?;
    let engine = RealEngine::open(data_dir, binary).map_err(|e| anyhow::anyhow!(e))?;
    let interrupted = catch_ctrl_c()?;
    let mut session = Session::new(engine, Box::new(WallClock { interrupted }));
    Ok(session.execute(verb, &mut Console))
}
