//! The one path from pictures and sounds to model inputs. Training (the benchmark, real
//! SoundNet-Flickr pairs, streamed pairs), evaluation and one-call inference
//! ([`crate::Localizer`]) all go through these functions, so they cannot drift apart.
//!
//! * **Frames**: brought to the datasets' 256 x 256 frame, then to the model's square side,
//!   with bilinear filtering ([`model_frame`]), then ImageNet-normalised CHW floats ([`frame_chw`], MSSL
//!   `new/dataloader.py:47`).
//! * **Audio**: decoded to mono, resampled to 22 050 Hz (rubato), cut to a window
//!   ([`AudioWindow`]) and turned into the paper's log-mel (64 Slaney mels, 40 ms / 20 ms,
//!   `ln(S + eps)`; [`av_audio::LogMelConfig::paper`]), `(T, 64)` with `T = 251` for 5 s.
//!
//! ```
//! use av_align::preprocess::{AudioPreprocess, AudioWindow, fit_frame, frame_chw};
//!
//! let image = image::RgbImage::from_pixel(320, 240, image::Rgb([200, 30, 30]));
//! let frame = fit_frame(&image, 128);                       // 128 x 128, bilinear
//! assert_eq!(frame_chw(&frame, false).len(), 3 * 128 * 128); // ImageNet-normalised CHW
//!
//! let audio = AudioPreprocess::new(AudioWindow::FirstSeconds)?;
//! let tone: Vec<f32> = (0..44_100).map(|n| (n as f32 * 0.06).sin()).collect(); // 1 s at 44.1 kHz
//! let logmel = audio.logmel(&tone, 44_100)?;               // resampled, padded to 5 s
//! assert_eq!(logmel.dim(), (251, 64));
//! # Ok::<(), av_align::Error>(())
//! ```

use std::path::Path;

use av_audio::{ClipPolicy, LogMelConfig, LogMelExtractor, fit_clip, peak_normalize, resample};
use av_data::image_io::resize_bilinear;
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inference::level_dbfs;

/// ImageNet channel means (MSSL `new/dataloader.py:47`).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The length of the paper's clips: 5 s.
pub const CLIP_SECONDS: usize = 5;

/// Clips shorter than this many samples at 22 050 Hz (16 log-mel hops) are padded to
/// [`CLIP_SECONDS`] by [`AudioWindow::WholeClipPeakNormalized`], so the trunk sees at least a
/// few frames.
pub const MIN_WHOLE_CLIP: usize = 16 * 441;

/// `image` resized to `side x side` (bilinear with half-pixel centres, OpenCV `INTER_LINEAR`;
/// returned as it is when it already has that size).
pub fn fit_frame(image: &RgbImage, side: u32) -> RgbImage {
    if image.dimensions() == (side, side) { image.clone() } else { resize_bilinear(image, side, side) }
}

/// The frame a model of square side `side` sees for any picture: first brought to the
/// datasets' 256 x 256 frame ([`av_data::image_io::FRAME_SIZE`], as every loader and the
/// benchmark store frames), then to `side` (both steps [`fit_frame`]).
pub fn model_frame(image: &RgbImage, side: u32) -> RgbImage {
    let canonical = av_data::image_io::FRAME_SIZE;
    if image.dimensions() == (canonical, canonical) {
        fit_frame(image, side)
    } else {
        fit_frame(&fit_frame(image, canonical), side)
    }
}

/// An RGB frame as ImageNet-normalised CHW floats, optionally mirrored left-right
/// (`img[:, ::-1]`, the training augmentation of MSSL `new/dataloader.py:45-46`).
///
/// # Shapes
/// `(W, H)` image -> `3 * H * W` values, row-major `[3, H, W]`.
pub fn frame_chw(img: &RgbImage, flip: bool) -> Vec<f32> {
    let (w, h) = img.dimensions();
    let mut out = vec![0.0; 3 * (w * h) as usize];
    let plane = (w * h) as usize;
    for y in 0..h {
        for x in 0..w {
            let sx = if flip { w - 1 - x } else { x };
            let p = img.get_pixel(sx, y).0;
            let o = (y * w + x) as usize;
            for ch in 0..3 {
                out[ch * plane + o] = (p[ch] as f32 / 255.0 - IMAGENET_MEAN[ch]) / IMAGENET_STD[ch];
            }
        }
    }
    out
}

