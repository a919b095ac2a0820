//! Sound-of-Pixels' mix-and-separate data path (docs/reference_implementation.md §8.1-8.3, §8.7), on the CPU with no tensor
//! library: mixing, STFT, log-frequency warp, network input, target masks, loss weights, and the
//! way back (unwarp, mask, iSTFT with the mixture phase).
//!
//! Reference: SoP `dataset/base.py:182-202` (mixing and STFT), `main.py:30-69` (warp, weights,
//! targets, input) and `main.py:96-169` + `utils.py:101-104` (reconstruction).

use av_audio::{FreqWarp, Istft, Spectrogram, Stft, StftConfig, WarpDirection};
use ndarray::{Array2, Zip};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SeparationError, ensure_finite, ensure_finite_array};

/// Sound-of-Pixels' audio rate, 11 025 Hz (`arguments.py:61`, `--audRate`).
pub const SOP_SAMPLE_RATE: u32 = 11_025;
/// Sound-of-Pixels' clip length, 65 535 samples (about 5.94 s; `--audLen`).
pub const SOP_CLIP_LEN: usize = 65_535;
/// Rows of the log-frequency grid the network sees (`warpgrid(B, 256, T)`, SoP `main.py:44`).
pub const SOP_LOG_FREQ_BINS: usize = 256;
/// Added to the mixture magnitude before warping and taking the log (SoP `main.py:36`).
pub const MAG_EPS: f32 = 1e-10;
/// Binary masks: source `n` wins a bin when `mag_n > BINARY_RATIO * mag_mix` (SoP `main.py:61`).
pub const BINARY_RATIO: f32 = 0.5;
/// Ratio masks are clamped to `[0, RATIO_CLAMP]` (SoP `main.py:65`).
pub const RATIO_CLAMP: f32 = 5.0;
/// Loss weights are clamped to `[WEIGHT_MIN, WEIGHT_MAX]` (SoP `main.py:52`).
pub const WEIGHT_MIN: f32 = 1e-3;
/// See [`WEIGHT_MIN`].
pub const WEIGHT_MAX: f32 = 10.0;
/// Predicted binary masks are binarised at this threshold before resynthesis (`--mask_thres`).
pub const MASK_THRESHOLD: f32 = 0.5;
/// SoP skips an evaluation sample when a reference or estimate has `Σ|x| <= SILENCE_L1`
/// (`main.py:146-148`).
pub const SILENCE_L1: f32 = 1e-5;

/// Which target masks the network learns (`--binary_mask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MaskKind {
    /// `m_n = [mag_n > 0.5 mag_mix]`, sigmoid output, weighted BCE; predictions binarised at 0.5
    /// before resynthesis (SoP's default, `--binary_mask 1`).
    #[default]
    Binary,
    /// `m_n = clamp(mag_n / mag_mix, 0, 5)`, ReLU output, weighted L1; used as is
    /// (`--binary_mask 0 --loss l1`).
    Ratio,
}

/// Parameters of the data path. [`MixConfig::sound_of_pixels`] is the reference setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MixConfig {
    /// Sample rate every input must have (Hz).
    pub sample_rate: u32,
    /// Samples every source (and mixture) must have.
    pub clip_len: usize,
    /// STFT parameters (n_fft 1022, hop 256, librosa defaults).
    pub stft: StftConfig,
    /// Rows of the log-frequency grid (256).
    pub log_freq_bins: usize,
    /// Target masks.
    pub mask: MaskKind,
    /// Weight the loss by `clamp(log1p(mag_mix), 1e-3, 10)` (`--weighted_loss 1`); else ones.
    pub weighted_loss: bool,
}

impl Default for MixConfig {
    fn default() -> Self {
        Self::sound_of_pixels()
    }
}

impl MixConfig {
    /// Sound-of-Pixels: 11 025 Hz, 65 535 samples, STFT 1022/256 (512 x 256), warp to 256 x 256,
    /// binary masks, weighted loss (docs/reference_implementation.md §8.1-8.3).
    pub fn sound_of_pixels() -> Self {
        Self {
            sample_rate: SOP_SAMPLE_RATE,
            clip_len: SOP_CLIP_LEN,
            stft: StftConfig::sound_of_pixels(),
            log_freq_bins: SOP_LOG_FREQ_BINS,
            mask: MaskKind::Binary,
            weighted_loss: true,
        }
    }

    /// The same with another mask kind.
    pub fn with_mask(mut self, mask: MaskKind) -> Self {
        self.mask = mask;
        self
    }

