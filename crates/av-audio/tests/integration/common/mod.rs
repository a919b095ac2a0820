//! Shared helpers of the av-audio integration tests: the Rust twins of
//! `tools/reference/signals.py` and the committed librosa fixtures (read with `av-testkit`).
#![allow(dead_code, missing_docs)]

use std::f64::consts::PI;

use av_testkit::Fixture;

pub const SR: usize = 22_050;

/// xorshift64* uniforms in [0, 1), identical to `signals.py:xorshift_uniform`.
pub fn xorshift_uniform(n: usize, seed: u64) -> Vec<f64> {
    let mut state = if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed };
    (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            (v >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

pub fn chirp(n: usize, amp: f64) -> Vec<f32> {
    let (f0, f1) = (50.0, 8000.0);
    let dur = n as f64 / SR as f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / SR as f64;
            (amp * (2.0 * PI * (f0 * t + (f1 - f0) / (2.0 * dur) * t * t)).sin()) as f32
        })
        .collect()
}

pub fn noise(n: usize, seed: u64) -> Vec<f32> {
    xorshift_uniform(n, seed).into_iter().map(|u| ((u - 0.5) * 0.2) as f32).collect()
}

pub fn tones(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f64 / SR as f64;
            let env = 0.5 * (1.0 - (2.0 * PI * i as f64 / n as f64).cos());
            (env * (0.6 * (2.0 * PI * 440.0 * t).sin() + 0.2 * (2.0 * PI * 3000.0 * t).sin())) as f32
        })
        .collect()
}

/// The named signals of `signals.py:signal`.
pub fn signal(name: &str) -> Vec<f32> {
    let five_s = 5 * SR;
    match name {
        "chirp5s" => chirp(five_s, 0.5),
        "noise5s" => noise(five_s, 1),
        "silence5s" => vec![0.0; five_s],
        "tones_odd" => tones(33_333),
        "noise_short" => noise(500, 2),
        "quiet_chirp" => chirp(five_s, 0.5).into_iter().map(|x| x * 1e-4).collect(),
        "mix8000" => tones(8000).into_iter().zip(noise(8000, 3)).map(|(a, b)| a + b).collect(),
        other => panic!("unknown test signal {other}"),
    }
}

/// The committed librosa fixtures, `tests/fixtures/librosa_reference.safetensors`.
pub fn fixtures() -> Fixture {
    Fixture::load(env!("CARGO_MANIFEST_DIR"), "librosa_reference")
}
