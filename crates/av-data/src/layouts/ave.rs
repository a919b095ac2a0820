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
//!
//! [`load_real_ave`] reads the test videos' media for cross-modal localization: the first `T`
//! frames (1 fps) and the log-mel of each second of the audio, per video.

use std::path::{Path, PathBuf};

use av_audio::{LogMelConfig, LogMelExtractor};
use image::RgbImage;
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::files::{AUDIO_EXTS, IMAGE_EXTS, list_dir, read_text, require_with_ext};
use crate::image_io::{load_frame, resize_bilinear};
use crate::media::load_audio;
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

/// A real AVE video that could not be loaded: `(video id, reason)`.
pub type SkippedVideo = (String, String);

/// One video of a real AVE copy: 1-fps frames and 1-s log-mels.
#[derive(Debug, Clone)]
pub struct RealAveVideo {
    /// YouTube id.
    pub id: String,
    /// Event category.
    pub category: String,
    /// Event flag per second.
    pub event: Vec<bool>,
    /// The first `T` frames of `frames/<id>/` (sorted by name), resized.
    pub frames: Vec<RgbImage>,
    /// Log-mel of each second of `audio/<id>.*` (22 050 Hz, zero-padded to `T` s).
    pub logmels: Vec<Array2<f32>>,
}

