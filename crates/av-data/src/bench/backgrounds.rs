//! Background photos (CC0 / public domain, from the scikit-image wheel), assigned to splits so
//! that validation and test scenes use photos never seen in training.

use std::path::Path;

use image::RgbImage;

use crate::error::{DataError, Result};
use crate::image_io::{load_rgb, resize_region};
use crate::rng::SplitMix64;
use crate::split::Split;

/// A background photo of the asset pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackgroundInfo {
    /// File stem in `assets/backgrounds/`.
    pub name: &'static str,
    /// The split that uses it.
    pub split: Split,
    /// Licence of the photo.
    pub licence: &'static str,
}

const fn bg(name: &'static str, split: Split, licence: &'static str) -> BackgroundInfo {
    BackgroundInfo { name, split, licence }
}

/// The 12 photos: 8 for training, 2 for validation, 2 for test.
pub const BACKGROUNDS: [BackgroundInfo; 12] = [
    bg("astronaut", Split::Train, "public domain (NASA)"),
    bg("brick", Split::Train, "CC0"),
    bg("camera", Split::Train, "CC0"),
    bg("coffee", Split::Train, "CC0"),
    bg("grass", Split::Train, "CC0"),
    bg("hubble_deep_field", Split::Train, "public domain (NASA)"),
    bg("immunohistochemistry", Split::Train, "public domain"),
    bg("text", Split::Train, "public domain"),
    bg("coins", Split::Val, "public domain"),
    bg("rocket", Split::Val, "public domain (SpaceX)"),
    bg("chelsea", Split::Test, "CC0"),
    bg("gravel", Split::Test, "CC0"),
];

/// The decoded photos.
#[derive(Debug, Clone)]
pub struct Backgrounds {
    photos: Vec<(BackgroundInfo, RgbImage)>,
}

impl Backgrounds {
    /// Loads `<dir>/<name>.jpg` for every entry of [`BACKGROUNDS`].
    ///
    /// # Errors
    /// [`DataError::Missing`], [`DataError::Image`].
    pub fn load(dir: &Path) -> Result<Backgrounds> {
        let photos = BACKGROUNDS
            .iter()
            .map(|info| Ok((*info, load_rgb(dir.join(format!("{}.jpg", info.name)))?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Backgrounds { photos })
    }

    /// A random view of a random photo of `split`: a square crop whose side is 60-100 % of the
    /// photo's shorter side, at a random position, resized to `size` x `size` and mirrored with
    /// probability 1/2. Returns the photo's name and the view.
    ///
    /// # Errors
    /// [`DataError::Asset`] if the split has no photo.
    pub fn sample(&self, split: Split, rng: &mut SplitMix64, size: u32) -> Result<(&'static str, RgbImage)> {
        let pool: Vec<&(BackgroundInfo, RgbImage)> =
            self.photos.iter().filter(|(i, _)| i.split == split).collect();
        let (info, photo) = rng.choose(&pool).ok_or_else(|| DataError::Asset {
            name: "backgrounds".into(),
            detail: format!("none for {split}"),
        })?;
        let (w, h) = photo.dimensions();
        let side = ((w.min(h) as f32) * rng.range_f32(0.6, 1.0)) as u32;
        let x = rng.below((w - side + 1) as usize) as u32;
        let y = rng.below((h - side + 1) as usize) as u32;
        let mut view = resize_region(photo, [x, y, side, side], size, size);
        if rng.chance(0.5) {
            image::imageops::flip_horizontal_in_place(&mut view);
        }
        Ok((info.name, view))
    }
}
