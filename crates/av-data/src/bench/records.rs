//! The benchmark's ground-truth sidecar, written next to every generated layout:
//!
//! ```text
//! <root>/benchmark/
//! ├── scenes.json              BenchmarkGt: config, class names, one SceneRecord per scene
//! ├── masks/<id>_<k>.png       visible mask of object k (255 = visible), image_size^2
//! └── stems/<id>_<k>.wav       waveform of sounding object k before mixing (32-bit float)
//! ```
//! The layouts themselves carry what the real datasets carry (frames, mixtures, boxes, tags);
//! the sidecar adds what only a generator knows: per-pixel masks, per-source waveforms,
//! distractors and the melodies.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bbox::{BBox, Mask};
use crate::bench::config::BenchConfig;
use crate::bench::melody::Melody;
use crate::bench::scene::Scene;
use crate::classes::Instrument;
use crate::error::{DataError, Result};
use crate::files::read_json;
use crate::split::Split;

/// Directory of the sidecar under a dataset root.
pub const GT_DIR: &str = "benchmark";

/// One object of a scene record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// What it is.
    pub instrument: Instrument,
    /// Class index in the vocabulary.
    pub class: usize,
    /// Whether it plays.
    pub sounding: bool,
    /// Its box `[x0, y0, x1, y1]` in pixel edges.
    pub bbox: BBox,
    /// Number of visible pixels.
    pub mask_pixels: usize,
    /// Mask file, relative to the root (when written).
    pub mask: Option<String>,
    /// Stem file, relative to the root (sounding objects, when written).
    pub stem: Option<String>,
    /// The melody it plays (sounding objects).
    pub melody: Option<Melody>,
    /// Picture family (art style) it is drawn in (empty in files written before it was recorded).
    #[serde(default)]
    pub family: String,
    /// SoundFont its stem plays (sounding objects).
    #[serde(default)]
    pub font: Option<String>,
    /// Sprite variant.
    pub variant: u8,
    /// Mirrored.
    pub flipped: bool,
    /// Paint order (0 = back).
    pub depth: usize,
}

/// One scene's ground truth and where its files are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneRecord {
    /// Scene id.
    pub id: String,
    /// Split.
    pub split: Split,
    /// Index in the split.
    pub index: u64,
    /// Number of sounding objects.
    pub level: u8,
    /// Background photo.
    pub background: String,
    /// Frame file(s), relative to the root.
    pub frames: Vec<String>,
    /// Mixture audio file, relative to the root.
    pub audio: String,
    /// Objects: sounding first (object k plays stem k), then distractors.
    pub objects: Vec<ObjectRecord>,
}

impl SceneRecord {
    /// The record of a scene (file fields empty; the writer fills them).
    pub fn of(scene: &Scene) -> SceneRecord {
        SceneRecord {
            id: scene.id.clone(),
            split: scene.split,
            index: scene.index,
            level: scene.level,
            background: scene.background.to_string(),
            frames: Vec::new(),
            audio: String::new(),
            objects: scene
                .objects
                .iter()
                .map(|o| (o, o.source.and_then(|k| scene.audio.stems.get(k))))
                .map(|(o, stem)| ObjectRecord {
                    instrument: o.instrument,
                    class: o.class,
                    sounding: o.sounding,
                    bbox: o.bbox,
                    mask_pixels: o.mask.count(),
                    mask: None,
                    stem: None,
                    melody: stem.map(|s| s.melody.clone()),
                    family: o.family.clone(),
                    font: stem.map(|s| s.font.clone()),
                    variant: o.variant,
                    flipped: o.flipped,
                    depth: o.depth,
                })
                .collect(),
        }
    }
}

/// The whole sidecar index (`benchmark/scenes.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkGt {
    /// Generator configuration.
    pub config: BenchConfig,
    /// Class names, index = class.
    pub classes: Vec<String>,
    /// Every scene, sorted by split then index.
    pub scenes: Vec<SceneRecord>,
}

/// Reads `<root>/benchmark/scenes.json`.
///
/// # Errors
/// [`DataError::Missing`], [`DataError::Json`].
pub fn read_benchmark_gt(root: &Path) -> Result<BenchmarkGt> {
    read_json(&root.join(GT_DIR).join("scenes.json"), "benchmark ground truth")
}

/// Reads an object's mask PNG.
///
/// # Errors
/// [`DataError::Missing`] when the object has no mask file, [`DataError::Image`].
pub fn load_mask(root: &Path, object: &ObjectRecord) -> Result<Mask> {
    let rel = object.mask.as_deref().ok_or_else(|| DataError::Missing {
        what: "mask (written without masks)",
        path: root.join(GT_DIR).join("masks"),
    })?;
    let path = root.join(rel);
    let img =
        image::open(&path).map_err(|e| DataError::Image { path: path.clone(), detail: e.to_string() })?;
    Ok(Mask::from_gray(&img.to_luma8()))
}
