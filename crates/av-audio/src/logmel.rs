//! The paper's log-mel spectrogram:
//! `np.log(librosa.feature.melspectrogram(y, sr=22050, n_fft=882, hop_length=441, n_mels=64)
//! + np.spacing(1)).T`, shape `(T, 64)` with `T = 1 + len / 441` (251 for 5 s).
//! Source: MSSL `prepare_data/data.py:23-24`, docs/reference_implementation.md §1.1.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{AudioError, Result};
use crate::mel::{MelConfig, MelFilterbank};
use crate::stft::{Stft, StftConfig};

/// `np.spacing(1)`, the offset inside the paper's logarithm.
pub const LOG_EPS: f64 = 2.220_446_049_250_313e-16;

/// Everything that defines a log-mel feature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogMelConfig {
    /// STFT analysis (its `n_fft` must equal the filterbank's).
    pub stft: StftConfig,
    /// Mel filterbank.
    pub mel: MelConfig,
    /// Spectrogram exponent before the filterbank: 2 = power (paper), 1 = magnitude.
    pub power: f64,
    /// Offset inside the natural log (`np.spacing(1)` in the paper).
    pub log_eps: f64,
}

impl LogMelConfig {
    /// The paper's features: 22 050 Hz, n_fft 882, hop 441, 64 Slaney mels, power 2,
    /// `ln(S + 2.220446e-16)`, reflect padding (librosa 0.7 default).
    pub fn paper() -> Self {
        Self { stft: StftConfig::paper(), mel: MelConfig::paper(), power: 2.0, log_eps: LOG_EPS }
    }

    /// Checks that the parts agree.
    ///
    /// # Errors
    /// [`AudioError::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        self.stft.validate()?;
        if self.stft.n_fft != self.mel.n_fft {
            return Err(AudioError::InvalidConfig(format!(
                "STFT n_fft {} differs from the mel filterbank's {}",
                self.stft.n_fft, self.mel.n_fft
            )));
        }
        let valid = self.power > 0.0 && self.power.is_finite() && self.log_eps > 0.0;
        if !valid {
            return Err(AudioError::InvalidConfig(format!(
                "power must be > 0 and log_eps > 0, got {} and {}",
                self.power, self.log_eps
            )));
        }
        Ok(())
    }
}

/// A planned log-mel extractor (STFT plan and filterbank made once; `Send + Sync`, so one
/// extractor can serve many threads).
#[derive(Debug, Clone)]
pub struct LogMelExtractor {
    config: LogMelConfig,
    stft: Stft,
    filterbank: MelFilterbank,
}

impl LogMelExtractor {
    /// Plans the extractor.
    ///
    /// # Errors
    /// [`AudioError::InvalidConfig`] / [`AudioError::InvalidSampleRate`] for bad settings.
    pub fn new(config: LogMelConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self { config, stft: Stft::new(config.stft)?, filterbank: MelFilterbank::new(config.mel)? })
    }

    /// The configuration.
    pub fn config(&self) -> &LogMelConfig {
        &self.config
    }

    /// The sample rate the extractor expects its input at.
    pub fn sample_rate(&self) -> u32 {
        self.config.mel.sample_rate
    }

    /// Number of frames for a signal of `len` samples, or `None` if it is too short.
    pub fn n_frames(&self, len: usize) -> Option<usize> {
        self.config.stft.n_frames(len)
    }

    /// Log-mel of a mono signal at [`LogMelExtractor::sample_rate`]: shape `(T, n_mels)`,
    /// time-major as the paper stores it.
    ///
    /// # Errors
    /// [`AudioError::EmptySignal`], [`AudioError::NonFinite`], [`AudioError::TooShort`].
    pub fn compute(&self, samples: &[f32]) -> Result<Array2<f32>> {
        let n_frames = self.stft.check("log-mel", samples)?;
        let mut out = Array2::<f32>::zeros((n_frames, self.filterbank.n_mels()));
        self.compute_into(
            samples,
            out.as_slice_mut().ok_or_else(|| AudioError::InvalidConfig("non-contiguous output".into()))?,
        )?;
        Ok(out)
    }

    /// Like [`LogMelExtractor::compute`], writing row-major `(T, n_mels)` values into `out`
    /// (length `T * n_mels`), for callers that batch many clips into one buffer.
    ///
    /// # Errors
    /// As [`LogMelExtractor::compute`], plus [`AudioError::Shape`] for a wrong `out` length.
    pub fn compute_into(&self, samples: &[f32], out: &mut [f32]) -> Result<()> {
        let n_frames = self.stft.check("log-mel", samples)?;
        let n_mels = self.filterbank.n_mels();
        if out.len() != n_frames * n_mels {
            return Err(AudioError::Shape {
                op: "log-mel",
                expected: format!("{} values ({n_frames} frames x {n_mels} mels)", n_frames * n_mels),
                actual: format!("{} values", out.len()),
            });
        }
        self.fill(samples, n_frames, out)
    }

    /// The log-mel of a checked signal of `n_frames` frames into `out` (`n_frames * n_mels`).
    fn fill(&self, samples: &[f32], n_frames: usize, out: &mut [f32]) -> Result<()> {
        let n_mels = self.filterbank.n_mels();
        let mut power = vec![0.0f64; self.filterbank.n_freqs()];
        let mut mel = vec![0.0f64; n_mels];
        let (exponent, eps) = (self.config.power, self.config.log_eps);
        self.stft.frames(samples, n_frames, |t, spectrum| {
            for (p, c) in power.iter_mut().zip(spectrum) {
                let sq = c.norm_sqr();
                *p = if exponent == 2.0 { sq } else { sq.powf(exponent / 2.0) };
            }
            self.filterbank.apply_frame(&power, &mut mel);
            for (o, &m) in out[t * n_mels..(t + 1) * n_mels].iter_mut().zip(&mel) {
                *o = (m + eps).ln() as f32;
            }
        })
    }
}
