//! The bad-input table of `docs/bad_inputs.md`, kept true through the one-call API
//! ([`Localizer`], [`Separator`]) on the shipped model folder: every class of input either
//! works with a stated result or gives a typed error; none panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use av_align::audio::{Audio, write_wav_f32};
use av_align::inference::MAX_MAP_SIDE;
use av_align::{Error, Localizer};
use av_testkit::tmp_dir;
use burn::tensor::Device;
use image::{ImageBuffer, Rgb, RgbImage};

fn localizer() -> Localizer {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/checkpoints/flickr_compact");
    Localizer::from_dir_on(dir, &Device::flex()).unwrap()
}

fn tone(seconds: f64, rate: u32) -> Vec<f32> {
    let n = (seconds * f64::from(rate)).round() as usize;
    (0..n).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.3).collect()
}

fn wav(dir: &Path, name: &str, samples: Vec<f32>, rate: u32) -> PathBuf {
    let path = dir.join(name);
    write_wav_f32(&path, &Audio { samples, sample_rate: rate }).unwrap();
    path
}

fn picture() -> RgbImage {
    RgbImage::from_fn(96, 64, |x, y| Rgb([(x * 2) as u8, (y * 3) as u8, 90]))
}

#[test]
fn bad_audio_files_are_typed_errors() {
    let dir = tmp_dir("bad-audio");
    let l = localizer();
    let image = dir.join("frame.png");
    picture().save(&image).unwrap();
    // Garbage bytes, an empty file, a truncated WAV, a missing file.
    std::fs::write(dir.join("garbage.wav"), b"this is not audio at all, just text").unwrap();
    std::fs::write(dir.join("empty.wav"), b"").unwrap();
    let good = std::fs::read(wav(&dir, "good.wav", tone(1.0, 22_050), 22_050)).unwrap();
    std::fs::write(dir.join("truncated.wav"), &good[..30]).unwrap();
    for name in ["garbage.wav", "empty.wav", "truncated.wav", "missing.wav"] {
        let err = l.localize_files(&image, dir.join(name)).unwrap_err();
        assert!(matches!(err, Error::Audio(_)), "{name}: {err}");
        assert!(err.to_string().contains(name), "{name}: the message names the file: {err}");
    }
}

#[test]
fn non_finite_samples_are_refused() {
    let l = localizer();
    let mut samples = tone(1.0, 22_050);
    samples[100] = f32::NAN;
    assert!(matches!(l.localize(&picture(), &samples, 22_050), Err(Error::Audio(_))));
    samples[100] = f32::INFINITY;
    assert!(matches!(l.localize(&picture(), &samples, 22_050), Err(Error::Audio(_))));
    assert!(matches!(l.localize(&picture(), &[], 22_050), Err(Error::Audio(_))));
    assert!(matches!(l.localize(&picture(), &tone(1.0, 22_050), 0), Err(Error::Audio(_))));
}

#[test]
fn very_short_long_and_high_rate_clips_are_heard() {
    let dir = tmp_dir("clips");
    let l = localizer();
    let image = dir.join("frame.png");
    picture().save(&image).unwrap();
    // 0.01 s (padded to the 5 s the model hears); 10 minutes at 8 kHz (the first 5 s are heard);
    // 192 kHz stereo (mixed down to mono, resampled).
    let short = wav(&dir, "short.wav", tone(0.01, 22_050), 22_050);
    let long = wav(&dir, "long.wav", tone(600.0, 8_000), 8_000);
    let stereo = dir.join("stereo192k.wav");
    {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 192_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&stereo, spec).unwrap();
        for (i, s) in tone(2.0, 192_000).into_iter().enumerate() {
            let v = (s * 20_000.0) as i16;
            w.write_sample(v).unwrap();
            w.write_sample(if i % 2 == 0 { v } else { -v }).unwrap();
        }
        w.finalize().unwrap();
    }
    for clip in [short, long, stereo] {
        let sounds = l.localize_files(&image, &clip).unwrap();
        assert_eq!((sounds.width, sounds.height), (96, 64));
        assert!(sounds.agnostic.iter().all(|v| v.is_finite()), "{}", clip.display());
        assert!(sounds.hearing.level_dbfs.is_some_and(f32::is_finite));
    }
}

#[test]
fn unusual_images_work_or_are_typed_errors() {
    let dir = tmp_dir("images");
    let l = localizer();
    let audio = wav(&dir, "clip.wav", tone(1.0, 22_050), 22_050);
    // One pixel: maps of one pixel.
    let one = dir.join("one.png");
    RgbImage::from_pixel(1, 1, Rgb([200, 10, 10])).save(&one).unwrap();
    let sounds = l.localize_files(&one, &audio).unwrap();
    assert_eq!((sounds.width, sounds.height, sounds.agnostic.len()), (1, 1, 1));
    // 10 000 pixels wide: maps capped at MAX_MAP_SIDE on the long side, the aspect kept.
    let wide = dir.join("wide.png");
    RgbImage::from_pixel(10_000, 20, Rgb([10, 200, 10])).save(&wide).unwrap();
    let sounds = l.localize_files(&wide, &audio).unwrap();
    assert_eq!((sounds.width, sounds.height), (MAX_MAP_SIDE, 2));
    assert_eq!(sounds.classes[0].map.len(), (MAX_MAP_SIDE * 2) as usize);
    // 16 bits per channel: converted to 8-bit RGB.
    let deep = dir.join("deep.png");
    ImageBuffer::<Rgb<u16>, Vec<u16>>::from_pixel(40, 30, Rgb([60_000, 1_000, 30_000])).save(&deep).unwrap();
    assert_eq!(l.localize_files(&deep, &audio).unwrap().width, 40);
    // Missing, truncated and not-an-image files: typed errors naming the file.
    let png = std::fs::read(&one).unwrap();
    std::fs::write(dir.join("truncated.png"), &png[..png.len() / 2]).unwrap();
    std::fs::write(dir.join("text.png"), b"not a picture").unwrap();
    for name in ["missing.png", "truncated.png", "text.png"] {
        let err = l.localize_files(dir.join(name), &audio).unwrap_err();
        assert!(matches!(err, Error::Data(_)), "{name}: {err}");
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

#[test]
fn a_truncated_or_incomplete_model_folder_is_refused() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/checkpoints/flickr_compact");
    let dir = tmp_dir("truncated-model");
    for f in ["model.json", "inputs.json"] {
        std::fs::copy(shipped.join(f), dir.join(f)).unwrap();
    }
    let weights = std::fs::read(shipped.join("model.bpk")).unwrap();
    std::fs::write(dir.join("model.bpk"), &weights[..weights.len() / 3]).unwrap();
    assert!(Localizer::from_dir_on(&dir, &Device::flex()).is_err());
    std::fs::write(dir.join("inputs.json"), b"{ \"image_size\": 128 ").unwrap();
    let err = Localizer::from_dir_on(&dir, &Device::flex()).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    std::fs::remove_file(dir.join("model.bpk")).unwrap();
    std::fs::copy(shipped.join("inputs.json"), dir.join("inputs.json")).unwrap();
    assert!(Localizer::from_dir_on(&dir, &Device::flex()).is_err());
}
