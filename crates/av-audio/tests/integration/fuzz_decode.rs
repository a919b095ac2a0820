//! Fuzzing on stable Rust: property tests over byte inputs for `load_mono`, the decoder of every
//! container av-audio reads (WAV, FLAC, OGG/Vorbis, OGG/Opus, MP3, MP4/AAC). Each input is
//! arbitrary bytes or a structure-aware mutation of a valid seed file (bit flips, inserted /
//! deleted / overwritten bytes, truncation, header fields set to huge values); the seeds are the
//! committed codec fixtures and WAV files written by `write_wav_f32` and hound. Property:
//! `load_mono` returns `Ok` (finite samples, a rate > 0) or a typed `AudioError` — never a
//! panic, never a hang (each case must finish in 2 s), never a huge allocation (no single
//! request of 256 MiB or more, e.g. for a header that claims 10^12 samples); see `av_testkit::fuzz`.
//!
//! CI runs a fixed-seed, small budget; `AV_FUZZ_CASES=5000 cargo test -p av-audio --test
//! fuzz_decode` runs longer (and `AV_FUZZ_SEED=<u64>` explores other inputs).
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use av_audio::{Audio, AudioError, load_mono, write_wav_f32};
use av_testkit::fuzz::{HUGE, bounded, config, input, scratch};
use proptest::prelude::*;

fn codec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codecs").join(name)
}

/// Decodes `bytes` written to a file with extension `ext` (the extension is the probe's hint).
fn decode(tag: &str, ext: &str, bytes: &[u8]) -> Result<Audio, AudioError> {
    let p = scratch(tag).join(format!("x.{ext}"));
    std::fs::write(&p, bytes).unwrap();
    bounded(tag, || load_mono(&p))
}

fn check(r: Result<Audio, AudioError>) {
    match r {
        Ok(a) => {
            assert!(a.sample_rate > 0 && !a.samples.is_empty());
            assert!(a.samples.iter().all(|s| s.is_finite()));
        }
        Err(e) => assert!(
            matches!(
                e,
                AudioError::Unsupported { .. }
                    | AudioError::Corrupt { .. }
                    | AudioError::Empty { .. }
                    | AudioError::NonFinite { .. }
                    | AudioError::InvalidSampleRate { .. }
            ),
            "untyped answer: {e:?}"
        ),
    }
}

