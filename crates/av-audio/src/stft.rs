//! Short-time Fourier transform with librosa's semantics (`librosa.stft`, 0.7 defaults for the
//! paper: periodic Hann window, `center=True` with reflect padding).
//!
//! Any `n_fft` works (the paper uses 882, Sound-of-Pixels 1022): the FFT is realfft's mixed-radix
//! real transform, planned once in [`Stft::new`] and reused for every frame and every call.
//! Frames are computed in `f64` (so that the far side-lobes of the window, which decide the
//! log-mel of quiet bands, are exact) and stored as `Complex<f32>`.

use std::sync::Arc;

use ndarray::Array2;
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::error::{AudioError, Result, ensure_signal};
use crate::window::hann_padded;

/// How the signal is padded at both ends when `center` is true (numpy `np.pad` modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PadMode {
    /// Mirror without repeating the edge sample (`'reflect'`), librosa < 0.10's default and the
    /// paper's.
    #[default]
    Reflect,
    /// Zeros (`'constant'`), librosa >= 0.10's default.
    Constant,
}

/// STFT parameters. Defaults follow `librosa.stft`: `win_length = n_fft`, centred frames,
/// reflect padding (see [`PadMode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StftConfig {
    /// FFT size in samples (>= 2).
    pub n_fft: usize,
    /// Hop between frames in samples (>= 1).
    pub hop_length: usize,
    /// Hann window length (<= `n_fft`), zero-padded to `n_fft` in the middle.
    pub win_length: usize,
    /// Whether frame `t` is centred on sample `t * hop_length` (signal padded by `n_fft / 2`).
    pub center: bool,
    /// Padding used when `center` is true.
    pub pad_mode: PadMode,
}

impl StftConfig {
    /// librosa defaults for a given FFT size and hop.
    pub fn new(n_fft: usize, hop_length: usize) -> Self {
        Self { n_fft, hop_length, win_length: n_fft, center: true, pad_mode: PadMode::Reflect }
    }

    /// The paper's analysis for log-mels: n_fft 882 (40 ms), hop 441 (20 ms) at 22 050 Hz
    /// (docs/reference_implementation.md §1.1, `prepare_data/data.py:23`).
    pub fn paper() -> Self {
        Self::new(882, 441)
    }

    /// Sound-of-Pixels: n_fft 1022, hop 256 at 11 025 Hz (docs/reference_implementation.md §8.1, `arguments.py:61-68`).
    pub fn sound_of_pixels() -> Self {
        Self::new(1022, 256)
    }

    /// Number of frequency bins, `n_fft / 2 + 1`.
    pub fn n_freqs(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of frames for a signal of `len` samples (`1 + (padded_len - n_fft) / hop`), or
    /// `None` if the signal is shorter than one frame.
    pub fn n_frames(&self, len: usize) -> Option<usize> {
        let padded = if self.center { len + 2 * (self.n_fft / 2) } else { len };
        (padded >= self.n_fft && len >= self.min_len()).then(|| 1 + (padded - self.n_fft) / self.hop_length)
    }

    /// The shortest signal this configuration accepts: one frame without centring; with
    /// reflect padding, `n_fft / 2 + 1` samples (numpy's single reflection); otherwise 1.
    pub fn min_len(&self) -> usize {
        match (self.center, self.pad_mode) {
            (false, _) => self.n_fft,
            (true, PadMode::Reflect) => self.n_fft / 2 + 1,
            (true, PadMode::Constant) => 1,
        }
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`AudioError::InvalidConfig`] naming the bad field.
    pub fn validate(&self) -> Result<()> {
        if self.n_fft < 2 {
            return Err(AudioError::InvalidConfig(format!("n_fft must be >= 2, got {}", self.n_fft)));
        }
        if self.hop_length == 0 {
            return Err(AudioError::InvalidConfig("hop_length must be >= 1".into()));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return Err(AudioError::InvalidConfig(format!(
                "win_length must be in 1..={}, got {}",
                self.n_fft, self.win_length
            )));
        }
        Ok(())
    }
}

/// A complex spectrogram, laid out as librosa's: `data[[f, t]]` for frequency bin `f` in
/// `0..n_fft/2+1` and frame `t`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    /// Complex STFT values, shape `(n_fft / 2 + 1, n_frames)`.
    pub data: Array2<Complex<f32>>,
    /// The configuration that produced it (needed to invert it).
    pub config: StftConfig,
}