    /// Number of STFT frames `T` of a clip (256 for SoP).
    pub fn n_frames(&self) -> usize {
        self.stft.n_frames(self.clip_len).unwrap_or(0)
    }

    /// Samples of a resynthesised signal, `hop * (T - 1)` (65 280 for SoP): librosa's `istft`
    /// without `length` drops the centring pad.
    pub fn output_len(&self) -> usize {
        self.stft.hop_length * self.n_frames().saturating_sub(1)
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`SeparationError::InvalidConfig`] naming the bad field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SeparationError::InvalidConfig(m));
        if self.sample_rate == 0 {
            return bad("sample_rate must be > 0".into());
        }
        self.stft.validate()?;
        if self.stft.n_frames(self.clip_len).is_none_or(|t| t < 2) {
            return bad(format!("clip_len {} gives fewer than 2 STFT frames", self.clip_len));
        }
        if self.log_freq_bins < 2 || self.stft.n_freqs() < 2 {
            return bad(format!("log_freq_bins {} must be >= 2", self.log_freq_bins));
        }
        Ok(())
    }
}

/// The mixture's linear-frequency STFT, kept for resynthesis.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureSpectra {
    /// `|X_mix|`, `(n_fft / 2 + 1, T)` = 512 x 256 (no epsilon added, as SoP's `calc_metrics`).
    pub magnitude: Array2<f32>,
    /// `angle(X_mix)` in radians, same shape.
    pub phase: Array2<f32>,
}

/// What the network needs from a mixture, plus what resynthesis needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureInput {
    /// The mixture waveform (`clip_len` samples).
    pub mixture: Vec<f32>,
    /// Its linear-frequency magnitude and phase.
    pub spectra: MixtureSpectra,
    /// `log(warp(|X_mix| + 1e-10))`, `(log_freq_bins, T)` = 256 x 256, rows low to high
    /// frequency: the network input.
    pub log_magnitude: Array2<f32>,
    /// `warp(|X_mix| + 1e-10)`, same shape (targets and weights are computed against it).
    pub warped_magnitude: Array2<f32>,
}

/// One training or evaluation example of mix-and-separate.
#[derive(Debug, Clone, PartialEq)]
pub struct MixExample {
    /// The ground-truth sources as mixed: each input divided by `N` (SoP's `audios[n] /= N`),
    /// `clip_len` samples each. These are the BSS-Eval references.
    pub sources: Vec<Vec<f32>>,
    /// The mixture, its spectra and the network input.
    pub input: MixtureInput,
    /// Target mask of each source on the warped grid, `(log_freq_bins, T)`.
    pub targets: Vec<Array2<f32>>,
    /// Loss weight on the warped grid, `(log_freq_bins, T)`.
    pub weight: Array2<f32>,
}

impl MixExample {
    /// Number of sources `N`.
    pub fn num_sources(&self) -> usize {
        self.sources.len()
    }
}

/// The planned data path: STFT, iSTFT and the two warps, made once and reused.
#[derive(Debug, Clone)]
pub struct Mixer {
    config: MixConfig,
    stft: Stft,
    istft: Istft,
    warp: FreqWarp,
    unwarp: FreqWarp,
}

impl Mixer {
    /// Plans the transforms of `config`.
    ///
    /// # Errors
    /// [`SeparationError::InvalidConfig`] or [`SeparationError::Audio`] for a bad configuration.
    pub fn new(config: MixConfig) -> Result<Self> {
        config.validate()?;
        let n_freqs = config.stft.n_freqs();
        Ok(Self {
            config,
            stft: Stft::new(config.stft)?,
            istft: Istft::new(config.stft)?,
            warp: FreqWarp::new(WarpDirection::LinearToLog, n_freqs, config.log_freq_bins)?,
            unwarp: FreqWarp::new(WarpDirection::LogToLinear, config.log_freq_bins, n_freqs)?,
        })
    }

    /// Sound-of-Pixels' data path ([`MixConfig::sound_of_pixels`]).
    ///
    /// # Errors
    /// None in practice (the constant configuration is valid).
    pub fn sound_of_pixels() -> Result<Self> {
        Self::new(MixConfig::sound_of_pixels())
    }

    /// The configuration.
    pub fn config(&self) -> &MixConfig {
        &self.config
    }