/// One frame as a tensor (ImageNet-normalised).
///
/// # Shapes
/// `(W, H)` image -> `[1, 3, H, W]`.
pub fn frame_tensor(img: &RgbImage, device: &Device) -> Tensor<4> {
    let (w, h) = img.dimensions();
    Tensor::from_data(TensorData::new(frame_chw(img, false), [1, 3, h as usize, w as usize]), device)
}

/// One log-mel as a tensor.
///
/// # Shapes
/// `(T, F)` -> `[1, 1, T, F]`.
///
/// # Errors
/// [`Error::NonFinite`] for NaN/inf values.
pub fn logmel_tensor(logmel: &Array2<f32>, device: &Device) -> Result<Tensor<4>> {
    if logmel.iter().any(|x| !x.is_finite()) {
        return Err(Error::NonFinite { what: "log-mel".into() });
    }
    let (t, f) = logmel.dim();
    Ok(Tensor::from_data(TensorData::new(logmel.iter().copied().collect::<Vec<_>>(), [1, 1, t, f]), device))
}

/// Which part of a clip the model hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AudioWindow {
    /// The first 5 s, zero-padded when shorter: training pairs (MSSL `new/dataloader.py`), the
    /// benchmark and one-call inference. The default.
    #[default]
    FirstSeconds,
    /// The whole clip, peak-normalised (clips under [`MIN_WHOLE_CLIP`] samples first padded to
    /// 5 s): the SoundNet-Flickr test loader (MSSL `new/testdata.py`).
    WholeClipPeakNormalized,
    /// The whole clip as it is (only resampled): the guide of the separation experiment hears
    /// each 5.94-s mixture whole (the trunks pool over time).
    WholeClip,
}

/// Audio -> the paper's log-mel, under one [`AudioWindow`].
#[derive(Debug, Clone)]
pub struct AudioPreprocess {
    extractor: LogMelExtractor,
    window: AudioWindow,
}

impl AudioPreprocess {
    /// The paper's log-mel ([`LogMelConfig::paper`]: 22 050 Hz, 64 mels, hop 441) under
    /// `window`.
    ///
    /// # Errors
    /// [`Error::Audio`] (never for the paper's settings).
    pub fn new(window: AudioWindow) -> Result<Self> {
        Ok(Self { extractor: LogMelExtractor::new(LogMelConfig::paper())?, window })
    }

    /// The sample rate the model hears (22 050 Hz).
    pub fn sample_rate(&self) -> u32 {
        self.extractor.sample_rate()
    }

    /// The window.
    pub fn window(&self) -> AudioWindow {
        self.window
    }

    /// The same extractor under another window.
    pub fn with_window(mut self, window: AudioWindow) -> Self {
        self.window = window;
        self
    }

    /// The waveform the model hears: `samples` at `sample_rate` Hz resampled to
    /// [`Self::sample_rate`] and cut to the window.
    ///
    /// # Errors
    /// [`Error::Audio`] for an empty or non-finite signal or a zero rate.
    pub fn waveform(&self, samples: &[f32], sample_rate: u32) -> Result<Vec<f32>> {
        Ok(self.waveform_and_level(samples, sample_rate)?.0)
    }

    /// [`Self::waveform`] and the RMS level in dBFS of the part of the clip the model hears,
    /// measured before any peak normalisation (so a quiet clip stays quiet).
    ///
    /// # Errors
    /// As [`Self::waveform`].
    pub fn waveform_and_level(&self, samples: &[f32], sample_rate: u32) -> Result<(Vec<f32>, f32)> {
        let rate = self.sample_rate();
        let mut x = resample(samples, sample_rate, rate)?;
        let clip = CLIP_SECONDS * rate as usize;
        let level = match self.window {
            AudioWindow::FirstSeconds => {
                x = fit_clip(&x, clip, ClipPolicy::default())?;
                level_dbfs(&x)
            }
            AudioWindow::WholeClip => level_dbfs(&x),
            AudioWindow::WholeClipPeakNormalized => {
                if x.len() < MIN_WHOLE_CLIP {
                    x = fit_clip(&x, clip, ClipPolicy::default())?;
                }
                let level = level_dbfs(&x);
                peak_normalize(&mut x, f32::EPSILON)?;
                level
            }
        };
        Ok((x, level))
    }