fn wav_seeds() -> Vec<Vec<u8>> {
    let dir = scratch("fuzz-wav-seed");
    let f32_path = dir.join("f32.wav");
    let tone: Vec<f32> = (0..400).map(|i| (i as f32 * 0.1).sin() * 0.5).collect();
    write_wav_f32(&f32_path, &Audio::new(tone, 8000).unwrap()).unwrap();
    let mut seeds = vec![std::fs::read(&f32_path).unwrap()];
    for (channels, bits) in [(2u16, 16u16), (1, 8), (3, 24)] {
        let p = dir.join(format!("pcm{channels}x{bits}.wav"));
        let spec = hound::WavSpec {
            channels,
            sample_rate: 22_050,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for i in 0..200 * i32::from(channels) {
            w.write_sample((i * 37) % (1 << (bits - 1))).unwrap();
        }
        w.finalize().unwrap();
        seeds.push(std::fs::read(&p).unwrap());
    }
    seeds
}

/// A WAV header field (RIFF size, fmt channels / rate / byte rate / block align / bits, data size)
/// set to one of the huge values.
fn wav_with_huge_field() -> impl Strategy<Value = Vec<u8>> {
    let seeds = wav_seeds();
    (0..seeds.len(), 0usize..7, 0..HUGE.len()).prop_map(move |(s, field, h)| {
        let mut b = seeds[s].clone();
        let at = |id: &[u8]| b.windows(4).position(|w| w == id).unwrap_or(0);
        let (fmt, data) = (at(b"fmt "), at(b"data"));
        let (offset, width) = match field {
            0 => (4, 4),
            1 => (fmt + 10, 2),
            2 => (fmt + 12, 4),
            3 => (fmt + 16, 4),
            4 => (fmt + 20, 2),
            5 => (fmt + 22, 2),
            _ => (data + 4, 4),
        };
        b[offset..offset + width].copy_from_slice(&HUGE[h].to_le_bytes()[..width]);
        b
    })
}

fn seed(name: &str) -> Vec<Vec<u8>> {
    vec![std::fs::read(codec(name)).unwrap()]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn wav_never_panics(bytes in prop_oneof![input(wav_seeds()), wav_with_huge_field()]) {
        check(decode("fuzz-wav", "wav", &bytes));
    }

    #[test]
    fn flac_never_panics(bytes in input(seed("tone.flac"))) {
        check(decode("fuzz-flac", "flac", &bytes));
    }

    #[test]
    fn ogg_vorbis_never_panics(bytes in input(seed("tone.ogg"))) {
        check(decode("fuzz-ogg", "ogg", &bytes));
    }

    #[test]
    fn ogg_opus_never_panics(bytes in input(seed("tone_opus.ogg"))) {
        check(decode("fuzz-opus", "ogg", &bytes));
    }

    #[test]
    fn mp3_never_panics(bytes in input(seed("tone.mp3"))) {
        check(decode("fuzz-mp3", "mp3", &bytes));
    }

    #[test]
    fn mp4_aac_never_panics(bytes in input(seed("tone.m4a"))) {
        check(decode("fuzz-m4a", "m4a", &bytes));
    }

    /// Bytes of one container under another container's extension: the probe goes by content.
    #[test]
    fn wrong_extension_never_panics(
        bytes in input([seed("tone.flac"), seed("tone.mp3"), seed("tone.m4a"), seed("tone.ogg"), wav_seeds()].concat()),
        ext in prop::sample::select(vec!["wav", "flac", "ogg", "mp3", "m4a", "aac", "bin"]),
    ) {
        check(decode("fuzz-ext", ext, &bytes));
    }
}

// --- regression tests: crashes the fuzzer found (minimal inputs) ---------------------------------

/// A float WAV (`write_wav_f32` writes WAVE_FORMAT_EXTENSIBLE) whose `fmt ` chunk field at
/// `offset` (from the chunk id) is overwritten with `value`'s low `width` bytes.
fn f32_wav_with_field(offset: usize, width: usize, value: u64) -> Vec<u8> {
    let p = scratch("fuzz-wav-regression").join("seed.wav");
    write_wav_f32(&p, &Audio::new(vec![0.25; 400], 8000).unwrap()).unwrap();
    let mut b = std::fs::read(&p).unwrap();
    let fmt = b.windows(4).position(|w| w == b"fmt ").unwrap();
    assert_eq!(&b[fmt + 8..fmt + 10], &[0xfe, 0xff], "WAVE_FORMAT_EXTENSIBLE");
    b[fmt + offset..fmt + offset + width].copy_from_slice(&value.to_le_bytes()[..width]);
    b
}

/// Found by `wav_never_panics`: an extensible WAV claiming 65535 channels made symphonia's
/// channel-mask fix-up shift by more than 31 bits (`attempt to shift left with overflow`,
/// symphonia-format-riff 0.6.1 `wave/chunks.rs:690`); `load_mono` now reports the panic as a
/// corrupt file.
#[test]
fn wav_extensible_with_65535_channels_is_corrupt() {
    let bytes = f32_wav_with_field(10, 2, 0xffff);
    let err = decode("fuzz-wav-regression", "wav", &bytes).unwrap_err();
    assert!(matches!(err, AudioError::Corrupt { .. } | AudioError::Unsupported { .. }), "{err:?}");
}

/// A data chunk that claims 4 GiB of samples over 1.6 KB of file: a typed error, no allocation of
/// the claimed size.
#[test]
fn wav_data_size_claiming_4_gib_is_corrupt() {
    let p = scratch("fuzz-wav-regression").join("seed.wav");
    write_wav_f32(&p, &Audio::new(vec![0.25; 400], 8000).unwrap()).unwrap();
    let mut b = std::fs::read(&p).unwrap();
    let data = b.windows(4).position(|w| w == b"data").unwrap();
    b[data + 4..data + 8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    check(decode("fuzz-wav-regression", "wav", &b));
}
