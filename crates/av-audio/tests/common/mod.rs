//! Shared helpers of the av-audio integration tests: the Rust twins of
//! `tools/reference/signals.py` and a reader for the committed safetensors fixtures.
#![allow(dead_code, missing_docs)]

use std::f64::consts::PI;

use safetensors::SafeTensors;

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

/// The committed librosa fixtures.
pub struct Fixtures {
    bytes: Vec<u8>,
}

impl Fixtures {
    pub fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/librosa_reference.safetensors");
        Self { bytes: std::fs::read(path).expect("fixture file is committed") }
    }

    /// A float32 tensor: (shape, row-major values).
    pub fn get(&self, key: &str) -> (Vec<usize>, Vec<f32>) {
        let st = SafeTensors::deserialize(&self.bytes).expect("valid safetensors");
        let view = st.tensor(key).unwrap_or_else(|e| panic!("fixture {key}: {e}"));
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "{key}");
        let values =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        (view.shape().to_vec(), values)
    }
}

/// Max |a - b| over two equal-length slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
