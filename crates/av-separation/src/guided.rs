//! The guided separator of the paper's Table 3: the separation network plus the projection
//! of a vector guidance, the guidance variants, what a guide model gives for one source, and
//! the Grad-CAM variant's mask ([`cam_to_grid`]).
//!
//! The guide (the coarse-to-fine model of `av-align`) is not a dependency of this crate: it
//! hands its outputs over as plain vectors ([`SourceGuidance`]), so the separator can be
//! trained and used with any guide.

use av_audio::{LogMelConfig, hz_to_mel};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SeparationError};
use crate::mix::Mixer;
use crate::model::{
    Guidance, GuidanceProjection, GuidanceProjectionConfig, SeparationNet, SeparationNetConfig,
};

/// What tells the separation network which source to extract (the rows of Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GuidanceKind {
    /// Sound-of-Pixels' baseline: the max over all positions of the frame's visual feature map.
    WholeFrame,
    /// The audio class map `W_a^c` used directly as the mask.
    GradCam,
    /// Eq. 5 pooling of the audio map `F_a` with `W_a^c`, projected to K channels.
    Audio,
    /// Eq. 5 pooling of the visual map `F_v` with the localization map `K^c`, projected.
    Visual,
}

impl GuidanceKind {
    /// Every variant, in the order of the table.
    pub const ALL: [GuidanceKind; 4] =
        [GuidanceKind::WholeFrame, GuidanceKind::GradCam, GuidanceKind::Audio, GuidanceKind::Visual];

    /// The row name (the paper's where it has one).
    pub fn name(self) -> &'static str {
        match self {
            GuidanceKind::WholeFrame => "Sound-of-Pixels (whole-frame vector)",
            GuidanceKind::GradCam => "Ours Grad-CAM",
            GuidanceKind::Audio => "Ours Audio",
            GuidanceKind::Visual => "Ours Visual",
        }
    }

    /// A short name for files and folders.
    pub fn slug(self) -> &'static str {
        match self {
            GuidanceKind::WholeFrame => "whole_frame",
            GuidanceKind::GradCam => "grad_cam",
            GuidanceKind::Audio => "audio",
            GuidanceKind::Visual => "visual",
        }
    }

    /// The paper's row this one is compared with.
    pub fn paper_row(self) -> &'static str {
        match self {
            GuidanceKind::WholeFrame => "Sound-of-Pixels",
            GuidanceKind::GradCam => "Ours Grad-CAM",
            GuidanceKind::Audio => "Ours Audio",
            GuidanceKind::Visual => "Ours Visual",
        }
    }

    /// Whether a network is trained for it (all but Grad-CAM, which is the mask itself).
    pub fn is_trained(self) -> bool {
        self != GuidanceKind::GradCam
    }
}

/// What the guide gives for one source of one mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceGuidance {
    /// The source's class in the separation vocabulary (MUSIC-11).
    pub music_class: usize,
    /// The same in the guide's vocabulary.
    pub guide_class: usize,
    /// Eq. 5 pooling of `F_v` with `K^c` (`D` values).
    pub visual: Vec<f32>,
    /// Max over positions of `F_v` (`D` values).
    pub whole_frame: Vec<f32>,
    /// Eq. 5 pooling of `F_a` with `W_a^c` (`D` values).
    pub audio: Vec<f32>,
    /// `W_a^c` resampled to the separation grid `(256, 256)` (rows = warped log-frequency, low to
    /// high; columns = STFT frames), max-normalised; computed for test mixtures only.
    pub cam_mask: Option<Array2<f32>>,
    /// `K^c` at feature resolution, row-major `loc_size[0] x loc_size[1]` (for pictures).
    pub localization: Vec<f32>,
    /// `[h, w]` of [`Self::localization`].
    pub loc_size: [usize; 2],
    /// Whether `K^c` was all zeros (the visual vector then used `W_v^c`, or uniform weights).
    pub fallback_visual: bool,
    /// Whether `W_a^c` was all zeros (uniform weights for the audio vector, an empty Grad-CAM
    /// mask).
    pub fallback_audio: bool,
}

