//! The AudioSet-instrument subset as the official code reads it (`utils/audioset_data.py`,
//! `utils/evaluate.py`): 10-s clips with 1 fps frames, clip-level tags over the 15 classes of
//! [`crate::classes::AUDIOSET_NAMES`], and Faster R-CNN boxes in COCO format for the evaluation
//! frames.
//!
//! ```text
//! audioset/
//! ├── val_audio.json          {"<ytid>": [15 x 0/1], ...}   (JSON form of val_audio.pkl)
//! ├── normav.json             COCO boxes (see coco), image_id = clip_index * 10 + frame
//! ├── audioset_val.npy        (optional) (n_clips, 10) bool: frames that are evaluated
//! └── val/
//!     ├── <ytid>/0000.jpg ... 0009.jpg
//!     └── audio/<ytid>.wav
//! ```
//! `clip_index` is the position of the id in the **sorted** keys of the tag file (the official
//! code sorts the pickle's keys). The training split is the same without boxes
//! (`train_audio.json`, `train/`). The pickles convert with
//! `json.dump({k: [int(x) for x in v] for k, v in pickle.load(f, encoding='bytes').items()}, out)`
//! (decode `bytes` keys first). Generated data uses `<split>_audio.json`, `<split>_normav.json`
//! and `<split>/` for each of `train`, `val`, `test` ([`AudioSetLayout::split`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::bbox::BBox;
use crate::classes::AUDIOSET_NAMES;
use crate::error::{DataError, Result};
use crate::files::{AUDIO_EXTS, IMAGE_EXTS, list_dir, read_json, require_with_ext};
use crate::image_io::{FRAME_SIZE, image_size, load_frame};
use crate::layouts::coco::CocoFile;
use crate::media::load_audio;
use crate::npy::read_npy;
use crate::report::{LoadReport, SkipPolicy};

/// Frames per clip in the official ids (`image_id = clip_index * 10 + frame`).
pub const FRAMES_PER_CLIP_ID: u64 = 10;

/// One clip.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSetClip {
    /// Position of the id in the sorted tag keys.
    pub index: usize,
    /// YouTube id (or generated id).
    pub ytid: String,
    /// Clip-level tags, one 0/1 per class.
    pub tags: Vec<u8>,
    /// Audio file.
    pub audio: PathBuf,
    /// Frame files, sorted (`0000.jpg`, `0001.jpg`, ...).
    pub frames: Vec<PathBuf>,
}

impl AudioSetClip {
    /// The audio at 22 050 Hz, `seconds` seconds from `start_s`, zero-padded
    /// (`utils/audioset_data.py:75-79`).
    ///
    /// # Errors
    /// [`DataError::Audio`].
    pub fn load_audio(&self, start_s: u32, seconds: u32) -> Result<Vec<f32>> {
        let rate = 22_050usize;
        let all = load_audio(&self.audio, rate as u32, None)?;
        let start = (start_s as usize * rate).min(all.len());
        let mut out: Vec<f32> = all[start..].iter().take(seconds as usize * rate).copied().collect();
        out.resize(seconds as usize * rate, 0.0);
        Ok(out)
    }
}

/// A box with its class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassBox {
    /// Class index (0..15).
    pub class: usize,
    /// The box in pixels of the 256x256 frame (see [`crate::bbox`]).
    pub bbox: BBox,
}

/// An annotated frame.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSetFrame {
    /// COCO image id.
    pub image_id: u64,
    /// Clip index (`image_id / 10`).
    pub clip: usize,
    /// Frame number in the clip (`image_id % 10`), i.e. the second.
    pub frame: usize,
    /// The frame file.
    pub path: PathBuf,
    /// Its boxes.
    pub boxes: Vec<ClassBox>,
    /// Whether the evaluation mask marks it (when the layout has one).
    pub evaluated: Option<bool>,
}

impl AudioSetFrame {
    /// Number of distinct classes with a box: the paper's difficulty level (1, 2, 3).
    pub fn level(&self) -> usize {
        let mut c: Vec<usize> = self.boxes.iter().map(|b| b.class).collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    }

    /// The frame as 256x256 RGB.
    ///
    /// # Errors
    /// [`DataError::Missing`], [`DataError::Image`].
    pub fn load_frame(&self) -> Result<RgbImage> {
        load_frame(&self.path)
    }
}

