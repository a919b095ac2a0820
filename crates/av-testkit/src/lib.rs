//! Dev-only helpers shared by the integration tests of av-align's crates (a dev-dependency,
//! never published, depending on no crate of the workspace, so it cannot make a cycle).
//!
//! * [`Fixture`]: a committed safetensors fixture (the reference outputs written by the Python
//!   scripts under `tools/reference/`), read once, with its tensors by key.
//! * [`assert_close`], [`assert_close_to_peak`], [`max_abs_diff`]: tolerant comparisons.
//! * [`tmp_dir`]: a fresh, unique temporary directory; [`write_safetensors`] writes `f32`
//!   tensors.
//! * With the `burn` feature: `Fixture::tensor` builds a Burn tensor, `Fixture::assert_tensor`
//!   checks one against the reference, `to_vec` reads one back, `max_rel_err` compares two
//!   tensors.
//!
//! Each crate keeps its fixtures in its own `tests/fixtures/`; a test names them with its own
//! manifest directory:
//!
//! ```no_run
//! let fx = av_testkit::Fixture::load(env!("CARGO_MANIFEST_DIR"), "alignment");
//! av_testkit::assert_close("pool.sum", fx.values("pool.sum"), fx.values("pool.sum"), 1e-5);
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compare;
mod fixture;
mod fs;
#[cfg(feature = "fuzz")]
pub mod fuzz;

pub use compare::{assert_close, assert_close_to_peak, max_abs_diff};
pub use fixture::Fixture;
pub use fs::{tmp_dir, write_safetensors};

#[cfg(feature = "burn")]
pub use fixture::{max_rel_err, to_vec};
