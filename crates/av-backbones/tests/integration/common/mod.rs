//! Shared helpers of the av-backbones integration tests: the committed fixtures of
//! `tools/reference/make_backbone_fixtures.py` and `make_crnn_fixtures.py` (read with
//! `av-testkit`) and their weights as a standalone state_dict file.
#![allow(dead_code, missing_docs)]

use std::path::PathBuf;

use av_testkit::{Fixture, tmp_dir};

/// Parity tolerance: max abs error <= `TOL` x max |reference output|.
pub const TOL: f32 = 1e-4;

/// `tests/fixtures/{name}.safetensors`.
pub fn fixture(name: &str) -> Fixture {
    Fixture::load(env!("CARGO_MANIFEST_DIR"), name)
}

/// Writes the `w.*` tensors of `fx` (prefix stripped) as a standalone state_dict file.
pub fn weights_file(fx: &Fixture) -> PathBuf {
    fx.write_stripped("w.", tmp_dir("av-backbones-parity").join(format!("{}.safetensors", fx.name())))
}
