//! All of this crate's integration tests, linked into one binary (one link instead of one per file:
//! less build time and disk in CI). Each module was its own test file; fixtures stay in `tests/fixtures`.

mod common;
mod fuzz_checkpoints;
mod parity;
mod parity_crnn;
mod parity_efficientnet;
mod upsample;
mod weights_and_checkpoints;
