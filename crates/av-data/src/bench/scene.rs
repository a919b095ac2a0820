//! A generated scene and its ground truth.

use image::RgbImage;

use crate::bbox::{BBox, Mask};
use crate::bench::melody::Melody;
use crate::classes::Instrument;
use crate::split::Split;

/// One object pasted into the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneObject {
    /// What it is.
    pub instrument: Instrument,
    /// Class index in the generator's vocabulary.
    pub class: usize,
    /// Whether it plays (false: a visible but silent distractor).
    pub sounding: bool,
    /// Index of its stem in [`SceneAudio::stems`] (sounding objects only).
    pub source: Option<usize>,
    /// Tight box around [`SceneObject::mask`], pixel edges (see [`crate::bbox`]).
    pub bbox: BBox,
    /// Visible pixels after occlusion (visible alpha >= 0.5), `image_size x image_size`.
    pub mask: Mask,
    /// Sprite instance variant ([`crate::bench::sprites::VARIANTS`]).
    pub variant: u8,
    /// Mirrored left-right.
    pub flipped: bool,
    /// Paint order, 0 = furthest back.
    pub depth: usize,
    /// The picture family it is drawn in (`sprites/<family>/`).
    pub family: String,
}

/// One source's signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Stem {
    /// The instrument playing.
    pub instrument: Instrument,
    /// What it plays.
    pub melody: Melody,
    /// The SoundFont it was rendered from (`notes/<font>/`).
    pub font: String,
    /// The source waveform before mixing, `clip.len` samples in [-1, 1].
    pub waveform: Vec<f32>,
}

/// The scene's audio.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneAudio {
    /// Sample rate (Hz).
    pub sample_rate: u32,
    /// The mixture, `Σ stems / N` with N = number of stems (Sound-of-Pixels' mixing).
    pub mix: Vec<f32>,
    /// One stem per sounding object, in source order.
    pub stems: Vec<Stem>,
}

/// A generated audio-visual scene.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// `"<split>_<index:06>"`.
    pub id: String,
    /// Its split.
    pub split: Split,
    /// Index within the split.
    pub index: u64,
    /// Difficulty level = number of sounding objects (1, 2 or 3).
    pub level: u8,
    /// Name of the background photo.
    pub background: String,
    /// The frame, `image_size x image_size` RGB.
    pub image: RgbImage,
    /// Sounding objects first (object `k` plays stem `k`), then distractors.
    pub objects: Vec<SceneObject>,
    /// The audio.
    pub audio: SceneAudio,
}

impl Scene {
    /// The sounding objects, in source order.
    pub fn sounding(&self) -> impl Iterator<Item = &SceneObject> {
        self.objects.iter().filter(|o| o.sounding)
    }

    /// Multi-hot audio labels over `classes` classes (the sounding ones).
    pub fn audio_labels(&self, classes: usize) -> Vec<f32> {
        let mut v = vec![0.0; classes];
        for o in self.sounding() {
            if let Some(x) = v.get_mut(o.class) {
                *x = 1.0;
            }
        }
        v
    }

    /// Multi-hot visual labels over `classes` classes (every visible object, distractors too).
    pub fn visual_labels(&self, classes: usize) -> Vec<f32> {
        let mut v = vec![0.0; classes];
        for o in &self.objects {
            if let Some(x) = v.get_mut(o.class) {
                *x = 1.0;
            }
        }
        v
    }
}