/// Loads the first `max_videos` test videos of an AVE copy in the layout of this module
/// (`Annotations.txt`, `testSet.txt`, `frames/<id>/*.jpg` at 1 fps, `audio/<id>.wav`): `segments`
/// frames resized to `image_size x image_size` and `segments` 1-s log-mels (the paper's front
/// end) per video. Videos whose media are missing or unreadable are skipped and returned as
/// `(id, reason)`. `on_video` is called once per loaded video (from the worker threads; for a
/// progress count).
///
/// # Errors
/// The errors of [`AveLayout::load`] for unreadable annotation files,
/// [`DataError::InvalidConfig`] when the test split is empty or no video could be loaded.
pub fn load_real_ave(
    root: &Path,
    max_videos: usize,
    segments: usize,
    image_size: u32,
    on_video: &(dyn Fn() + Sync),
) -> Result<(Vec<RealAveVideo>, Vec<SkippedVideo>)> {
    let (dataset, _) = AveLayout::new(root).load(SkipPolicy::Error)?;
    let events: Vec<_> = dataset.split(Split::Test).take(max_videos).cloned().collect();
    if events.is_empty() {
        return Err(DataError::InvalidConfig(format!(
            "{}: the test split (testSet.txt) is empty",
            root.display()
        )));
    }
    let extractor = LogMelExtractor::new(LogMelConfig::paper())?;
    let rate = extractor.sample_rate() as usize;
    let loaded: Vec<std::result::Result<RealAveVideo, SkippedVideo>> = events
        .par_iter()
        .map(|e| {
            let fail = |m: String| (e.video_id.clone(), m);
            let dir = root.join("frames").join(&e.video_id);
            let files: Vec<PathBuf> = list_dir(&dir, "frame directory")
                .map_err(|err| fail(err.to_string()))?
                .into_iter()
                .filter(|p| {
                    p.extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| IMAGE_EXTS.contains(&x.to_ascii_lowercase().as_str()))
                })
                .take(segments)
                .collect();
            if files.len() < segments {
                return Err(fail(format!("{} frames in {}, need {segments}", files.len(), dir.display())));
            }
            let frames = files
                .iter()
                .map(|p| load_frame(p).map(|f| resize_bilinear(&f, image_size, image_size)))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|err| fail(err.to_string()))?;
            let audio_path = require_with_ext(&root.join("audio"), &e.video_id, &AUDIO_EXTS, "audio")
                .map_err(|err| fail(err.to_string()))?;
            let samples = load_audio(&audio_path, rate as u32, Some(segments * rate))
                .map_err(|err| fail(err.to_string()))?;
            let logmels = (0..segments)
                .map(|k| extractor.compute(&samples[k * rate..(k + 1) * rate]))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|err| fail(err.to_string()))?;
            let (s, t) = (e.start_s as usize, e.end_s as usize);
            on_video();
            Ok(RealAveVideo {
                id: e.video_id.clone(),
                category: e.category.clone(),
                event: (0..segments).map(|k| (s..t).contains(&k)).collect(),
                frames,
                logmels,
            })
        })
        .collect();
    let mut videos = Vec::new();
    let mut skipped = Vec::new();
    for r in loaded {
        match r {
            Ok(v) => videos.push(v),
            Err(s) => skipped.push(s),
        }
    }
    if videos.is_empty() {
        return Err(DataError::InvalidConfig(format!(
            "no AVE test video could be loaded from {} ({} skipped; first: {:?})",
            root.display(),
            skipped.len(),
            skipped.first()
        )));
    }
    Ok((videos, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An AVE copy with `vidA` (event [2, 6), 10 frames, 3 s of audio) and `vidB` (no frames).
    fn write_copy(root: &Path, test_split: &str) {
        let lines = "Category&VideoID&Quality&StartTime&EndTime\nViolin&vidA&good&2&6\nDog&vidB&good&0&3\n";
        std::fs::create_dir_all(root.join("frames").join("vidA")).expect("mkdir");
        std::fs::create_dir_all(root.join("audio")).expect("mkdir");
        for t in 0..10u8 {
            let img = RgbImage::from_pixel(40, 30, image::Rgb([20 * t, 100, 200]));
            img.save(root.join("frames").join("vidA").join(format!("{t:04}.png"))).expect("png");
        }
        let samples: Vec<f32> = (0..3 * 22_050).map(|i| (i as f32 * 0.05).sin() * 0.1).collect();
        let audio = av_audio::Audio { samples, sample_rate: 22_050 };
        for id in ["vidA", "vidB"] {
            av_audio::write_wav_f32(root.join("audio").join(format!("{id}.wav")), &audio).expect("wav");
        }
        std::fs::write(root.join("Annotations.txt"), lines).expect("write");
        std::fs::write(root.join("testSet.txt"), test_split).expect("write");
    }

    #[test]
    fn real_ave_media_load_and_missing_media_are_skipped() {
        let root = av_testkit::tmp_dir("ave-media");
        write_copy(&root, "Violin&vidA&good&2&6\nDog&vidB&good&0&3\n");
        let count = std::sync::atomic::AtomicUsize::new(0);
        let tick = || {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        let (videos, skipped) = load_real_ave(&root, 10, 10, 32, &tick).expect("load");
        assert_eq!(count.into_inner(), 1, "one callback per loaded video");
        assert_eq!(videos.len(), 1);
        let v = &videos[0];
        assert_eq!((v.id.as_str(), v.category.as_str()), ("vidA", "Violin"));
        assert_eq!(v.event, (0..10).map(|k| (2..6).contains(&k)).collect::<Vec<_>>());
        assert_eq!(v.frames.len(), 10);
        assert_eq!(v.frames[3].dimensions(), (32, 32));
        assert_eq!(v.logmels.len(), 10);
        assert_eq!(v.logmels[0].dim(), (51, 64));
        // Seconds past the 3-s file are zero-padded: all of them give the same log-mel.
        assert_eq!(v.logmels[5], v.logmels[9]);
        assert_ne!(v.logmels[0], v.logmels[9]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].0, "vidB");
        assert!(skipped[0].1.contains("vidB"), "the reason names the missing folder: {}", skipped[0].1);

        // No loadable video is an error.
        let err = load_real_ave(&root, 10, 11, 32, &|| {}).expect_err("11 frames needed");
        assert!(matches!(&err, DataError::InvalidConfig(m) if m.contains("no AVE test video")), "{err}");
        std::fs::remove_dir_all(&root).ok();

        let root = av_testkit::tmp_dir("ave-media-empty");
        write_copy(&root, "");
        let err = load_real_ave(&root, 10, 10, 32, &|| {}).expect_err("empty split");
        assert!(err.to_string().contains("the test split (testSet.txt) is empty"), "{err}");
        std::fs::remove_dir_all(&root).ok();
    }
}
