//! Instrument sprites (pre-rasterised RGBA PNGs of the asset pack, `sprites/<family>/<slug>.png`,
//! one folder per art-style family) and their instance variants.
//!
//! Every sprite has 8 variants (hue rotation, saturation and value scaling, aspect stretch).
//! The splits use disjoint variants, so validation and test show sprite instances never seen
//! in training: train uses variants 0, 1, 2, 3, 6, 7; validation 4; test 5.

use std::collections::BTreeMap;
use std::path::Path;

use image::{RgbaImage, imageops::FilterType};

use crate::classes::Instrument;
use crate::error::{DataError, Result};
use crate::split::Split;

/// One instance variant of a sprite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variant {
    /// Hue rotation in degrees.
    pub hue_deg: f32,
    /// Saturation factor.
    pub saturation: f32,
    /// Value (brightness) factor.
    pub value: f32,
    /// Width / height stretch applied when the sprite is scaled.
    pub aspect: f32,
}

/// The 8 variants (index = variant id): moderate hue shifts (at most 22 degrees, so wood stays
/// wood-coloured and brass stays brass-coloured), saturation, value and aspect changes.
pub const VARIANTS: [Variant; 8] = [
    Variant { hue_deg: 0.0, saturation: 1.0, value: 1.0, aspect: 1.0 },
    Variant { hue_deg: 10.0, saturation: 0.85, value: 0.95, aspect: 1.06 },
    Variant { hue_deg: -10.0, saturation: 1.1, value: 1.05, aspect: 0.95 },
    Variant { hue_deg: 0.0, saturation: 0.7, value: 0.85, aspect: 1.0 },
    Variant { hue_deg: 22.0, saturation: 1.0, value: 0.9, aspect: 1.04 },
    Variant { hue_deg: -22.0, saturation: 0.9, value: 1.1, aspect: 0.96 },
    Variant { hue_deg: 5.0, saturation: 1.15, value: 0.8, aspect: 0.92 },
    Variant { hue_deg: -5.0, saturation: 0.8, value: 1.1, aspect: 1.08 },
];

/// The variant ids a split may use.
pub fn split_variants(split: Split) -> &'static [u8] {
    match split {
        Split::Train => &[0, 1, 2, 3, 6, 7],
        Split::Val => &[4],
        Split::Test => &[5],
    }
}

/// Every sprite of every family in every variant, premultiplied RGBA.
#[derive(Debug, Clone)]
pub struct SpriteBank {
    sprites: BTreeMap<(String, Instrument), Vec<RgbaImage>>,
}

impl SpriteBank {
    /// Loads every family folder `<dir>/<family>/` and in it `<slug>.png` for each instrument
    /// the family pictures, and builds the variants.
    ///
    /// # Errors
    /// [`DataError::Missing`] / [`DataError::Image`] for unreadable sprites,
    /// [`DataError::Asset`] when no family pictures anything.
    pub fn load(dir: &Path) -> Result<SpriteBank> {
        let mut sprites = BTreeMap::new();
        for family in crate::bench::assets::sub_dirs(dir)? {
            for inst in Instrument::ALL {
                let path = dir.join(&family).join(format!("{}.png", inst.slug()));
                if !path.is_file() {
                    continue;
                }
                let img = image::open(&path)
                    .map_err(|e| DataError::Image { path: path.clone(), detail: e.to_string() })?
                    .to_rgba8();
                sprites.insert((family.clone(), inst), VARIANTS.iter().map(|v| recolor(&img, v)).collect());
            }
        }
        if sprites.is_empty() {
            return Err(DataError::Asset {
                name: "sprites".into(),
                detail: "no sprite in any family".into(),
            });
        }
        Ok(SpriteBank { sprites })
    }

    /// The families, in name order.
    pub fn families(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.sprites.keys().map(|(f, _)| f.as_str()).collect();
        out.dedup();
        out
    }

    /// Whether `family` pictures `inst`.
    pub fn has(&self, family: &str, inst: Instrument) -> bool {
        self.sprites.contains_key(&(family.to_string(), inst))
    }