impl Spectrogram {
    /// `|X|`, shape `(n_freqs, n_frames)`.
    pub fn magnitude(&self) -> Array2<f32> {
        self.data.mapv(|c| c.norm())
    }

    /// `|X|^2`, shape `(n_freqs, n_frames)`.
    pub fn power(&self) -> Array2<f32> {
        self.data.mapv(|c| c.norm_sqr())
    }

    /// `angle(X)` in radians, shape `(n_freqs, n_frames)`.
    pub fn phase(&self) -> Array2<f32> {
        self.data.mapv(|c| c.arg())
    }

    /// Builds a spectrogram from magnitude and phase (`mag * exp(i * phase)`), as Sound-of-Pixels
    /// does to resynthesise with the mixture phase.
    ///
    /// # Errors
    /// [`AudioError::Shape`] if the two shapes differ or do not have `n_fft / 2 + 1` rows.
    pub fn from_polar(magnitude: &Array2<f32>, phase: &Array2<f32>, config: StftConfig) -> Result<Self> {
        if magnitude.dim() != phase.dim() || magnitude.nrows() != config.n_freqs() {
            return Err(AudioError::Shape {
                op: "Spectrogram::from_polar",
                expected: format!("two arrays of ({}, T)", config.n_freqs()),
                actual: format!("{:?} and {:?}", magnitude.dim(), phase.dim()),
            });
        }
        let mut data = Array2::zeros(magnitude.dim());
        ndarray::Zip::from(&mut data)
            .and(magnitude)
            .and(phase)
            .for_each(|d, &m, &p| *d = Complex::from_polar(m, p));
        Ok(Self { data, config })
    }

    /// Number of frames.
    pub fn n_frames(&self) -> usize {
        self.data.ncols()
    }
}

