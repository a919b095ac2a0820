//! SoundNet-Flickr: training pairs (one frame + its audio, optional soft pseudo labels) and the
//! annotated test set (per-id XML boxes from several annotators, a frame, an audio file).
//!
//! ```text
//! flickr_train/                       flickr_test/
//! ├── frames/<id>.jpg                 ├── Annotations/<id>.xml   (see flickr_xml)
//! ├── audio/<id>.wav  (.flac .mp3..)  ├── frames/<id>.jpg
//! ├── train_ids.txt      (optional)   ├── audio/<id>.wav
//! ├── pseudo_labels.json (optional)   └── test_ids.txt           (optional)
//! └── labels_a.npy, labels_v.npy (optional, rows in id-list order)
//! ```
//! Id lists: one id per line, first comma-separated field, extension ignored (so the official
//! `gtest.txt` and LVS's `flickr_test.csv` work as they are). Without a list, every frame
//! (train) or every XML file (test) is an item, sorted by name.
//!
//! Pseudo labels (`pseudo_labels.json`):
//! `{"classes": ["Human sounds", ...], "labels": {"<id>": {"audio": [C floats], "visual": [C floats]}}}`;
//! or the official code's `labels_a.npy` / `labels_v.npy` ((N, 7) float, the 7 categories of
//! [`crate::classes::FLICKR_CATEGORIES`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::classes::FLICKR_CATEGORIES;
use crate::error::{DataError, Result};
use crate::files::{
    AUDIO_EXTS, IMAGE_EXTS, list_dir, read_id_list, read_json, require_with_ext, strip_known_ext,
};
use crate::image_io::{image_size, load_frame};
use crate::layouts::flickr_xml::{AnnotatedBox, read_flickr_xml};
use crate::media::load_audio;
use crate::npy::read_npy;
use crate::report::{LoadReport, SkipPolicy};

/// Sample rate of the paper's audio (Hz).
pub const FLICKR_RATE: u32 = 22_050;
/// Samples in one 5-s training clip at [`FLICKR_RATE`].
pub const FLICKR_CLIP_LEN: usize = 5 * FLICKR_RATE as usize;

/// Soft pseudo labels of one pair, `C` values in `[0, 1]` each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PseudoLabels {
    /// Audio labels.
    pub audio: Vec<f32>,
    /// Visual labels.
    pub visual: Vec<f32>,
}

/// The JSON pseudo-label file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PseudoLabelFile {
    /// Class names, index = label position.
    pub classes: Vec<String>,
    /// Labels by id.
    pub labels: BTreeMap<String, PseudoLabels>,
}

/// Where a training layout's pseudo labels come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PseudoLabelSource {
    /// No labels.
    None,
    /// A `pseudo_labels.json` file.
    Json(PathBuf),
    /// The official `labels_a.npy` / `labels_v.npy` pair, rows in id-list order.
    Npy {
        /// Audio labels, (N, C).
        audio: PathBuf,
        /// Visual labels, (N, C).
        visual: PathBuf,
    },
}

/// One training pair.
#[derive(Debug, Clone, PartialEq)]
pub struct FlickrPair {
    /// The id (file stem).
    pub id: String,
    /// The frame.
    pub frame: PathBuf,
    /// The audio file.
    pub audio: PathBuf,
    /// Its pseudo labels, when the layout has them.
    pub labels: Option<PseudoLabels>,
}

impl FlickrPair {
    /// The frame as 256x256 RGB (resized with [`crate::image_io::resize_bilinear`] if needed).
    ///
    /// # Errors
    /// [`DataError::Missing`], [`DataError::Image`].
    pub fn load_frame(&self) -> Result<RgbImage> {
        load_frame(&self.frame)
    }

    /// The first 5 s at 22 050 Hz, zero-padded (docs/reference_implementation.md §1.1): [`FLICKR_CLIP_LEN`] samples.
    ///
    /// # Errors
    /// [`DataError::Audio`].
    pub fn load_audio(&self) -> Result<Vec<f32>> {
        load_audio(&self.audio, FLICKR_RATE, Some(FLICKR_CLIP_LEN))
    }
}

/// A loaded training set.
#[derive(Debug, Clone, PartialEq)]
pub struct FlickrTrainSet {
    /// The pairs, in id-list order.
    pub pairs: Vec<FlickrPair>,
    /// Label class names (empty without labels).
    pub classes: Vec<String>,
}

/// Where the files of a SoundNet-Flickr training set are (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct FlickrTrainLayout {
    /// Dataset root.
    pub root: PathBuf,
    /// Frames directory, relative to the root.
    pub frames_dir: String,
    /// Audio directory, relative to the root.
    pub audio_dir: String,
    /// Id list; `None`: every frame.
    pub id_list: Option<PathBuf>,
    /// Pseudo labels.
    pub labels: PseudoLabelSource,
    /// Decode every frame's header while indexing, so unreadable images are found up front.
    pub check_frames: bool,
}

