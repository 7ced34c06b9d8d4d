//! The workshop image's shell language, as BusyBox's `ash` reads it: the
//! syntax tree ([`ast`]), the parser with `ash`'s words for mistakes
//! ([`parse`]), `$((...))` ([`arith`]), patterns ([`pattern`]), and what
//! follows a word's expansions: field splitting and globbing ([`fields`]).
//!
//! Pure logic, shared by the simulated kernel's `sh` and the real image's
//! `sh`, so a line means the same on both engines.

pub mod arith;
pub mod ast;
pub(crate) mod builtins;
pub mod fields;
pub mod invoke;
pub mod os;
pub mod parse;
pub mod pattern;
pub mod run;
pub mod vars;

#[cfg(test)]
mod tests;

pub use parse::{ParseError, Parser, parse};
pub use run::{Flow, Shell, State};

/// Runs a future whose every wait is answered at once (the real system's
/// calls block the thread instead of returning `Pending`): a shell's
/// executor outside the simulated kernel.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
    }
}