/// Resamples an audio class map `(ta, fa)` (rows = log-mel time cells, columns = mel cells of
/// the guide's `F_a`) onto the separation grid `(F, T)` = 256 x 256 (rows = warped
/// log-frequency, low to high; columns = STFT frames), max-normalised to `[0, 1]`.
///
/// Frequency: warped row `r` is linear STFT bin `(n_freq − 1)(21^{r/(F−1)} − 1)/20` (SoP's warp,
/// `align_corners` semantics), i.e. `bin · sr / n_fft` Hz at the separation rate; that frequency
/// is placed on the guide's mel axis (Slaney mels of `LogMelConfig::paper`, filter `k` centred
/// at mel point `k + 1`) and the mel position on `F_a`'s cells (cell `j` covers `64 / fa` mel
/// bands, half-pixel centres). Time: STFT frame `τ` is at `τ · hop / sr` s, log-mel frame
/// `s · sr_g / hop_g`, cell likewise. Linear interpolation, clamped at the edges.
///
/// # Errors
/// [`SeparationError::Shape`] when `cam.len() != ta * fa`.
pub fn cam_to_grid(
    cam: &[f32],
    ta: usize,
    fa: usize,
    logmel_frames: usize,
    mixer: &Mixer,
) -> Result<Array2<f32>> {
    if cam.len() != ta * fa || ta == 0 || fa == 0 {
        return Err(SeparationError::Shape {
            op: "cam_to_grid",
            expected: format!("{ta} x {fa} values (an audio class map)"),
            actual: format!("{} values", cam.len()),
        });
    }
    let cfg = mixer.config();
    let (rows, cols) = mixer.grid_shape();
    let lm = LogMelConfig::paper();
    let sr_g = lm.mel.sample_rate as f64;
    let n_mels = lm.mel.n_mels as f64;
    let scale = lm.mel.scale;
    let mel_lo = hz_to_mel(lm.mel.fmin, scale);
    let mel_hi = hz_to_mel(lm.mel.fmax.unwrap_or(sr_g / 2.0), scale);
    let step = (mel_hi - mel_lo) / (n_mels + 1.0);
    let n_freq = cfg.stft.n_freqs() as f64;
    let sr = f64::from(cfg.sample_rate);
    let max = cam.iter().copied().fold(0.0f32, f32::max);
    let norm = if max > 0.0 { 1.0 / max } else { 0.0 };
    let row_pos: Vec<f64> = (0..rows)
        .map(|r| {
            let bin = (n_freq - 1.0) * (21f64.powf(r as f64 / (rows - 1).max(1) as f64) - 1.0) / 20.0;
            let hz = bin * sr / cfg.stft.n_fft as f64;
            let band = (hz_to_mel(hz, scale) - mel_lo) / step - 1.0;
            ((band + 0.5) * fa as f64 / n_mels - 0.5).clamp(0.0, (fa - 1) as f64)
        })
        .collect();
    let col_pos: Vec<f64> = (0..cols)
        .map(|tau| {
            let seconds = (tau * cfg.stft.hop_length) as f64 / sr;
            let frame = seconds * sr_g / lm.stft.hop_length as f64;
            ((frame + 0.5) * ta as f64 / logmel_frames.max(1) as f64 - 0.5).clamp(0.0, (ta - 1) as f64)
        })
        .collect();
    let at = |ti: usize, fi: usize| f64::from(cam[ti * fa + fi]);
    Ok(Array2::from_shape_fn((rows, cols), |(r, tau)| {
        let (y, x) = (row_pos[r], col_pos[tau]); // y: mel cell, x: time cell
        let (y0, x0) = (y.floor() as usize, x.floor() as usize);
        let (y1, x1) = ((y0 + 1).min(fa - 1), (x0 + 1).min(ta - 1));
        let (dy, dx) = (y - y0 as f64, x - x0 as f64);
        let v = (at(x0, y0) * (1.0 - dx) + at(x1, y0) * dx) * (1.0 - dy)
            + (at(x0, y1) * (1.0 - dx) + at(x1, y1) * dx) * dy;
        (v as f32 * norm).clamp(0.0, 1.0)
    }))
}