    /// Shape `(log_freq_bins, T)` of network inputs, targets, weights and predicted masks
    /// (256 x 256 for SoP).
    pub fn grid_shape(&self) -> (usize, usize) {
        (self.config.log_freq_bins, self.config.n_frames())
    }

    fn check_signal(
        &self,
        op: &'static str,
        what: &'static str,
        index: usize,
        x: &[f32],
        rate: u32,
    ) -> Result<()> {
        if rate != self.config.sample_rate {
            return Err(SeparationError::SampleRate { op, expected: self.config.sample_rate, actual: rate });
        }
        if x.len() != self.config.clip_len {
            return Err(SeparationError::Length {
                op,
                index,
                expected: self.config.clip_len,
                actual: x.len(),
            });
        }
        ensure_finite(op, what, index, x)
    }

    /// Analyses a mixture: STFT, warp of `|X| + 1e-10`, log.
    ///
    /// # Shapes
    /// `mixture`: `clip_len` samples at `sample_rate`.
    ///
    /// # Errors
    /// [`SeparationError::SampleRate`], [`SeparationError::Length`],
    /// [`SeparationError::NonFinite`].
    pub fn analyze(&self, mixture: &[f32], sample_rate: u32) -> Result<MixtureInput> {
        self.check_signal("Mixer::analyze", "mixture", 0, mixture, sample_rate)?;
        self.analyze_unchecked(mixture.to_vec())
    }

    fn analyze_unchecked(&self, mixture: Vec<f32>) -> Result<MixtureInput> {
        let spec = self.stft.forward(&mixture)?;
        let spectra = MixtureSpectra { magnitude: spec.magnitude(), phase: spec.phase() };
        let warped_magnitude = self.warp.apply(&spectra.magnitude.mapv(|m| m + MAG_EPS), None)?;
        let log_magnitude = warped_magnitude.mapv(f32::ln);
        Ok(MixtureInput { mixture, spectra, log_magnitude, warped_magnitude })
    }

    /// Mixes `N` sources as Sound-of-Pixels: each is divided by `N`, the mixture is their sum;
    /// computes the network input, the target masks (after warping, binary or ratio as
    /// configured) and the loss weights.
    ///
    /// # Shapes
    /// `sources`: `N >= 1` signals of `clip_len` samples at `sample_rate`.
    ///
    /// # Errors
    /// [`SeparationError::Empty`] for no sources, [`SeparationError::SampleRate`],
    /// [`SeparationError::Length`], [`SeparationError::NonFinite`].
    pub fn mix<S: AsRef<[f32]>>(&self, sources: &[S], sample_rate: u32) -> Result<MixExample> {
        const OP: &str = "Mixer::mix";
        if sources.is_empty() {
            return Err(SeparationError::Empty { op: OP, what: "source list" });
        }
        for (i, s) in sources.iter().enumerate() {
            self.check_signal(OP, "source", i, s.as_ref(), sample_rate)?;
        }
        let n = sources.len() as f32;
        let scaled: Vec<Vec<f32>> =
            sources.iter().map(|s| s.as_ref().iter().map(|x| x / n).collect()).collect();
        let mut mixture = vec![0.0f32; self.config.clip_len];
        for s in &scaled {
            for (m, x) in mixture.iter_mut().zip(s) {
                *m += x;
            }
        }
        let input = self.analyze_unchecked(mixture)?;
        let targets = scaled
            .iter()
            .map(|s| {
                let mag = self.warp.apply(&self.stft.forward(s)?.magnitude(), None)?;
                Ok(target_mask(&mag, &input.warped_magnitude, self.config.mask))
            })
            .collect::<Result<Vec<_>>>()?;
        let weight = if self.config.weighted_loss {
            loss_weight(&input.warped_magnitude)
        } else {
            Array2::ones(input.warped_magnitude.dim())
        };
        Ok(MixExample { sources: scaled, input, targets, weight })
    }

    /// Brings a mask on the warped grid back to linear frequency (`(log_freq_bins, T)` ->
    /// `(n_fft / 2 + 1, T)`, SoP `main.py:115-118`) and, for binary masks, binarises it at
    /// [`MASK_THRESHOLD`] (`main.py:125-127`).
    ///
    /// # Errors
    /// [`SeparationError::Shape`] for a mask of another shape than [`Mixer::grid_shape`],
    /// [`SeparationError::NonFinite`].
    pub fn unwarp_mask(&self, mask: &Array2<f32>) -> Result<Array2<f32>> {
        const OP: &str = "Mixer::unwarp_mask";
        if mask.dim() != self.grid_shape() {
            return Err(SeparationError::Shape {
                op: OP,
                expected: format!("a mask of {:?}", self.grid_shape()),
                actual: format!("{:?}", mask.dim()),
            });
        }
        ensure_finite_array(OP, "mask", 0, mask)?;
        let linear = self.unwarp.apply(mask, None)?;
        Ok(match self.config.mask {
            MaskKind::Binary => linear.mapv(|m| if m > MASK_THRESHOLD { 1.0 } else { 0.0 }),
            MaskKind::Ratio => linear,
        })
    }

