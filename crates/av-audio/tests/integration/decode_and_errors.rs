//! Decoding every supported container, and a typed error (never a panic) for every kind of bad
//! input named in issue #2: missing file, corrupt or truncated file, unsupported codec,
//! zero-length audio, NaN/inf samples, sample rate 0, clip shorter than one frame.
//!
//! The encoded files under `tests/fixtures/codecs/` are 0.5 s synthetic stereo tones (440 Hz
//! left, 660 Hz right, amplitude 1/16) written by `bash tools/reference/make_codec_fixtures.sh`.

use std::path::{Path, PathBuf};

use av_audio::{
    Audio, AudioError, ClipPolicy, LogMelConfig, LogMelExtractor, MelConfig, MelFilterbank, Stft, StftConfig,
    fit_clip, load_mono, prepare_files, resample, write_wav_f32,
};

fn codec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codecs").join(name)
}

/// `name` in a fresh temporary directory.
fn tmp(name: &str) -> PathBuf {
    av_testkit::tmp_dir("av-audio-tests").join(name)
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// Amplitude of the `freq` Hz component (single-bin DFT over the middle of the signal).
fn tone_amplitude(x: &[f32], sr: u32, freq: f64) -> f64 {
    let mid = &x[x.len() / 4..3 * x.len() / 4];
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(sr);
    let (re, im) = mid.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, &v)| {
        (re + f64::from(v) * (w * n as f64).cos(), im - f64::from(v) * (w * n as f64).sin())
    });
    2.0 * (re * re + im * im).sqrt() / mid.len() as f64
}

