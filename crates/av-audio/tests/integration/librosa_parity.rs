//! av-audio against librosa 0.11 (`pad_mode='reflect'`, float64 references).
//!
//! Fixtures: `tests/fixtures/librosa_reference.safetensors`, written by
//! `python3 tools/reference/make_audio_fixtures.py` (pins in `tools/reference/requirements.txt`).
//! Tolerances (issue #2): log-mel max abs error <= 1e-4 in the log domain; STFT magnitudes
//! <= 1e-5 relative to the largest magnitude; iSTFT <= 1e-5 absolute; filterbanks <= 1e-6
//! relative to the largest weight; warp <= 1e-5 absolute.

use crate::common::{fixtures, signal};
use av_audio::{
    FreqWarp, Istft, LogMelConfig, LogMelExtractor, MelConfig, MelFilterbank, MelNorm, MelScale, Stft,
    StftConfig,
};
use av_testkit::max_abs_diff;
use ndarray::Array2;

#[test]
fn mel_filterbanks_match_librosa() {
    let fx = fixtures();
    let cases = [
        ("mel/slaney_paper", MelConfig::paper()),
        (
            "mel/htk_16k_512_40_nonorm",
            MelConfig {
                sample_rate: 16_000,
                n_fft: 512,
                n_mels: 40,
                fmin: 20.0,
                fmax: Some(7600.0),
                scale: MelScale::Htk,
                norm: MelNorm::None,
            },
        ),
        (
            "mel/slaney_11k_1022_32_band",
            MelConfig {
                sample_rate: 11_025,
                n_fft: 1022,
                n_mels: 32,
                fmin: 100.0,
                fmax: Some(5000.0),
                ..MelConfig::paper()
            },
        ),
    ];
    for (key, config) in cases {
        let (shape, expected) = fx.get(key).clone();
        let dense = MelFilterbank::new(config).unwrap().to_dense();
        assert_eq!(shape, vec![dense.nrows(), dense.ncols()], "{key}");
        let ours: Vec<f32> = dense.iter().map(|&v| v as f32).collect();
        let peak = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = max_abs_diff(&ours, &expected) / peak;
        assert!(err <= 1e-6, "{key}: relative error {err}");
    }
}

#[test]
fn logmel_matches_librosa() {
    let fx = fixtures();
    let extractor = LogMelExtractor::new(LogMelConfig::paper()).unwrap();
    for name in ["chirp5s", "noise5s", "silence5s", "tones_odd", "noise_short", "quiet_chirp"] {
        let (shape, expected) = fx.get(&format!("logmel/{name}")).clone();
        let ours = extractor.compute(&signal(name)).unwrap();
        assert_eq!(shape, vec![ours.nrows(), ours.ncols()], "{name}");
        let err = max_abs_diff(ours.as_slice().unwrap(), &expected);
        println!("log-mel {name}: shape {shape:?}, max abs error {err:.3e}");
        assert!(err <= 1e-4, "{name}: max abs error {err}");
    }
}

#[test]
fn five_second_clip_gives_251_frames() {
    let extractor = LogMelExtractor::new(LogMelConfig::paper()).unwrap();
    assert_eq!(extractor.compute(&signal("chirp5s")).unwrap().dim(), (251, 64));
}

#[test]
fn stft_matches_librosa() {
    let fx = fixtures();
    let x = signal("mix8000");
    for (n_fft, hop) in [(882, 441), (1022, 256)] {
        let key = format!("stft/mix8000_{n_fft}_{hop}");
        let (shape, pairs) = fx.get(&key).clone();
        let spec = Stft::new(StftConfig::new(n_fft, hop)).unwrap().forward(&x).unwrap();
        assert_eq!(shape, vec![spec.data.nrows(), spec.data.ncols(), 2], "{key}");
        let expected_mag: Vec<f32> = pairs.chunks_exact(2).map(|p| p[0].hypot(p[1])).collect();
        let expected_cplx: Vec<f32> = pairs.clone();
        let ours_mag: Vec<f32> = spec.magnitude().iter().copied().collect();
        let ours_cplx: Vec<f32> = spec.data.iter().flat_map(|c| [c.re, c.im]).collect();
        let peak = expected_mag.iter().fold(0.0f32, |m, v| m.max(*v));
        let mag_err = max_abs_diff(&ours_mag, &expected_mag) / peak;
        let cplx_err = max_abs_diff(&ours_cplx, &expected_cplx) / peak;
        println!("{key}: relative magnitude error {mag_err:.3e}, complex {cplx_err:.3e}");
        assert!(mag_err <= 1e-5, "{key}: {mag_err}");
        assert!(cplx_err <= 1e-5, "{key}: {cplx_err}");
    }
}

#[test]
fn istft_matches_librosa() {
    let fx = fixtures();
    let x = signal("mix8000");
    for (n_fft, hop) in [(882, 441), (1022, 256)] {
        let config = StftConfig::new(n_fft, hop);
        let spec = Stft::new(config).unwrap().forward(&x).unwrap();
        let istft = Istft::new(config).unwrap();
        for (suffix, length) in [("", None), ("_len8000", Some(8000)), ("_len7000", Some(7000))] {
            let key = format!("istft/mix8000_{n_fft}_{hop}{suffix}");
            let (shape, expected) = fx.get(&key).clone();
            let ours = istft.inverse(&spec, length).unwrap();
            assert_eq!(shape, vec![ours.len()], "{key}");
            let err = max_abs_diff(&ours, &expected);
            println!("{key}: max abs error {err:.3e}");
            assert!(err <= 1e-5, "{key}: {err}");
        }
    }
}

#[test]
fn log_frequency_warp_matches_grid_sample() {
    let fx = fixtures();
    let to_array =
        |(shape, v): (Vec<usize>, Vec<f32>)| Array2::from_shape_vec((shape[0], shape[1]), v).unwrap();
    let input = to_array(fx.get("warp/input_512x8").clone());
    let warped = FreqWarp::sound_of_pixels().apply(&input, None).unwrap();
    let expected = to_array(fx.get("warp/warped_256x8").clone());
    let err = max_abs_diff(warped.as_slice().unwrap(), expected.as_slice().unwrap());
    println!("warp: max abs error {err:.3e}");
    assert!(err <= 1e-5, "warp: {err}");

    let mask = input.slice(ndarray::s![..256, ..]).to_owned();
    let unwarped = FreqWarp::sound_of_pixels_inverse().apply(&mask, None).unwrap();
    let expected = to_array(fx.get("warp/unwarped_512x8").clone());
    let err = max_abs_diff(unwarped.as_slice().unwrap(), expected.as_slice().unwrap());
    println!("unwarp: max abs error {err:.3e}");
    assert!(err <= 1e-5, "unwarp: {err}");
}