    /// Resynthesises one source: unwarp (and binarise) `mask`, multiply the mixture magnitude,
    /// iSTFT with the mixture phase (librosa `istft`, no `length`), clip to [-1, 1]
    /// (SoP `main.py:130-137`, `utils.py:101-104`).
    ///
    /// # Shapes
    /// `mask`: `(log_freq_bins, T)`; output: [`MixConfig::output_len`] samples (65 280).
    ///
    /// # Errors
    /// As [`Mixer::unwarp_mask`].
    pub fn reconstruct(&self, spectra: &MixtureSpectra, mask: &Array2<f32>) -> Result<Vec<f32>> {
        let linear = self.unwarp_mask(mask)?;
        self.reconstruct_linear(spectra, &linear)
    }

    /// Resynthesises with a mask that is already on the linear grid (`(n_fft / 2 + 1, T)`),
    /// used as is (no binarisation).
    ///
    /// # Errors
    /// [`SeparationError::Shape`] for a mask of another shape than the spectra.
    pub fn reconstruct_linear(
        &self,
        spectra: &MixtureSpectra,
        linear_mask: &Array2<f32>,
    ) -> Result<Vec<f32>> {
        if linear_mask.dim() != spectra.magnitude.dim() {
            return Err(SeparationError::Shape {
                op: "Mixer::reconstruct_linear",
                expected: format!("a mask of {:?}", spectra.magnitude.dim()),
                actual: format!("{:?}", linear_mask.dim()),
            });
        }
        let mut magnitude = spectra.magnitude.clone();
        Zip::from(&mut magnitude).and(linear_mask).for_each(|m, &k| *m *= k);
        self.istft(&magnitude, &spectra.phase)
    }

    /// The mixture resynthesised from its own magnitude and phase (SoP's `mix_wav`, the estimate
    /// of the mixture baseline), [`MixConfig::output_len`] samples.
    ///
    /// # Errors
    /// [`SeparationError::Audio`] for spectra of a wrong shape.
    pub fn reconstruct_mixture(&self, spectra: &MixtureSpectra) -> Result<Vec<f32>> {
        self.istft(&spectra.magnitude, &spectra.phase)
    }

    fn istft(&self, magnitude: &Array2<f32>, phase: &Array2<f32>) -> Result<Vec<f32>> {
        let spec = Spectrogram::from_polar(magnitude, phase, self.config.stft)?;
        let mut wav = self.istft.inverse(&spec, None)?;
        wav.iter_mut().for_each(|x| *x = x.clamp(-1.0, 1.0));
        Ok(wav)
    }

    /// The masks of an oracle: the targets of `example` (ideal binary or ratio masks on the
    /// warped grid), to check the data path and give an upper bound.
    pub fn ideal_masks(example: &MixExample) -> Vec<Array2<f32>> {
        example.targets.clone()
    }
}

/// Target mask of one source against the (warped, `+1e-10`) mixture magnitude (SoP
/// `main.py:57-66`).
pub fn target_mask(source_mag: &Array2<f32>, mix_mag: &Array2<f32>, kind: MaskKind) -> Array2<f32> {
    let mut out = Array2::zeros(mix_mag.dim());
    Zip::from(&mut out).and(source_mag).and(mix_mag).for_each(|o, &s, &m| {
        *o = match kind {
            MaskKind::Binary => {
                if s > BINARY_RATIO * m {
                    1.0
                } else {
                    0.0
                }
            }
            MaskKind::Ratio => (s / m).clamp(0.0, RATIO_CLAMP),
        }
    });
    out
}

/// Loss weight `clamp(log1p(mag_mix), 1e-3, 10)` on the warped grid (SoP `main.py:50-53`).
pub fn loss_weight(mix_mag: &Array2<f32>) -> Array2<f32> {
    mix_mag.mapv(|m| m.ln_1p().clamp(WEIGHT_MIN, WEIGHT_MAX))
}
