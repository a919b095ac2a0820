//! Background photos, assigned to splits so that validation and test scenes use photos never
//! seen in training, and to groups so that a whole group can be held out of training (the
//! out-of-family test set). `backgrounds/index.json` lists the committed photos (CC0 / public
//! domain / CC-BY, mostly from the scikit-image wheel); `tools/assets/fetch_backgrounds.sh`
//! caches more photos, never committed, with an index of the same form.

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::Deserialize;

use crate::bench::config::LEGACY_GROUP;
use crate::error::{DataError, Result};
use crate::files::read_json;
use crate::image_io::{load_rgb, resize_region};
use crate::rng::SplitMix64;
use crate::split::Split;

/// A background photo of the asset pack.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BackgroundInfo {
    /// File stem (`<name>.jpg`).
    pub name: String,
    /// The group it belongs to (a source, or `held_out`).
    pub group: String,
    /// The split that uses it.
    pub split: Split,
    /// Licence of the photo.
    pub licence: String,
    /// Where it comes from.
    #[serde(default)]
    pub source: String,
}

#[derive(Deserialize)]
struct IndexFile {
    photos: Vec<BackgroundInfo>,
}

/// The first benchmark's 12 photos and their splits (8 train, 2 validation, 2 test): the
/// [`LEGACY_GROUP`], in the order that keeps its scenes identical.
pub const BACKGROUNDS: [(&str, Split); 12] = [
    ("astronaut", Split::Train),
    ("brick", Split::Train),
    ("camera", Split::Train),
    ("coffee", Split::Train),
    ("grass", Split::Train),
    ("hubble_deep_field", Split::Train),
    ("immunohistochemistry", Split::Train),
    ("text", Split::Train),
    ("coins", Split::Val),
    ("rocket", Split::Val),
    ("chelsea", Split::Test),
    ("gravel", Split::Test),
];

/// The decoded photos.
#[derive(Debug, Clone)]
pub struct Backgrounds {
    photos: Vec<(BackgroundInfo, RgbImage)>,
    fetched_index: Vec<PathBuf>,
}

impl Backgrounds {
    /// Loads every photo of `<dir>/index.json` and, when `fetched` holds an `index.json`, of
    /// that folder too.
    ///
    /// # Errors
    /// [`DataError::Missing`], [`DataError::Json`], [`DataError::Image`].
    pub fn load(dir: &Path, fetched: Option<&Path>) -> Result<Backgrounds> {
        let mut photos = Vec::new();
        let mut fetched_index = Vec::new();
        let dirs = std::iter::once(dir).chain(fetched.filter(|f| f.join("index.json").is_file()));
        for (k, d) in dirs.enumerate() {
            let index: IndexFile = if k == 0 && !d.join("index.json").is_file() {
                // A pack from before the index: the legacy photos.
                IndexFile {
                    photos: BACKGROUNDS
                        .iter()
                        .map(|(name, split)| BackgroundInfo {
                            name: (*name).into(),
                            group: "skimage".into(),
                            split: *split,
                            licence: "CC0 or public domain (crates/av-data/ASSETS.md)".into(),
                            source: "scikit-image".into(),
                        })
                        .collect(),
                }
            } else {
                read_json(&d.join("index.json"), "background index")?
            };
            if k > 0 {
                fetched_index.push(d.join("index.json"));
            }
            for info in index.photos {
                let img = load_rgb(d.join(format!("{}.jpg", info.name)))?;
                photos.push((info, img));
            }
        }
        Ok(Backgrounds { photos, fetched_index })
    }

    /// The index files of fetched photos that were loaded.
    pub fn fetched_index(&self) -> &[PathBuf] {
        &self.fetched_index
    }

    /// Every photo's description.
    pub fn infos(&self) -> impl Iterator<Item = &BackgroundInfo> {
        self.photos.iter().map(|(i, _)| i)
    }

    fn in_group(info: &BackgroundInfo, group: &str) -> bool {
        if group == LEGACY_GROUP {
            BACKGROUNDS.iter().any(|(n, s)| *n == info.name && *s == info.split)
        } else {
            info.group == group
        }
    }

    /// Checks that `group` has at least one photo.
    ///
    /// # Errors
    /// [`DataError::Asset`], saying how to fetch the group.
    pub fn check_group(&self, group: &str) -> Result<()> {
        if self.photos.iter().any(|(i, _)| Self::in_group(i, group)) {
            return Ok(());
        }
        Err(DataError::Asset {
            name: format!("backgrounds/{group}"),
            detail:
                "no photo in this group; fetched groups come from `bash tools/assets/fetch_backgrounds.sh`"
                    .into(),
        })
    }

    /// A random view of a random photo of `split` among `groups`: a square crop whose side is
    /// 60-100 % of the photo's shorter side, at a random position, resized to `size` x `size`
    /// and mirrored with probability 1/2. Returns the photo's name and the view.
    ///
    /// # Errors
    /// [`DataError::Asset`] if no photo of those groups belongs to the split.
    pub fn sample(
        &self,
        split: Split,
        groups: &[String],
        rng: &mut SplitMix64,
        size: u32,
    ) -> Result<(String, RgbImage)> {
        let pool: Vec<&(BackgroundInfo, RgbImage)> = self
            .photos
            .iter()
            .filter(|(i, _)| i.split == split && groups.iter().any(|g| Self::in_group(i, g)))
            .collect();
        let (info, photo) = rng.choose(&pool).ok_or_else(|| DataError::Asset {
            name: "backgrounds".into(),
            detail: format!("none for {split} in groups {groups:?}"),
        })?;
        let (w, h) = photo.dimensions();
        let side = ((w.min(h) as f32) * rng.range_f32(0.6, 1.0)) as u32;
        let x = rng.below((w - side + 1) as usize) as u32;
        let y = rng.below((h - side + 1) as usize) as u32;
        let mut view = resize_region(photo, [x, y, side, side], size, size);
        if rng.chance(0.5) {
            image::imageops::flip_horizontal_in_place(&mut view);
        }
        Ok((info.name.clone(), view))
    }
}