/// A planned STFT: FFT plan and window are made once and shared by every call (and thread).
#[derive(Clone)]
pub struct Stft {
    config: StftConfig,
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Stft {
    /// Plans the transform.
    ///
    /// # Errors
    /// [`AudioError::InvalidConfig`] for a bad configuration.
    pub fn new(config: StftConfig) -> Result<Self> {
        config.validate()?;
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(config.n_fft);
        Ok(Self { config, fft, window: hann_padded(config.win_length, config.n_fft) })
    }

    /// The configuration.
    pub fn config(&self) -> &StftConfig {
        &self.config
    }

    /// Complex STFT of `samples`: shape `(n_fft / 2 + 1, n_frames)`.
    ///
    /// # Errors
    /// [`AudioError::EmptySignal`], [`AudioError::NonFinite`], [`AudioError::TooShort`] (less
    /// than [`StftConfig::min_len`] samples).
    pub fn forward(&self, samples: &[f32]) -> Result<Spectrogram> {
        let n_freqs = self.config.n_freqs();
        let n_frames = self.check("stft", samples)?;
        // Frames are produced one after the other; collect them frame-major (contiguous
        // writes), then transpose once into librosa's (freq, frame) layout.
        let mut by_frame = vec![Complex::<f32>::new(0.0, 0.0); n_frames * n_freqs];
        self.frames(samples, n_frames, |t, spectrum| {
            for (d, c) in by_frame[t * n_freqs..(t + 1) * n_freqs].iter_mut().zip(spectrum) {
                *d = Complex::new(c.re as f32, c.im as f32);
            }
        })?;
        let data = Array2::from_shape_vec((n_frames, n_freqs), by_frame)
            .map_err(|e| AudioError::InvalidConfig(format!("internal shape error: {e}")))?
            .reversed_axes()
            .as_standard_layout()
            .into_owned();
        Ok(Spectrogram { data, config: self.config })
    }

    /// Validates a signal and returns its frame count.
    pub(crate) fn check(&self, op: &'static str, samples: &[f32]) -> Result<usize> {
        ensure_signal(op, samples)?;
        self.config.n_frames(samples.len()).ok_or(AudioError::TooShort {
            op,
            len: samples.len(),
            min: self.config.min_len(),
        })
    }

    /// Runs the FFT of each of the `n_frames` frames of an already [checked](Stft::check)
    /// signal and hands `(frame index, spectrum of n_fft/2+1 bins)` to `visit`. Buffers are
    /// allocated once per call; nothing is allocated per frame. Interior frames read the
    /// signal directly; only the edge frames go through the padded copy.
    pub(crate) fn frames(
        &self,
        samples: &[f32],
        n_frames: usize,
        mut visit: impl FnMut(usize, &[Complex<f64>]),
    ) -> Result<()> {
        let n_fft = self.config.n_fft;
        let p = if self.config.center { n_fft / 2 } else { 0 };
        let edge = self.pad_edges(samples);
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        for t in 0..n_frames {
            let start = t * self.config.hop_length; // in padded coordinates
            if start >= p && start - p + n_fft <= samples.len() {
                let src = &samples[start - p..start - p + n_fft];
                for ((dst, &x), &w) in frame.iter_mut().zip(src).zip(&self.window) {
                    *dst = f64::from(x) * w;
                }
            } else {
                for (i, (dst, &w)) in frame.iter_mut().zip(&self.window).enumerate() {
                    *dst = edge.at(samples, start + i) * w;
                }
            }
            self.fft
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                .map_err(|e| AudioError::InvalidConfig(format!("FFT failed: {e}")))?;
            visit(t, &spectrum);
        }
        Ok(())
    }

    /// The padding of a signal, for reading the edge frames.
    fn pad_edges(&self, samples: &[f32]) -> Padding {
        Padding {
            p: if self.config.center { self.config.n_fft / 2 } else { 0 },
            mode: self.config.pad_mode,
            len: samples.len(),
        }
    }
}

/// Reads sample `i` of the padded signal (`p` samples of padding before `samples[0]`).
#[derive(Debug, Clone, Copy)]
struct Padding {
    p: usize,
    mode: PadMode,
    len: usize,
}

impl Padding {
    fn at(&self, samples: &[f32], i: usize) -> f64 {
        let j = i as i64 - self.p as i64;
        let last = self.len as i64 - 1;
        let idx = match self.mode {
            // numpy 'reflect' (single reflection; valid because len > p): x[1], x[0], x[1], ...
            PadMode::Reflect if j < 0 => -j,
            PadMode::Reflect if j > last => 2 * last - j,
            PadMode::Constant if j < 0 || j > last => return 0.0,
            _ => j,
        };
        f64::from(samples[idx as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_follow_librosa() {
        assert_eq!(StftConfig::paper().n_frames(110_250), Some(251));
        assert_eq!(StftConfig::sound_of_pixels().n_frames(65_535), Some(256));
        assert_eq!(StftConfig::paper().n_frames(441), None);
        assert_eq!(StftConfig::paper().n_frames(442), Some(2));
    }

    #[test]
    fn bad_configs_are_rejected() {
        assert!(Stft::new(StftConfig::new(1, 1)).is_err());
        assert!(Stft::new(StftConfig::new(16, 0)).is_err());
        let mut c = StftConfig::new(16, 4);
        c.win_length = 17;
        assert!(Stft::new(c).is_err());
    }

    #[test]
    fn reflect_padding_mirrors_without_edge() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let stft = Stft::new(StftConfig::new(4, 1)).unwrap();
        let edge = stft.pad_edges(&x);
        let padded: Vec<f64> = (0..8).map(|i| edge.at(&x, i)).collect();
        assert_eq!(padded, vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]);
        let mut c = StftConfig::new(4, 1);
        c.pad_mode = PadMode::Constant;
        let stft = Stft::new(c).unwrap();
        let edge = stft.pad_edges(&x);
        let padded: Vec<f64> = (0..8).map(|i| edge.at(&x, i)).collect();
        assert_eq!(padded, vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
    }
}
