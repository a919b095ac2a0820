//! All of this crate's integration tests, linked into one binary (one link instead of one per file:
//! less build time and disk in CI). Each module was its own test file; fixtures stay in `tests/fixtures`.

mod batch_norm_parity;
mod burn_parity;
mod image_keys;
mod max_pool_parity;
mod soft_masked_mean_parity;
mod upper_state;