/// A loaded split.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSetSplit {
    /// Class names (from the box file's categories, else the official 15).
    pub classes: Vec<String>,
    /// Clips, in index order.
    pub clips: Vec<AudioSetClip>,
    /// Annotated frames, by image id.
    pub frames: Vec<AudioSetFrame>,
}

/// Where the files of one AudioSet-instrument split are (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSetLayout {
    /// Dataset root.
    pub root: PathBuf,
    /// Split directory (frames per clip, `audio/`), relative to the root.
    pub split_dir: String,
    /// Tag file.
    pub tags: PathBuf,
    /// COCO box file, if any.
    pub boxes: Option<PathBuf>,
    /// Evaluated-frames mask (`.npy`, (n_clips, 10) bool), if any.
    pub eval_mask: Option<PathBuf>,
    /// Slack, in normalised units, allowed outside `[0, 1]` before a box is rejected (then it is
    /// clamped).
    pub box_tolerance: f64,
    /// Decode every annotated frame's header while indexing.
    pub check_frames: bool,
}

impl AudioSetLayout {
    /// The official evaluation split: `val/`, `val_audio.json`, `normav.json`, and
    /// `audioset_val.npy` when present.
    pub fn official_val(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let mask = root.join("audioset_val.npy");
        Self {
            split_dir: "val".into(),
            tags: root.join("val_audio.json"),
            boxes: Some(root.join("normav.json")),
            eval_mask: mask.is_file().then_some(mask),
            box_tolerance: 1e-6,
            check_frames: true,
            root,
        }
    }

