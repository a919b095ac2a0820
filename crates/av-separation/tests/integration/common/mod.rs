//! Shared helpers of the av-separation integration tests: synthetic sources and the offline
//! benchmark's separation clips.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::sync::{Arc, OnceLock};

use av_data::Split;
use av_data::bench::{AssetPack, BenchConfig, Generator};
use av_separation::{BenchClips, SOP_CLIP_LEN, SOP_SAMPLE_RATE};

/// A harmonic tone (`harmonics` partials with 1/h amplitudes) with a slow tremolo, peak about
/// `amp`, `SOP_CLIP_LEN` samples at 11 025 Hz.
pub fn tone(f0: f32, harmonics: usize, amp: f32) -> Vec<f32> {
    let norm: f32 = (1..=harmonics).map(|h| 1.0 / h as f32).sum();
    (0..SOP_CLIP_LEN)
        .map(|n| {
            let t = n as f32 / SOP_SAMPLE_RATE as f32;
            let env = 0.75 + 0.25 * (std::f32::consts::TAU * 0.7 * t).sin();
            let s: f32 =
                (1..=harmonics).map(|h| (std::f32::consts::TAU * f0 * h as f32 * t).sin() / h as f32).sum();
            amp * env * s / norm
        })
        .collect()
}

/// The benchmark generator of the separation configuration (seed 3), shared by the tests of
/// one binary.
pub fn generator() -> &'static Generator {
    static GEN: OnceLock<Generator> = OnceLock::new();
    GEN.get_or_init(|| {
        Generator::new(Arc::new(AssetPack::load_default().unwrap()), BenchConfig::separation(3)).unwrap()
    })
}

/// Test-split separation clips of scenes `0..n`.
pub fn test_clips(n: u64) -> BenchClips {
    BenchClips::generate(generator(), Split::Test, 0..n).unwrap()
}