/// The separation network and the projection of a vector guidance, trained together.
#[derive(Module, Debug)]
pub struct GuidedSeparator {
    /// U-Net + synthesizer.
    pub net: SeparationNet,
    /// Guide feature (`D`) -> K synthesizer channels.
    pub projection: GuidanceProjection,
}

/// Configuration of a [`GuidedSeparator`] (stored next to its weights).
#[derive(Config, Debug)]
pub struct GuidedSeparatorConfig {
    /// The separation network.
    pub net: SeparationNetConfig,
    /// The projection (`input` = the guide's feature width `D`, `channels` = the net's K).
    pub projection: GuidanceProjectionConfig,
}

impl GuidedSeparatorConfig {
    /// Builds both parts (deterministic in their seeds).
    ///
    /// # Errors
    /// [`SeparationError::InvalidConfig`] when the projection's channels differ from the net's K.
    pub fn init(&self, device: &Device) -> Result<GuidedSeparator> {
        if self.projection.channels != self.net.channels {
            return Err(SeparationError::InvalidConfig(format!(
                "projection to {} channels, the network has {}",
                self.projection.channels, self.net.channels
            )));
        }
        Ok(GuidedSeparator { net: self.net.init(device)?, projection: self.projection.init(device) })
    }
}

/// The guidance of source `n` of a batch, for one variant.
///
/// # Shapes
/// `sources`: `B` guide outputs (source `n` of each mixture). Vector variants give
/// [`Guidance::Vector`] `[B, K]` (through `projection`), Grad-CAM [`Guidance::Mask`] `[B, 256, 256]`.
///
/// # Errors
/// [`SeparationError::InvalidConfig`] for a vector variant without a projection or a Grad-CAM source without
/// its mask; [`SeparationError::Shape`] for features of another width than the projection's input.
pub fn guidance_for(
    kind: GuidanceKind,
    sources: &[&SourceGuidance],
    projection: Option<&GuidanceProjection>,
    device: &Device,
) -> Result<Guidance> {
    let b = sources.len();
    if kind == GuidanceKind::GradCam {
        let mut values = Vec::new();
        let mut shape = (0, 0);
        for s in sources {
            let m = s
                .cam_mask
                .as_ref()
                .ok_or_else(|| SeparationError::InvalidConfig("Grad-CAM guidance needs cam_mask".into()))?;
            shape = m.dim();
            values.extend(m.iter().copied());
        }
        return Ok(Guidance::Mask(Tensor::from_data(TensorData::new(values, [b, shape.0, shape.1]), device)));
    }
    let projection = projection
        .ok_or_else(|| SeparationError::InvalidConfig(format!("{kind:?} guidance needs a projection")))?;
    let pick = |s: &SourceGuidance| -> Vec<f32> {
        match kind {
            GuidanceKind::WholeFrame => s.whole_frame.clone(),
            GuidanceKind::Audio => s.audio.clone(),
            _ => s.visual.clone(),
        }
    };
    let d = projection.linear.weight.dims()[0];
    let mut values = Vec::with_capacity(b * d);
    for s in sources {
        let v = pick(s);
        if v.len() != d {
            return Err(SeparationError::Shape {
                op: "guidance_for",
                expected: format!("{d} values (the projection's input)"),
                actual: format!("{} values", v.len()),
            });
        }
        values.extend(v);
    }
    Ok(projection.guidance(Tensor::from_data(TensorData::new(values, [b, d]), device)))
}
