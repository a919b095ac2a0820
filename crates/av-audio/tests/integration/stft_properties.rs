//! STFT against a naive DFT over a sweep of sizes, and iSTFT(STFT(x)) reconstruction.
//! Tolerances (issue #2): STFT within 1e-5 of the largest magnitude; reconstruction error
//! <= 1e-5 absolute on signals in [-0.6, 0.6].

use crate::common::{noise, signal};
use av_audio::{Istft, PadMode, Stft, StftConfig};
use av_testkit::max_abs_diff;

/// Frame `t` of the centred, reflect-padded, Hann-windowed signal, transformed by the
/// textbook O(n^2) DFT in f64.
fn naive_frame(x: &[f32], cfg: &StftConfig, t: usize) -> Vec<(f64, f64)> {
    let n = cfg.n_fft;
    let p = n / 2;
    let len = x.len() as i64;
    let sample = |i: i64| -> f64 {
        // numpy 'reflect' for a single reflection.
        let j = if i < 0 {
            -i
        } else if i >= len {
            2 * (len - 1) - i
        } else {
            i
        };
        f64::from(x[j as usize])
    };
    let window: Vec<f64> =
        (0..n).map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos()).collect();
    (0..=n / 2)
        .map(|f| {
            (0..n).fold((0.0, 0.0), |(re, im), k| {
                let v = sample((t * cfg.hop_length + k) as i64 - p as i64) * window[k];
                let a = -2.0 * std::f64::consts::PI * (f * k) as f64 / n as f64;
                (re + v * a.cos(), im + v * a.sin())
            })
        })
        .collect()
}

#[test]
fn stft_equals_naive_dft_over_a_sweep_of_sizes() {
    let x = noise(3000, 11);
    for (n_fft, hop) in [(16, 4), (17, 5), (64, 16), (99, 33), (128, 128), (255, 64), (882, 441), (1022, 256)]
    {
        let cfg = StftConfig::new(n_fft, hop);
        let spec = Stft::new(cfg).unwrap().forward(&x).unwrap();
        let frames = [0, spec.n_frames() / 2, spec.n_frames() - 1];
        let mut err: f64 = 0.0;
        let mut peak: f64 = 0.0;
        for &t in &frames {
            for (f, (re, im)) in naive_frame(&x, &cfg, t).into_iter().enumerate() {
                let c = spec.data[[f, t]];
                err = err.max((f64::from(c.re) - re).abs()).max((f64::from(c.im) - im).abs());
                peak = peak.max(re.hypot(im));
            }
        }
        assert!(err <= 1e-5 * peak, "n_fft {n_fft} hop {hop}: error {err} vs peak {peak}");
    }
}

#[test]
fn istft_reconstructs_the_signal() {
    let x = signal("mix8000");
    for (n_fft, hop, win) in
        [(882, 441, 882), (1022, 256, 1022), (512, 128, 400), (256, 64, 256), (255, 60, 255)]
    {
        for pad_mode in [PadMode::Reflect, PadMode::Constant] {
            let cfg = StftConfig { n_fft, hop_length: hop, win_length: win, center: true, pad_mode };
            let spec = Stft::new(cfg).unwrap().forward(&x).unwrap();
            let back = Istft::new(cfg).unwrap().inverse(&spec, Some(x.len())).unwrap();
            let err = max_abs_diff(&back, &x);
            assert!(err <= 1e-5, "n_fft {n_fft} hop {hop} win {win} {pad_mode:?}: {err}");
        }
    }
}

#[test]
fn sound_of_pixels_shapes() {
    let x = noise(65_535, 5);
    let cfg = StftConfig::sound_of_pixels();
    let spec = Stft::new(cfg).unwrap().forward(&x).unwrap();
    assert_eq!(spec.data.dim(), (512, 256));
    let back = Istft::new(cfg).unwrap().inverse(&spec, None).unwrap();
    assert_eq!(back.len(), 65_280);
    assert!(max_abs_diff(&back, &x[..65_280]) <= 1e-5);
    // Resynthesis from magnitude and phase (SoP uses the mixture phase).
    let again = av_audio::Spectrogram::from_polar(&spec.magnitude(), &spec.phase(), cfg).unwrap();
    let back2 = Istft::new(cfg).unwrap().inverse(&again, None).unwrap();
    assert!(max_abs_diff(&back2, &back) <= 1e-5);
}

#[test]
fn istft_rejects_a_spectrogram_of_another_size() {
    let spec = Stft::new(StftConfig::new(64, 16)).unwrap().forward(&noise(500, 1)).unwrap();
    assert!(Istft::new(StftConfig::new(128, 16)).unwrap().inverse(&spec, None).is_err());
}