    /// The log-mel `(T, 64)` of a waveform already at [`Self::sample_rate`] and cut (see
    /// [`Self::waveform`]).
    ///
    /// # Errors
    /// [`Error::Audio`] for an empty or non-finite waveform.
    pub fn logmel_of_waveform(&self, waveform: &[f32]) -> Result<Array2<f32>> {
        Ok(self.extractor.compute(waveform)?)
    }

    /// The log-mel `(T, 64)` of `samples` at `sample_rate` Hz (see [`Self::waveform`]).
    ///
    /// # Errors
    /// [`Error::Audio`] for an empty or non-finite signal or a zero rate.
    pub fn logmel(&self, samples: &[f32], sample_rate: u32) -> Result<Array2<f32>> {
        Ok(self.extractor.compute(&self.waveform(samples, sample_rate)?)?)
    }

    /// The log-mel of an audio file (WAV, FLAC, MP3, OGG/Vorbis, MP4/AAC; mixed down to mono).
    ///
    /// # Errors
    /// [`Error::Audio`] for a missing, unsupported or corrupt file (naming it).
    pub fn logmel_of_file(&self, path: impl AsRef<Path>) -> Result<Array2<f32>> {
        let audio = av_audio::load_mono(path.as_ref())?;
        self.logmel(&audio.samples, audio.sample_rate)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tone(n: usize, rate: f32) -> Vec<f32> {
        (0..n).map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate).sin() * 0.3).collect()
    }

    #[test]
    fn windows_cut_the_clip_as_documented() {
        let extractor = LogMelExtractor::new(LogMelConfig::paper()).unwrap();
        let two_s = tone(2 * 22_050, 22_050.0);
        // First 5 s: zero-padded to 5 s, then the paper's log-mel.
        let first = AudioPreprocess::new(AudioWindow::FirstSeconds).unwrap();
        let padded = fit_clip(&two_s, 5 * 22_050, ClipPolicy::default()).unwrap();
        assert_eq!(first.logmel(&two_s, 22_050).unwrap(), extractor.compute(&padded).unwrap());
        assert_eq!(first.logmel(&two_s, 22_050).unwrap().dim(), (251, 64));
        // Whole clip: as it is (2 s -> 101 frames).
        let whole = AudioPreprocess::new(AudioWindow::WholeClip).unwrap();
        assert_eq!(whole.logmel(&two_s, 22_050).unwrap(), extractor.compute(&two_s).unwrap());
        // Whole clip, peak-normalised: the peak becomes 1.
        let normalised = AudioPreprocess::new(AudioWindow::WholeClipPeakNormalized).unwrap();
        let wave = normalised.waveform(&two_s, 22_050).unwrap();
        assert_eq!(wave.len(), two_s.len());
        assert!((wave.iter().fold(0.0f32, |m, x| m.max(x.abs())) - 1.0).abs() < 1e-6);
        // Another rate is resampled first: 1 s at 44.1 kHz is 1 s at 22.05 kHz.
        assert_eq!(whole.waveform(&tone(44_100, 44_100.0), 44_100).unwrap().len(), 22_050);
        // Bad input is a typed error, not a panic.
        assert!(matches!(first.logmel(&[], 22_050), Err(Error::Audio(_))));
        assert!(matches!(first.logmel(&[f32::NAN; 100], 22_050), Err(Error::Audio(_))));
        assert!(matches!(first.logmel(&two_s, 0), Err(Error::Audio(_))));
    }

    #[test]
    fn model_frames_go_through_the_datasets_256_frame() {
        let image = RgbImage::from_fn(320, 200, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 7]));
        let canonical = fit_frame(&image, 256);
        assert_eq!(model_frame(&image, 128), fit_frame(&canonical, 128));
        assert_eq!(model_frame(&canonical, 128), fit_frame(&canonical, 128));
        assert_eq!(model_frame(&canonical, 256), canonical);
        let chw = frame_chw(&fit_frame(&image, 4), true);
        assert_eq!(chw.len(), 3 * 4 * 4);
        assert!(chw.iter().all(|v| v.is_finite()));
    }
}
