//! Heatmaps blended over a frame (localization maps, masks), written as PNG.

use std::path::Path;

use image::{Rgb, RgbImage};
use ndarray::Array2;

use crate::error::{DataError, Result, io_err};

/// The "jet" colour of a value in `[0, 1]` (blue - cyan - yellow - red); values outside are
/// clamped, NaN is black.
pub fn jet(v: f32) -> [u8; 3] {
    if v.is_nan() {
        return [0, 0, 0];
    }
    let v = v.clamp(0.0, 1.0);
    let channel = |offset: f32| ((1.5 - (4.0 * v - offset).abs()).clamp(0.0, 1.0) * 255.0).round() as u8;
    [channel(3.0), channel(2.0), channel(1.0)]
}

/// Blends a heatmap over a frame: `(1 - alpha·m) · frame + alpha·m · jet(m)`, so cold regions
/// keep the photo and hot ones turn red.
///
/// `map` is row-major `height x width` with values in `[0, 1]` (e.g. the class-agnostic map of
/// a localization); it is resized (bilinear) when its size differs from the frame.
///
/// # Errors
/// [`DataError::Shape`] when `map.len() != width * height`, [`DataError::NonFinite`] for NaN/inf.
pub fn overlay(frame: &RgbImage, map: &[f32], width: usize, height: usize, alpha: f32) -> Result<RgbImage> {
    if map.len() != width * height || width == 0 || height == 0 {
        return Err(DataError::Shape {
            what: "heatmap",
            expected: format!("{width} x {height} = {} values", width * height),
            found: map.len(),
        });
    }
    if map.iter().any(|v| !v.is_finite()) {
        return Err(DataError::NonFinite { what: "heatmap" });
    }
    let (w, h) = frame.dimensions();
    let sample = |x: u32, y: u32| -> f32 {
        // Half-pixel-centre bilinear lookup of the map at frame pixel (x, y).
        let fx = ((x as f32 + 0.5) * width as f32 / w as f32 - 0.5).clamp(0.0, (width - 1) as f32);
        let fy = ((y as f32 + 0.5) * height as f32 / h as f32 - 0.5).clamp(0.0, (height - 1) as f32);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let at = |xx: usize, yy: usize| map[yy * width + xx];
        (at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx) * (1.0 - ty)
            + (at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx) * ty
    };
    Ok(RgbImage::from_fn(w, h, |x, y| {
        let m = sample(x, y).clamp(0.0, 1.0);
        let a = alpha.clamp(0.0, 1.0) * (0.3 + 0.7 * m);
        let c = jet(m);
        let p = frame.get_pixel(x, y).0;
        Rgb(std::array::from_fn(|i| ((1.0 - a) * p[i] as f32 + a * c[i] as f32).round() as u8))
    }))
}

/// A 2-D array as a picture, one pixel per value: column `j` left to right, row 0 at the
/// bottom (spectrograms and masks: low frequencies down); values mapped from `[lo, hi]` to
/// [`jet`] colours (`colour`) or grey levels, clamped.
pub fn array_image(a: &Array2<f32>, lo: f32, hi: f32, colour: bool) -> RgbImage {
    let (rows, cols) = a.dim();
    let span = (hi - lo).max(1e-6);
    RgbImage::from_fn(cols as u32, rows as u32, |x, y| {
        let v = ((a[[rows - 1 - y as usize, x as usize]] - lo) / span).clamp(0.0, 1.0);
        if colour {
            Rgb(jet(v))
        } else {
            let g = (v * 255.0).round() as u8;
            Rgb([g, g, g])
        }
    })
}

/// Saves an image as PNG, creating the parent directory.
///
/// # Errors
/// [`DataError::Io`], [`DataError::Image`].
pub fn save_png(path: impl AsRef<Path>, img: &RgbImage) -> Result<()> {
    let path = path.as_ref();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    img.save(path).map_err(|e| DataError::Image { path: path.to_path_buf(), detail: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jet_runs_from_blue_to_red() {
        assert_eq!(jet(0.0), [0, 0, 128]);
        assert_eq!(jet(1.0), [128, 0, 0]);
        assert_eq!(jet(0.5), [128, 255, 128]);
    }

    #[test]
    fn overlay_checks_its_map_and_heats_the_hot_corner() {
        let frame = RgbImage::from_pixel(8, 8, Rgb([100, 100, 100]));
        assert!(matches!(overlay(&frame, &[0.0; 3], 2, 2, 0.6), Err(DataError::Shape { .. })));
        assert!(matches!(overlay(&frame, &[f32::NAN; 4], 2, 2, 0.6), Err(DataError::NonFinite { .. })));
        let out = overlay(&frame, &[0.0, 0.0, 0.0, 1.0], 2, 2, 0.6).unwrap();
        let hot = out.get_pixel(7, 7).0;
        let cold = out.get_pixel(0, 0).0;
        assert!(hot[0] > hot[2] && cold[2] > cold[0], "{hot:?} {cold:?}");
    }

    #[test]
    fn array_image_puts_row_zero_at_the_bottom_and_maps_the_range() {
        let a = Array2::from_shape_vec((2, 3), vec![0.0, 0.5, 1.0, 2.0, 2.0, -1.0]).unwrap();
        let grey = array_image(&a, 0.0, 1.0, false);
        assert_eq!(grey.dimensions(), (3, 2));
        // Row 0 of the array is the bottom row of the picture.
        assert_eq!(grey.get_pixel(0, 1).0, [0, 0, 0]);
        assert_eq!(grey.get_pixel(1, 1).0, [128, 128, 128]);
        assert_eq!(grey.get_pixel(2, 1).0, [255, 255, 255]);
        // Values outside [lo, hi] are clamped.
        assert_eq!(grey.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(grey.get_pixel(2, 0).0, [0, 0, 0]);
        let colour = array_image(&a, 0.0, 1.0, true);
        assert_eq!(colour.get_pixel(2, 1).0, jet(1.0));
    }
}