    /// The official training split: `train/`, `train_audio.json`, no boxes.
    pub fn official_train(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            split_dir: "train".into(),
            tags: root.join("train_audio.json"),
            boxes: None,
            eval_mask: None,
            box_tolerance: 1e-6,
            check_frames: true,
            root,
        }
    }

    /// A split as the benchmark writes it: `<name>/`, `<name>_audio.json`, `<name>_normav.json`
    /// (when present).
    pub fn split(root: impl Into<PathBuf>, name: &str) -> Self {
        let root = root.into();
        let boxes = root.join(format!("{name}_normav.json"));
        Self {
            split_dir: name.into(),
            tags: root.join(format!("{name}_audio.json")),
            boxes: boxes.is_file().then_some(boxes),
            eval_mask: None,
            box_tolerance: 1e-6,
            check_frames: true,
            root,
        }
    }

    /// Reads tags, boxes and the mask, and checks the files of every clip and annotated frame.
    /// The report's items are the clips (`"clip <ytid>"`) and the annotated frames
    /// (`"frame <image_id>"`).
    ///
    /// # Errors
    /// Unreadable tag or box files fail; per-clip problems (missing audio or frame directory,
    /// wrong tag length) and per-frame problems (unknown clip or class, box outside the image,
    /// missing or unreadable frame) follow `policy`.
    pub fn load(&self, policy: SkipPolicy) -> Result<(AudioSetSplit, LoadReport)> {
        let tags: BTreeMap<String, Vec<f64>> = read_json(&self.tags, "tag file")?;
        let split = self.root.join(&self.split_dir);
        let coco: Option<CocoFile> = self.boxes.as_deref().map(|p| read_json(p, "box file")).transpose()?;
        let classes: Vec<String> = match &coco {
            Some(c) => {
                let mut cats = c.categories.clone();
                cats.sort_by_key(|c| c.id);
                if cats.iter().enumerate().any(|(i, c)| c.id != i) {
                    return Err(DataError::Json {
                        path: self.boxes.clone().unwrap_or_default(),
                        detail: "category ids must be 0..C-1".into(),
                    });
                }
                cats.into_iter().map(|c| c.name).collect()
            }
            None => AUDIOSET_NAMES.iter().map(|s| s.to_string()).collect(),
        };
        let mask = self.eval_mask.as_deref().map(read_npy).transpose()?;
        let mut report = LoadReport::new("audioset", &self.root);
        let keys: Vec<&String> = tags.keys().collect();
        let mut clips = Vec::with_capacity(keys.len());
        for (index, ytid) in keys.iter().enumerate() {
            let item = (|| {
                let v = &tags[*ytid];
                if v.len() != classes.len() || v.iter().any(|x| !(*x == 0.0 || *x == 1.0)) {
                    return Err(DataError::Json {
                        path: self.tags.clone(),
                        detail: format!("tags of {ytid:?} must be {} values 0/1, got {v:?}", classes.len()),
                    });
                }
                let audio = require_with_ext(&split.join("audio"), ytid, &AUDIO_EXTS, "audio")?;
                let frames: Vec<PathBuf> = list_dir(&split.join(ytid.as_str()), "frame directory")?
                    .into_iter()
                    .filter(|p| has_ext(p, &IMAGE_EXTS))
                    .collect();
                Ok(AudioSetClip {
                    index,
                    ytid: ytid.to_string(),
                    tags: v.iter().map(|&x| x as u8).collect(),
                    audio,
                    frames,
                })
            })();
            if let Some(c) = report.take(policy, &format!("clip {ytid}"), item)? {
                clips.push(c);
            }
        }
        let mut frames = Vec::new();
        if let (Some(coco), Some(path)) = (&coco, &self.boxes) {
            let mut by_image: BTreeMap<u64, Vec<&crate::layouts::coco::CocoAnnotation>> = BTreeMap::new();
            for a in &coco.annotations {
                by_image.entry(a.image_id).or_default().push(a);
            }
            for (image_id, annos) in by_image {
                let item = self.frame(path, &split, &keys, &classes, mask.as_ref(), image_id, &annos);
                if let Some(f) = report.take(policy, &format!("frame {image_id}"), item)? {
                    frames.push(f);
                }
            }
        }
        Ok((AudioSetSplit { classes, clips, frames }, report))
    }

    #[allow(clippy::too_many_arguments)]
    fn frame(
        &self,
        path: &Path,
        split: &Path,
        keys: &[&String],
        classes: &[String],
        mask: Option<&crate::npy::NpyArray>,
        image_id: u64,
        annos: &[&crate::layouts::coco::CocoAnnotation],
    ) -> Result<AudioSetFrame> {
        let clip = (image_id / FRAMES_PER_CLIP_ID) as usize;
        let frame = (image_id % FRAMES_PER_CLIP_ID) as usize;
        let ytid = keys.get(clip).ok_or_else(|| DataError::Json {
            path: path.to_path_buf(),
            detail: format!(
                "image_id {image_id} refers to clip {clip}, but the tag file has {} clips",
                keys.len()
            ),
        })?;
        let mut boxes = Vec::with_capacity(annos.len());
        for a in annos {
            if a.category_id >= classes.len() {
                return Err(DataError::UnknownClass {
                    path: path.to_path_buf(),
                    name: a.category_id.to_string(),
                });
            }
            let bbox = BBox::from_coco_normalized(a.bbox, FRAME_SIZE, FRAME_SIZE);
            if !bbox.is_valid() {
                return Err(DataError::InvalidBox {
                    path: path.to_path_buf(),
                    detail: format!("annotation {}: bbox {:?} is empty or not finite", a.id, a.bbox),
                });
            }
            let t = self.box_tolerance * f64::from(FRAME_SIZE);
            if !bbox.is_inside(FRAME_SIZE, FRAME_SIZE, t) {
                return Err(DataError::BoxOutsideImage {
                    path: path.to_path_buf(),
                    bbox: a.bbox,
                    width: 1,
                    height: 1,
                });
            }
            let s = f64::from(FRAME_SIZE);
            let bbox = BBox::new(bbox.x0.max(0.0), bbox.y0.max(0.0), bbox.x1.min(s), bbox.y1.min(s));
            boxes.push(ClassBox { class: a.category_id, bbox });
        }
        let frame_path =
            require_with_ext(&split.join(ytid.as_str()), &format!("{frame:04}"), &IMAGE_EXTS, "frame")?;
        if self.check_frames {
            image_size(&frame_path)?;
        }
        let evaluated = mask.and_then(|m| m.row(clip)).and_then(|r| r.get(frame)).map(|&v| v != 0.0);
        Ok(AudioSetFrame { image_id, clip, frame, path: frame_path, boxes, evaluated })
    }
}

fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
}
