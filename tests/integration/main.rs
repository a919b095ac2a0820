//! All of this crate's integration tests, linked into one binary (one link instead of one per file:
//! less build time and disk in CI). Each module was its own test file; fixtures stay in `tests/fixtures`.
//! `tests/learning.rs` is its own binary: its thresholds need a model initialised by the CPU
//! backend's one random generator with no other test drawing from it at the same time.

mod bad_inputs;
mod common;
mod inference;
mod model;
mod pretrained_visual;
