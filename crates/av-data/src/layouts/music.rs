//! MUSIC (Zhao et al., ECCV 2018) as Sound-of-Pixels prepares it: audio at 11 025 Hz and 8 fps
//! frames per video, solo and duet videos in folders by category.
//!
//! ```text
//! music/
//! ├── MUSIC_solo_videos.json   (optional) {"videos": {"accordion": ["<id>", ...], ...}}
//! ├── MUSIC_duet_videos.json   (optional) {"videos": {"acoustic_guitar violin": [...], ...}}
//! ├── audio/solo/<category>/<id>.mp3        (.wav .flac ... too)
//! ├── audio/duet/<category>/<id>.mp3
//! ├── frames/solo/<category>/<id>.mp4/000001.jpg ...
//! ├── frames/duet/<category>/<id>.mp4/000001.jpg ...
//! └── splits/train.txt, val.txt, test.txt   (optional) lines "solo/<category>/<id>"
//! ```
//! A duet category names its two instruments separated by a space (as in the official JSON),
//! `+` or `_` (`acoustic_guitar_violin` is split at the `_` that leaves two known names).
//!
//! Splits: the split files when present; otherwise the standard protocol (paper §4.1, following
//! Sound-of-Pixels): within each category of solos and of duets, the **first** video present is
//! validation, the **second** is test and the rest train, in the JSON's order (else sorted by id).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::classes::{Instrument, MUSIC_CLASSES};
use crate::error::{DataError, Result};
use crate::files::{AUDIO_EXTS, find_with_ext, list_dir, read_json, strip_known_ext};
use crate::media::load_audio;
use crate::report::{LoadReport, SkipPolicy};
use crate::split::Split;

/// Sound-of-Pixels' audio rate (Hz).
pub const MUSIC_RATE: u32 = 11_025;
/// Sound-of-Pixels' clip length in samples (about 5.94 s).
pub const MUSIC_CLIP_LEN: usize = 65_535;
/// Frame rate of the extracted frames.
pub const MUSIC_FPS: u32 = 8;

/// Solo or duet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MusicKind {
    /// One instrument.
    Solo,
    /// Two instruments.
    Duet,
}

impl MusicKind {
    /// Folder name (`"solo"`, `"duet"`).
    pub fn dir(self) -> &'static str {
        match self {
            MusicKind::Solo => "solo",
            MusicKind::Duet => "duet",
        }
    }

    /// The official JSON file name.
    pub fn json_name(self) -> &'static str {
        match self {
            MusicKind::Solo => "MUSIC_solo_videos.json",
            MusicKind::Duet => "MUSIC_duet_videos.json",
        }
    }
}

/// One video.
#[derive(Debug, Clone, PartialEq)]
pub struct MusicVideo {
    /// Solo or duet.
    pub kind: MusicKind,
    /// Category folder name (`"violin"`, `"acoustic_guitar violin"`).
    pub category: String,
    /// The instruments the category names (1 for solos, 2 for duets).
    pub instruments: Vec<Instrument>,
    /// Video id.
    pub id: String,
    /// Audio file.
    pub audio: PathBuf,
    /// Frame directory (`<id>.mp4/`).
    pub frames_dir: PathBuf,
    /// Number of `.jpg` frames in it.
    pub n_frames: usize,
    /// Its split.
    pub split: Split,
}

impl MusicVideo {
    /// `"solo/<category>/<id>"`, the key used in split files.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.kind.dir(), self.category, self.id)
    }

    /// Path of frame `i` (1-based, `000001.jpg`).
    pub fn frame_path(&self, i: usize) -> PathBuf {
        self.frames_dir.join(format!("{i:06}.jpg"))
    }

    /// The whole audio track at 11 025 Hz.
    ///
    /// # Errors
    /// [`DataError::Audio`].
    pub fn load_audio(&self) -> Result<Vec<f32>> {
        load_audio(&self.audio, MUSIC_RATE, None)
    }
}

#[derive(Deserialize)]
struct VideoList {
    videos: BTreeMap<String, Vec<String>>,
}

/// Parses a category folder name into MUSIC instruments.
pub fn parse_category(name: &str) -> Option<Vec<Instrument>> {
    let music = |s: &str| Instrument::from_name(s).filter(|i| MUSIC_CLASSES.contains(i));
    let parts: Vec<&str> = name.split([' ', '+']).filter(|s| !s.is_empty()).collect();
    if parts.len() > 1 {
        return parts.iter().map(|p| music(p)).collect();
    }
    if let Some(i) = music(name) {
        return Some(vec![i]);
    }
    name.match_indices('_').find_map(|(at, _)| Some(vec![music(&name[..at])?, music(&name[at + 1..])?]))
}

/// Where the files of a MUSIC copy are (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct MusicLayout {
    /// Dataset root.
    pub root: PathBuf,
    /// Audio directory, relative to the root.
    pub audio_dir: String,
    /// Frames directory, relative to the root.
    pub frames_dir: String,
    /// Directory of `train.txt` / `val.txt` / `test.txt`, relative to the root.
    pub splits_dir: String,
    /// Which kinds to load.
    pub kinds: Vec<MusicKind>,
}

