//! Clutter pictures: silent things that are not instruments (animals, people, furniture,
//! tools), pre-rasterised RGBA PNGs of the asset pack (`clutter/<set>_<name>.png`, listed in
//! `clutter/index.json`). Training scenes may paint them onto the background
//! ([`crate::bench::config::Augment::clutter`]) so that the model meets salient objects that
//! make no sound of the vocabulary. They are never labelled and never in validation or test
//! scenes.

use std::path::Path;

use image::RgbaImage;
use serde::Deserialize;

use crate::bench::sprites::{premultiplied, scaled};
use crate::error::{DataError, Result};

#[derive(Deserialize)]
struct Index {
    pictures: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    file: String,
}

/// The clutter pictures, premultiplied RGBA, in `index.json` order.
#[derive(Debug, Clone, Default)]
pub struct ClutterBank {
    pictures: Vec<RgbaImage>,
}

impl ClutterBank {
    /// Loads `<dir>/index.json` and its pictures; an absent `dir` gives an empty bank.
    ///
    /// # Errors
    /// [`DataError::Asset`] for an unreadable index, [`DataError::Image`] for an unreadable
    /// picture.
    pub fn load(dir: &Path) -> Result<ClutterBank> {
        if !dir.is_dir() {
            return Ok(ClutterBank::default());
        }
        let path = dir.join("index.json");
        let asset_error = |detail: String| DataError::Asset { name: "clutter/index.json".into(), detail };
        let text = std::fs::read_to_string(&path).map_err(|e| asset_error(e.to_string()))?;
        let index: Index = serde_json::from_str(&text).map_err(|e| asset_error(e.to_string()))?;
        let pictures = index
            .pictures
            .iter()
            .map(|e| {
                let p = dir.join(&e.file);
                let img = image::open(&p)
                    .map_err(|err| DataError::Image { path: p.clone(), detail: err.to_string() })?;
                Ok(premultiplied(&img.to_rgba8()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ClutterBank { pictures })
    }

    /// Number of pictures.
    pub fn len(&self) -> usize {
        self.pictures.len()
    }

    /// Whether the pack has none.
    pub fn is_empty(&self) -> bool {
        self.pictures.is_empty()
    }

    /// Picture `k` scaled so that its longer side is `long_side` pixels, optionally mirrored;
    /// premultiplied RGBA. `None` when `k` is out of range.
    pub fn render(&self, k: usize, long_side: u32, flip: bool) -> Option<RgbaImage> {
        self.pictures.get(k).map(|picture| scaled(picture, 1.0, long_side, flip))
    }
}
