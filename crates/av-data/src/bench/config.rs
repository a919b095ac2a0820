//! The generator's configuration.

use serde::{Deserialize, Serialize};

use crate::classes::Vocabulary;
use crate::error::{DataError, Result};

/// Sample rate and length of the generated audio clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipSpec {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Samples per clip.
    pub len: usize,
}

impl ClipSpec {
    /// Localization clips: 22 050 Hz, 5 s (110 250 samples), as the paper's log-mel input.
    pub const LOCALIZATION: ClipSpec = ClipSpec { sample_rate: 22_050, len: 110_250 };
    /// Separation clips: 11 025 Hz, 65 535 samples, as Sound-of-Pixels.
    pub const SEPARATION: ClipSpec = ClipSpec { sample_rate: 11_025, len: 65_535 };

    /// Clip duration in seconds.
    pub fn seconds(&self) -> f32 {
        self.len as f32 / self.sample_rate as f32
    }
}

/// How scenes are generated. Every scene is a pure function of this configuration, the asset
/// pack, the split and the scene index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Master seed.
    pub seed: u64,
    /// Class list the scenes draw instruments from and are labelled with.
    pub vocabulary: Vocabulary,
    /// Frame side in pixels (256).
    pub image_size: u32,
    /// Audio clip format.
    pub clip: ClipSpec,
    /// Difficulty levels (numbers of sounding sources, 1..=3), drawn uniformly per scene.
    pub levels: Vec<u8>,
    /// Probability that a scene also shows silent distractor objects.
    pub distractor_prob: f64,
    /// Most distractors in one scene (1.. when `distractor_prob > 0`).
    pub max_distractors: u8,
    /// Largest IoU allowed between two sprites' rectangles when placing them.
    pub max_overlap_iou: f64,
    /// Smallest fraction of an object's own opaque pixels that must stay visible after
    /// occlusion.
    pub min_visible_fraction: f64,
    /// RMS level of every stem before mixing (then scaled by a random gain in [0.7, 1]).
    pub stem_rms: f32,
}

impl BenchConfig {
    /// Localization benchmark: AudioSet's 15 classes, 22 050 Hz 5-s clips, levels 1-3, silent
    /// distractors in 30 % of the scenes.
    pub fn localization(seed: u64) -> Self {
        Self {
            seed,
            vocabulary: Vocabulary::AudioSet15,
            image_size: 256,
            clip: ClipSpec::LOCALIZATION,
            levels: vec![1, 2, 3],
            distractor_prob: 0.3,
            max_distractors: 1,
            max_overlap_iou: 0.15,
            min_visible_fraction: 0.6,
            stem_rms: 0.08,
        }
    }

    /// Separation benchmark: MUSIC's 11 instruments, 11 025 Hz 65 535-sample clips, solos and
    /// duets (levels 1 and 2).
    pub fn separation(seed: u64) -> Self {
        Self {
            vocabulary: crate::classes::Vocabulary::Music11,
            clip: ClipSpec::SEPARATION,
            levels: vec![1, 2],
            ..Self::localization(seed)
        }
    }

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`DataError::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DataError::InvalidConfig(m));
        if self.levels.is_empty() || self.levels.iter().any(|&l| !(1..=3).contains(&l)) {
            return bad(format!("levels must be non-empty and within 1..=3, got {:?}", self.levels));
        }
        if self.image_size < 64 {
            return bad(format!("image_size {} < 64", self.image_size));
        }
        if self.clip.sample_rate == 0 || self.clip.len == 0 {
            return bad(format!("clip {:?}", self.clip));
        }
        if !(0.0..=1.0).contains(&self.distractor_prob) || !(0.0..=1.0).contains(&self.max_overlap_iou) {
            return bad("probabilities must lie in [0, 1]".into());
        }
        if !(0.0..1.0).contains(&self.min_visible_fraction) {
            return bad("min_visible_fraction must lie in [0, 1)".into());
        }
        let max_objects =
            usize::from(*self.levels.iter().max().unwrap_or(&1)) + usize::from(self.max_distractors);
        if max_objects > self.vocabulary.len() {
            return bad(format!("{max_objects} objects need more classes than {:?} has", self.vocabulary));
        }
        if !(self.stem_rms > 0.0 && self.stem_rms < 0.5) {
            return bad(format!("stem_rms {} outside (0, 0.5)", self.stem_rms));
        }
        Ok(())
    }
}