impl FlickrTrainLayout {
    /// The standard layout under `root`, picking up `train_ids.txt`, `pseudo_labels.json` or
    /// `labels_a.npy` + `labels_v.npy` when they exist.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let ids = root.join("train_ids.txt");
        let json = root.join("pseudo_labels.json");
        let (na, nv) = (root.join("labels_a.npy"), root.join("labels_v.npy"));
        let labels = if json.is_file() {
            PseudoLabelSource::Json(json)
        } else if na.is_file() && nv.is_file() {
            PseudoLabelSource::Npy { audio: na, visual: nv }
        } else {
            PseudoLabelSource::None
        };
        Self {
            id_list: ids.is_file().then_some(ids),
            root,
            frames_dir: "frames".into(),
            audio_dir: "audio".into(),
            labels,
            check_frames: true,
        }
    }

    /// Indexes the pairs.
    ///
    /// # Errors
    /// File-level problems always fail (missing frames directory or id list, malformed label
    /// file, label count differing from the id count); item-level problems (missing or unreadable
    /// frame, missing audio, missing or out-of-range labels) follow `policy`.
    pub fn load(&self, policy: SkipPolicy) -> Result<(FlickrTrainSet, LoadReport)> {
        let frames = self.root.join(&self.frames_dir);
        let audio = self.root.join(&self.audio_dir);
        let ids = match &self.id_list {
            Some(p) => read_id_list(p)?,
            None => list_dir(&frames, "frames directory")?
                .iter()
                .filter(|p| p.is_file())
                .filter_map(|p| {
                    p.file_name().and_then(|n| n.to_str()).map(|n| strip_known_ext(n).to_string())
                })
                .collect(),
        };
        let (classes, labels) = self.read_labels(&ids)?;
        let mut report = LoadReport::new("flickr-train", &self.root);
        let mut pairs = Vec::with_capacity(ids.len());
        for (row, id) in ids.iter().enumerate() {
            let item = (|| {
                let frame = require_with_ext(&frames, id, &IMAGE_EXTS, "frame")?;
                if self.check_frames {
                    image_size(&frame)?;
                }
                let audio = require_with_ext(&audio, id, &AUDIO_EXTS, "audio")?;
                let labels = match &labels {
                    LabelTable::None => None,
                    LabelTable::Json(path, map) => Some(map.get(id).cloned().ok_or_else(|| {
                        DataError::Json { path: path.clone(), detail: format!("no labels for id {id:?}") }
                    })?),
                    LabelTable::Rows(rows) => rows.get(row).cloned(),
                };
                Ok(FlickrPair { id: id.clone(), frame, audio, labels })
            })();
            if let Some(p) = report.take(policy, id, item)? {
                pairs.push(p);
            }
        }
        Ok((FlickrTrainSet { pairs, classes }, report))
    }

    fn read_labels(&self, ids: &[String]) -> Result<(Vec<String>, LabelTable)> {
        match &self.labels {
            PseudoLabelSource::None => Ok((Vec::new(), LabelTable::None)),
            PseudoLabelSource::Json(path) => {
                let file: PseudoLabelFile = read_json(path, "pseudo labels")?;
                let c = file.classes.len();
                for (id, l) in &file.labels {
                    check_labels(path, id, l, c)?;
                }
                Ok((file.classes, LabelTable::Json(path.clone(), file.labels)))
            }
            PseudoLabelSource::Npy { audio, visual } => {
                let (a, v) = (read_npy(audio)?, read_npy(visual)?);
                for (arr, path) in [(&a, audio), (&v, visual)] {
                    if arr.shape.len() != 2 || arr.shape[0] != ids.len() {
                        return Err(DataError::Npy {
                            path: path.clone(),
                            detail: format!(
                                "shape {:?}, expected ({}, C) rows in id-list order",
                                arr.shape,
                                ids.len()
                            ),
                        });
                    }
                }
                if a.shape != v.shape {
                    return Err(DataError::Npy {
                        path: visual.clone(),
                        detail: format!("shape {:?} differs from the audio labels' {:?}", v.shape, a.shape),
                    });
                }
                let rows: Vec<PseudoLabels> = (0..ids.len())
                    .map(|i| PseudoLabels {
                        audio: a.row(i).unwrap_or(&[]).iter().map(|&x| x as f32).collect(),
                        visual: v.row(i).unwrap_or(&[]).iter().map(|&x| x as f32).collect(),
                    })
                    .collect();
                for (id, l) in ids.iter().zip(&rows) {
                    check_labels(audio, id, l, a.shape[1])?;
                }
                let classes = if a.shape[1] == FLICKR_CATEGORIES.len() {
                    FLICKR_CATEGORIES.iter().map(|s| s.to_string()).collect()
                } else {
                    (0..a.shape[1]).map(|i| format!("class_{i}")).collect()
                };
                Ok((classes, LabelTable::Rows(rows)))
            }
        }
    }
}