    /// Natural `(width, height)` of a variant before scaling.
    pub fn size(&self, family: &str, inst: Instrument, variant: u8) -> Option<(u32, u32)> {
        self.sprites.get(&(family.to_string(), inst))?.get(usize::from(variant)).map(|s| s.dimensions())
    }

    /// A variant of `family`'s picture of `inst`, scaled so that its longer side is
    /// `long_side` pixels (aspect stretch applied), optionally mirrored left-right.
    /// Premultiplied RGBA.
    ///
    /// # Errors
    /// [`DataError::Asset`] for an unknown family, instrument or variant.
    pub fn render(
        &self,
        family: &str,
        inst: Instrument,
        variant: u8,
        long_side: u32,
        flip: bool,
    ) -> Result<RgbaImage> {
        let sprite = self
            .sprites
            .get(&(family.to_string(), inst))
            .and_then(|v| v.get(usize::from(variant)))
            .ok_or_else(|| DataError::Asset {
                name: format!("sprites/{family}/{inst}"),
                detail: format!("no such sprite or no variant {variant}"),
            })?;
        Ok(scaled(sprite, VARIANTS[usize::from(variant)].aspect, long_side, flip))
    }
}

/// `img` with its width stretched by `aspect`, scaled so that its longer side is `long_side`
/// pixels (at least 1 x 1), optionally mirrored left-right.
pub(crate) fn scaled(img: &RgbaImage, aspect: f32, long_side: u32, flip: bool) -> RgbaImage {
    let (w, h) = img.dimensions();
    let (w, h) = (w as f32 * aspect, h as f32);
    let s = long_side as f32 / w.max(h);
    let (nw, nh) = (((w * s).round() as u32).max(1), ((h * s).round() as u32).max(1));
    let mut out = image::imageops::resize(img, nw, nh, FilterType::Triangle);
    if flip {
        image::imageops::flip_horizontal_in_place(&mut out);
    }
    out
}

/// `img` with its colours premultiplied by alpha (no colour transform).
pub(crate) fn premultiplied(img: &RgbaImage) -> RgbaImage {
    recolor(img, &VARIANTS[0])
}

/// Applies a variant's colour transform and premultiplies alpha.
fn recolor(img: &RgbaImage, v: &Variant) -> RgbaImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        let [r, g, b, a] = p.0;
        let (h, s, val) = rgb_to_hsv(f32::from(r) / 255.0, f32::from(g) / 255.0, f32::from(b) / 255.0);
        let (r, g, b) = hsv_to_rgb(
            (h + v.hue_deg).rem_euclid(360.0),
            (s * v.saturation).min(1.0),
            (val * v.value).min(1.0),
        );
        let af = f32::from(a) / 255.0;
        let q = |c: f32| (c * af * 255.0).round().clamp(0.0, 255.0) as u8;
        p.0 = [q(r), q(g), q(b), a];
    }
    out
}

fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    let h = if d == 0.0 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    (h, if max > 0.0 { d / max } else { 0.0 }, max)
}

fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let c = v * s;
    let x = c * (1.0 - ((h / 60.0).rem_euclid(2.0) - 1.0).abs());
    let m = v - c;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    (r + m, g + m, b + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_round_trip_and_disjoint_splits() {
        for (r, g, b) in [(0.2, 0.5, 0.9), (1.0, 0.0, 0.0), (0.3, 0.3, 0.3), (0.9, 0.8, 0.1)] {
            let (h, s, v) = rgb_to_hsv(r, g, b);
            let (r2, g2, b2) = hsv_to_rgb(h, s, v);
            assert!((r - r2).abs() < 1e-5 && (g - g2).abs() < 1e-5 && (b - b2).abs() < 1e-5);
        }
        for a in Split::ALL {
            for b in Split::ALL {
                if a != b {
                    assert!(split_variants(a).iter().all(|v| !split_variants(b).contains(v)));
                }
            }
        }
    }
}