impl MusicLayout {
    /// The standard layout under `root`, solos and duets.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            audio_dir: "audio".into(),
            frames_dir: "frames".into(),
            splits_dir: "splits".into(),
            kinds: vec![MusicKind::Solo, MusicKind::Duet],
        }
    }

    /// Lists the videos and assigns splits.
    ///
    /// # Errors
    /// An unreadable JSON or split file, or a missing audio directory, fails; per-video problems
    /// (unknown category, missing audio or frames, video in no split file) follow `policy`.
    pub fn load(&self, policy: SkipPolicy) -> Result<(Vec<MusicVideo>, LoadReport)> {
        let split_files = self.read_split_files()?;
        let mut report = LoadReport::new("music", &self.root);
        let mut videos = Vec::new();
        for &kind in &self.kinds {
            let audio_root = self.root.join(&self.audio_dir).join(kind.dir());
            let json = self.root.join(kind.json_name());
            let listing: Vec<(String, Vec<String>)> = if json.is_file() {
                let list: VideoList = read_json(&json, "MUSIC video list")?;
                list.videos.into_iter().collect()
            } else if audio_root.is_dir() {
                let mut out = Vec::new();
                for cat in list_dir(&audio_root, "audio directory")?.into_iter().filter(|p| p.is_dir()) {
                    let name = cat.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                    let ids = list_dir(&cat, "audio directory")?
                        .iter()
                        .filter(|p| p.is_file())
                        .filter_map(|p| {
                            p.file_name().and_then(|n| n.to_str()).map(|n| strip_known_ext(n).to_string())
                        })
                        .collect();
                    out.push((name, ids));
                }
                out
            } else {
                continue;
            };
            for (category, ids) in listing {
                let mut position = 0usize;
                for id in ids {
                    let key = format!("{}/{category}/{id}", kind.dir());
                    let item = self.video(kind, &category, &id, &key, position, split_files.as_ref());
                    if let Some(v) = report.take(policy, &key, item)? {
                        position += 1;
                        videos.push(v);
                    }
                }
            }
        }
        Ok((videos, report))
    }

    fn video(
        &self,
        kind: MusicKind,
        category: &str,
        id: &str,
        key: &str,
        position: usize,
        split_files: Option<&BTreeMap<String, Split>>,
    ) -> Result<MusicVideo> {
        let audio_dir = self.root.join(&self.audio_dir).join(kind.dir()).join(category);
        let instruments = parse_category(category)
            .filter(|v| v.len() == if kind == MusicKind::Solo { 1 } else { 2 })
            .ok_or_else(|| DataError::UnknownClass { path: audio_dir.clone(), name: category.to_string() })?;
        let audio = find_with_ext(&audio_dir, id, &AUDIO_EXTS)
            .ok_or_else(|| DataError::Missing { what: "audio", path: audio_dir.join(format!("{id}.mp3")) })?;
        let frames_dir =
            self.root.join(&self.frames_dir).join(kind.dir()).join(category).join(format!("{id}.mp4"));
        let n_frames = list_dir(&frames_dir, "frame directory")?
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
            .count();
        if n_frames == 0 {
            return Err(DataError::Missing { what: "frames", path: frames_dir.join("000001.jpg") });
        }
        let split = match split_files {
            Some(map) => *map.get(key).ok_or_else(|| DataError::Text {
                path: self.root.join(&self.splits_dir),
                line: 0,
                detail: format!("video {key} is in no split file"),
            })?,
            None => match position {
                0 => Split::Val,
                1 => Split::Test,
                _ => Split::Train,
            },
        };
        Ok(MusicVideo {
            kind,
            category: category.to_string(),
            instruments,
            id: id.to_string(),
            audio,
            frames_dir,
            n_frames,
            split,
        })
    }

    fn read_split_files(&self) -> Result<Option<BTreeMap<String, Split>>> {
        let dir = self.root.join(&self.splits_dir);
        if !dir.is_dir() {
            return Ok(None);
        }
        let mut map = BTreeMap::new();
        for split in Split::ALL {
            let path = dir.join(format!("{}.txt", split.name()));
            if path.is_file() {
                for key in read_split_file(&path)? {
                    map.insert(key, split);
                }
            }
        }
        Ok(Some(map))
    }
}

/// Split-file lines are keys like `solo/violin/abc`; comments and blank lines are skipped.
fn read_split_file(path: &Path) -> Result<Vec<String>> {
    let text = crate::files::read_text(path, "split file")?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.split('/').count() != 3 {
            return Err(DataError::Text {
                path: path.to_path_buf(),
                line: i + 1,
                detail: format!("expected kind/category/id, got {line:?}"),
            });
        }
        out.push(line.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_names() {
        assert_eq!(parse_category("violin"), Some(vec![Instrument::Violin]));
        let duet = Some(vec![Instrument::AcousticGuitar, Instrument::Violin]);
        assert_eq!(parse_category("acoustic_guitar violin"), duet);
        assert_eq!(parse_category("acoustic_guitar+violin"), duet);
        assert_eq!(parse_category("acoustic_guitar_violin"), duet);
        assert_eq!(parse_category("piano"), None, "piano is not a MUSIC class");
        assert_eq!(parse_category("kazoo violin"), None);
    }
}