enum LabelTable {
    None,
    Json(PathBuf, BTreeMap<String, PseudoLabels>),
    Rows(Vec<PseudoLabels>),
}

fn check_labels(path: &Path, id: &str, l: &PseudoLabels, classes: usize) -> Result<()> {
    for (name, v) in [("audio", &l.audio), ("visual", &l.visual)] {
        if v.len() != classes {
            return Err(DataError::Json {
                path: path.to_path_buf(),
                detail: format!("{name} labels of {id:?} have {} values, expected {classes}", v.len()),
            });
        }
        if let Some(x) = v.iter().find(|x| !(0.0..=1.0).contains(*x)) {
            return Err(DataError::Json {
                path: path.to_path_buf(),
                detail: format!("{name} label {x} of {id:?} is outside [0, 1]"),
            });
        }
    }
    Ok(())
}

/// One annotated test image.
#[derive(Debug, Clone, PartialEq)]
pub struct FlickrTestItem {
    /// The id.
    pub id: String,
    /// The frame.
    pub frame: PathBuf,
    /// The audio file.
    pub audio: PathBuf,
    /// The XML annotation file.
    pub annotation: PathBuf,
    /// Canvas width of the box coordinates (256 unless the XML has `<size>`).
    pub width: u32,
    /// Canvas height.
    pub height: u32,
    /// Every annotator's box (2-7 per image in the real set).
    pub boxes: Vec<AnnotatedBox>,
}

impl FlickrTestItem {
    /// The frame as 256x256 RGB.
    ///
    /// # Errors
    /// [`DataError::Missing`], [`DataError::Image`].
    pub fn load_frame(&self) -> Result<RgbImage> {
        load_frame(&self.frame)
    }

    /// The whole audio file at 22 050 Hz (MSSL's test loader neither crops nor pads; it then
    /// peak-normalises, see `av_audio::peak_normalize`).
    ///
    /// # Errors
    /// [`DataError::Audio`].
    pub fn load_audio(&self) -> Result<Vec<f32>> {
        load_audio(&self.audio, FLICKR_RATE, None)
    }
}

/// Where the files of the annotated SoundNet-Flickr test set are (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct FlickrTestLayout {
    /// Dataset root.
    pub root: PathBuf,
    /// Annotation directory, relative to the root.
    pub annotations_dir: String,
    /// Frames directory, relative to the root.
    pub frames_dir: String,
    /// Audio directory, relative to the root.
    pub audio_dir: String,
    /// Id list; `None`: every XML file in the annotation directory.
    pub id_list: Option<PathBuf>,
    /// Canvas of the coordinates when an XML file has no `<size>` (the 256x256 frames).
    pub canvas: (u32, u32),
    /// Pixels a box may extend past the canvas before it is rejected (then it is clamped); 1 px
    /// accepts files written with 0-based indices.
    pub box_tolerance: f64,
    /// Decode every frame's header while indexing.
    pub check_frames: bool,
}

impl FlickrTestLayout {
    /// The standard layout under `root`, using `test_ids.txt` when it exists.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let ids = root.join("test_ids.txt");
        Self {
            id_list: ids.is_file().then_some(ids),
            root,
            annotations_dir: "Annotations".into(),
            frames_dir: "frames".into(),
            audio_dir: "audio".into(),
            canvas: (256, 256),
            box_tolerance: 1.0,
            check_frames: true,
        }
    }

    /// Reads every annotation and checks that frame and audio exist.
    ///
    /// # Errors
    /// A missing annotation directory or id list always fails; per-item problems (malformed XML,
    /// invalid box, box outside the image, missing or unreadable frame, missing audio) follow
    /// `policy`.
    pub fn load(&self, policy: SkipPolicy) -> Result<(Vec<FlickrTestItem>, LoadReport)> {
        let anno_dir = self.root.join(&self.annotations_dir);
        let frames = self.root.join(&self.frames_dir);
        let audio = self.root.join(&self.audio_dir);
        let ids = match &self.id_list {
            Some(p) => read_id_list(p)?,
            None => list_dir(&anno_dir, "annotation directory")?
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")))
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
                .collect(),
        };
        let mut report = LoadReport::new("flickr-test", &self.root);
        let mut items = Vec::with_capacity(ids.len());
        for id in &ids {
            let item = (|| {
                let annotation = anno_dir.join(format!("{id}.xml"));
                let a = read_flickr_xml(&annotation, self.canvas, self.box_tolerance)?;
                let frame = require_with_ext(&frames, id, &IMAGE_EXTS, "frame")?;
                if self.check_frames {
                    image_size(&frame)?;
                }
                let audio = require_with_ext(&audio, id, &AUDIO_EXTS, "audio")?;
                Ok(FlickrTestItem {
                    id: id.clone(),
                    frame,
                    audio,
                    annotation,
                    width: a.width,
                    height: a.height,
                    boxes: a.boxes,
                })
            })();
            if let Some(i) = report.take(policy, id, item)? {
                items.push(i);
            }
        }
        Ok((items, report))
    }
}