#[test]
fn every_container_decodes_to_the_same_mono_mix() {
    for name in ["tone.flac", "tone.ogg", "tone.mp3", "tone.m4a"] {
        let audio = load_mono(codec(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(audio.sample_rate, 44_100, "{name}");
        // 0.5 s; lossy codecs may add or drop an encoder delay of up to a few frames.
        let n = audio.samples.len() as i64;
        assert!((n - 22_050).abs() <= 2_200, "{name}: {n} samples");
        // Mono = mean of the channels: each tone at 1/16 becomes 1/32.
        for f in [440.0, 660.0] {
            let a = tone_amplitude(&audio.samples, audio.sample_rate, f);
            assert!((a - 1.0 / 32.0).abs() < 0.004, "{name}: {f} Hz amplitude {a}");
        }
        assert!(tone_amplitude(&audio.samples, audio.sample_rate, 1000.0) < 0.002, "{name}");
        assert!((rms(&audio.samples) - 1.0 / 32.0).abs() < 0.004, "{name}");
    }
}

#[test]
fn wav_is_mixed_down_exactly() {
    let path = tmp("stereo16.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..1000i32 {
        w.write_sample((i * 10) as i16).unwrap();
        w.write_sample((-i * 6) as i16).unwrap();
    }
    w.finalize().unwrap();
    let audio = load_mono(&path).unwrap();
    assert_eq!(audio.sample_rate, 16_000);
    assert_eq!(audio.samples.len(), 1000);
    for (i, &s) in audio.samples.iter().enumerate() {
        let expected = (i as f32 * 10.0 - i as f32 * 6.0) / 2.0 / 32768.0;
        assert!((s - expected).abs() < 1e-6, "sample {i}: {s} vs {expected}");
    }
}

#[test]
fn float_wav_round_trips() {
    let path = tmp("roundtrip.wav");
    let audio = Audio::new((0..500).map(|i| (i as f32 * 0.01).sin() * 0.3).collect(), 22_050).unwrap();
    write_wav_f32(&path, &audio).unwrap();
    assert_eq!(load_mono(&path).unwrap(), audio);
}

#[test]
fn resampling_keeps_the_tone_and_sets_the_length() {
    let audio = load_mono(codec("tone.flac")).unwrap();
    let out = resample(&audio.samples, 44_100, 22_050).unwrap();
    assert_eq!(out.len(), audio.samples.len().div_ceil(2));
    for f in [440.0, 660.0] {
        let a = tone_amplitude(&out, 22_050, f);
        assert!((a - 1.0 / 32.0).abs() < 0.002, "{f} Hz amplitude after resampling {a}");
    }
    // Upsampling too, and an odd ratio.
    assert_eq!(resample(&out, 22_050, 11_025).unwrap().len(), out.len().div_ceil(2));
    assert_eq!(resample(&out[..1000], 22_050, 16_000).unwrap().len(), (1000 * 16_000usize).div_ceil(22_050));
}

#[test]
fn missing_file_is_an_io_error() {
    assert!(matches!(load_mono("/definitely/not/here.wav"), Err(AudioError::Io { .. })));
}

#[test]
fn garbage_is_unsupported() {
    let path = tmp("garbage.wav");
    std::fs::write(
        &path,
        (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let err = load_mono(&path).unwrap_err();
    assert!(matches!(err, AudioError::Unsupported { .. } | AudioError::Corrupt { .. }), "{err:?}");
    let empty = tmp("empty.flac");
    std::fs::write(&empty, b"").unwrap();
    assert!(load_mono(&empty).is_err());
}

#[test]
fn unsupported_codec_is_reported() {
    let err = load_mono(codec("tone_opus.ogg")).unwrap_err();
    assert!(matches!(err, AudioError::Unsupported { .. }), "{err:?}");
}

#[test]
fn truncated_files_are_errors_not_short_audio() {
    for name in ["tone.flac", "tone.mp3", "tone.ogg", "tone.m4a"] {
        let bytes = std::fs::read(codec(name)).unwrap();
        let path = tmp(&format!("truncated_{name}"));
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        match load_mono(&path) {
            Err(AudioError::Corrupt { .. } | AudioError::Unsupported { .. }) => {}
            other => panic!("{name} cut in half: expected a corrupt-file error, got {other:?}"),
        }
    }
    // A WAV whose header promises more data than the file holds.
    let path = tmp("truncated.wav");
    write_wav_f32(&path, &Audio::new(vec![0.25; 4000], 8000).unwrap()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3001]).unwrap();
    assert!(matches!(load_mono(&path), Err(AudioError::Corrupt { .. })), "{:?}", load_mono(&path));
}

#[test]
fn zero_length_audio_is_empty() {
    let path = tmp("zero.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22_050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(&path, spec).unwrap().finalize().unwrap();
    assert!(matches!(load_mono(&path), Err(AudioError::Empty { .. })), "{:?}", load_mono(&path));
}

#[test]
fn nan_and_inf_samples_are_rejected() {
    let path = tmp("nan.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22_050,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for s in [0.1f32, f32::NAN, 0.2] {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    assert!(
        matches!(load_mono(&path), Err(AudioError::NonFinite { index: 1, .. })),
        "{:?}",
        load_mono(&path)
    );

    let bad = [0.0, f32::INFINITY, 0.0];
    assert!(matches!(Audio::new(bad.to_vec(), 8000), Err(AudioError::NonFinite { .. })));
    assert!(matches!(resample(&bad, 8000, 4000), Err(AudioError::NonFinite { .. })));
    let extractor = LogMelExtractor::new(LogMelConfig::paper()).unwrap();
    let mut clip = vec![0.0f32; 22_050];
    clip[100] = f32::NAN;
    assert!(matches!(extractor.compute(&clip), Err(AudioError::NonFinite { index: 100, .. })));
    assert!(matches!(fit_clip(&clip, 10, ClipPolicy::default()), Err(AudioError::NonFinite { .. })));
}

#[test]
fn sample_rate_zero_is_rejected_everywhere() {
    assert!(matches!(Audio::new(vec![0.0; 10], 0), Err(AudioError::InvalidSampleRate { rate: 0, .. })));
    assert!(matches!(resample(&[0.0; 10], 0, 22_050), Err(AudioError::InvalidSampleRate { .. })));
    assert!(matches!(resample(&[0.0; 10], 22_050, 0), Err(AudioError::InvalidSampleRate { .. })));
    assert!(MelFilterbank::new(MelConfig { sample_rate: 0, ..MelConfig::paper() }).is_err());
    // A WAV header that declares 0 Hz.
    let path = tmp("rate0.wav");
    write_wav_f32(&path, &Audio::new(vec![0.1; 100], 8000).unwrap()).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[24..28].copy_from_slice(&0u32.to_le_bytes()); // fmt chunk: sample rate
    bytes[28..32].copy_from_slice(&0u32.to_le_bytes()); // byte rate
    std::fs::write(&path, &bytes).unwrap();
    assert!(load_mono(&path).is_err());
}

#[test]
fn clip_shorter_than_one_frame_is_too_short() {
    let extractor = LogMelExtractor::new(LogMelConfig::paper()).unwrap();
    assert!(matches!(extractor.compute(&[0.1; 441]), Err(AudioError::TooShort { len: 441, min: 442, .. })));
    assert!(matches!(extractor.compute(&[]), Err(AudioError::EmptySignal { .. })));
    let mut cfg = StftConfig::new(1022, 256);
    cfg.center = false;
    assert!(matches!(
        Stft::new(cfg).unwrap().forward(&[0.0; 1000]),
        Err(AudioError::TooShort { min: 1022, .. })
    ));
}

#[test]
fn prepare_files_reports_each_file() {
    let extractor = LogMelExtractor::new(LogMelConfig::paper()).unwrap();
    let paths = [codec("tone.flac"), PathBuf::from("/missing.wav"), codec("tone.mp3")];
    let results = prepare_files(&extractor, &paths, 5 * 22_050, ClipPolicy::default());
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().logmel.dim(), (251, 64));
    assert!(matches!(results[1], Err(AudioError::Io { .. })));
    assert_eq!(results[2].as_ref().unwrap().logmel.dim(), (251, 64));
}
