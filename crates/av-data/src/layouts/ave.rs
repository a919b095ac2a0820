//! AVE, the Audio-Visual Event dataset (Tian et al., ECCV 2018): 4143 10-s videos of 28 event
//! categories with the audio-visual event's start and end second. MSSL uses it unlabelled for
//! training and evaluates cross-modal localization (A2V / V2A) on the test videos.
//!
//! ```text
//! AVE_Dataset/
//! ├── Annotations.txt     Category&VideoID&Quality&StartTime&EndTime   (header, then one line per video)
//! ├── trainSet.txt        same format, the 3339 training videos
//! ├── valSet.txt          402 validation videos
//! ├── testSet.txt         402 test videos
//! ├── frames/<VideoID>/0000.jpg ... (optional, 1 fps, as MSSL prepares AVE)
//! └── audio/<VideoID>.wav           (optional)
//! ```
//! Example line: `Church bell&RUhOCu3LNXM&good&0&10`. Times are whole seconds,
//! `0 <= start < end <= 10`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::files::{AUDIO_EXTS, read_text, require_with_ext};
use crate::report::{LoadReport, SkipPolicy};
use crate::split::Split;

/// One annotated video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AveEvent {
    /// Event category (`"Church bell"`).
    pub category: String,
    /// YouTube id.
    pub video_id: String,
    /// Annotation quality field (`"good"`, ...).
    pub quality: String,
    /// Event start, seconds.
    pub start_s: u32,
    /// Event end, seconds (exclusive).
    pub end_s: u32,
}

impl AveEvent {
    /// Event length in seconds.
    pub fn duration_s(&self) -> u32 {
        self.end_s - self.start_s
    }
}

/// A loaded AVE copy.
#[derive(Debug, Clone, PartialEq)]
pub struct AveDataset {
    /// Every line of `Annotations.txt`, in file order.
    pub events: Vec<AveEvent>,
    /// Sorted distinct categories (class index = position).
    pub categories: Vec<String>,
    /// Indices into `events` of the training videos.
    pub train: Vec<usize>,
    /// Indices of the validation videos.
    pub val: Vec<usize>,
    /// Indices of the test videos.
    pub test: Vec<usize>,
}

impl AveDataset {
    /// The events of one split.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &AveEvent> {
        let idx = match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
            Split::Test => &self.test,
        };
        idx.iter().filter_map(|&i| self.events.get(i))
    }

    /// Class index of an event's category.
    pub fn class_of(&self, event: &AveEvent) -> Option<usize> {
        self.categories.binary_search(&event.category).ok()
    }
}

/// Parses one annotation file in the `Category&VideoID&Quality&StartTime&EndTime` format.
///
/// # Errors
/// [`DataError::Missing`], [`DataError::Io`], [`DataError::Text`] (wrong field count,
/// non-integer or out-of-range times) naming the file and line.
pub fn read_ave_annotations(path: &Path) -> Result<Vec<AveEvent>> {
    let text = read_text(path, "AVE annotation file")?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if line.is_empty() || (i == 0 && line.starts_with("Category&")) {
            continue;
        }
        let bad = |detail: String| DataError::Text { path: path.to_path_buf(), line: i + 1, detail };
        let f: Vec<&str> = line.split('&').collect();
        if f.len() != 5 {
            return Err(bad(format!("expected 5 '&'-separated fields, got {}", f.len())));
        }
        let time =
            |s: &str| s.trim().parse::<u32>().map_err(|_| bad(format!("time {s:?} is not a whole second")));
        let (start_s, end_s) = (time(f[3])?, time(f[4])?);
        if start_s >= end_s || end_s > 10 {
            return Err(bad(format!("event [{start_s}, {end_s}) is not inside [0, 10]")));
        }
        out.push(AveEvent {
            category: f[0].trim().to_string(),
            video_id: f[1].trim().to_string(),
            quality: f[2].trim().to_string(),
            start_s,
            end_s,
        });
    }
    Ok(out)
}

/// Where the files of an AVE copy are (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct AveLayout {
    /// Dataset root.
    pub root: PathBuf,
    /// Annotation file name.
    pub annotations: String,
    /// Split file names (train, val, test).
    pub split_files: [String; 3],
    /// Check that every video has `frames/<id>/` and `audio/<id>.*`.
    pub check_media: bool,
}

impl AveLayout {
    /// The standard layout under `root`, without the media check.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            annotations: "Annotations.txt".into(),
            split_files: ["trainSet.txt".into(), "valSet.txt".into(), "testSet.txt".into()],
            check_media: false,
        }
    }

    /// Reads the annotations and the splits.
    ///
    /// # Errors
    /// Malformed annotation or split files fail (they are one file, not items); with
    /// `check_media`, videos without frames or audio follow `policy`; a split entry whose video
    /// is not in `Annotations.txt` is a per-item [`DataError::Text`].
    pub fn load(&self, policy: SkipPolicy) -> Result<(AveDataset, LoadReport)> {
        let all = read_ave_annotations(&self.root.join(&self.annotations))?;
        let mut report = LoadReport::new("ave", &self.root);
        let mut events = Vec::with_capacity(all.len());
        let mut skipped = std::collections::HashSet::new();
        for e in all {
            let item = if self.check_media { self.check(&e).map(|_| e.clone()) } else { Ok(e.clone()) };
            match report.take(policy, &e.video_id, item)? {
                Some(e) => events.push(e),
                None => {
                    skipped.insert(e.video_id);
                }
            }
        }
        let mut categories: Vec<String> = events.iter().map(|e| e.category.clone()).collect();
        categories.sort();
        categories.dedup();
        let index: std::collections::HashMap<&str, usize> =
            events.iter().enumerate().map(|(i, e)| (e.video_id.as_str(), i)).collect();
        let mut splits: [Vec<usize>; 3] = Default::default();
        for (k, name) in self.split_files.iter().enumerate() {
            let path = self.root.join(name);
            if !path.is_file() {
                continue;
            }
            for e in read_ave_annotations(&path)? {
                match index.get(e.video_id.as_str()) {
                    Some(&i) => splits[k].push(i),
                    // Already reported (and counted) as a skipped video.
                    None if skipped.contains(&e.video_id) => {}
                    None => {
                        let err = DataError::Text {
                            path: path.clone(),
                            line: 0,
                            detail: format!("video {} is not in {}", e.video_id, self.annotations),
                        };
                        report.take::<()>(policy, &e.video_id, Err(err))?;
                    }
                }
            }
        }
        let [train, val, test] = splits;
        Ok((AveDataset { events, categories, train, val, test }, report))
    }

    fn check(&self, e: &AveEvent) -> Result<()> {
        let frames = self.root.join("frames").join(&e.video_id);
        if !frames.is_dir() {
            return Err(DataError::Missing { what: "frame directory", path: frames });
        }
        require_with_ext(&self.root.join("audio"), &e.video_id, &AUDIO_EXTS, "audio")?;
        Ok(())
    }
}
