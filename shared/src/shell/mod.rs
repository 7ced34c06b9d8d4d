//! The workshop image's shell language, as BusyBox's `ash` reads it: the
//! syntax tree ([`ast`]), the parser with `ash`'s words for mistakes
//! ([`parse`]), `$((...))` ([`arith`]), patterns ([`pattern`]), and what
//! follows a word's expansions: field splitting and globbing ([`fields`]).
//!
//! Pure logic, shared by the simulated kernel's `sh` and the real image's
//! `sh`, so a line means the same on both engines.

pub mod arith;
pub mod ast;
pub mod fields;
pub mod parse;
pub mod pattern;

#[cfg(test)]
mod tests;

pub use parse::{ParseError, Parser, parse};
