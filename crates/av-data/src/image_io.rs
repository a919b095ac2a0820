//! Reading and writing frames, and the reference code's resize.
//!
//! The official code reads frames with `cv2.imread`, converts BGR to RGB and resizes to 256x256
//! with `cv2.resize(INTER_LINEAR)` (docs/reference_implementation.md §1.2). [`resize_bilinear`] is that resize: half-pixel
//! centres, no antialiasing, border clamping (cv2 uses 11-bit fixed-point weights, so results
//! differ from it by at most one grey level).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use image::{ImageEncoder, ImageReader, RgbImage};

use crate::error::{DataError, Result, io_err};

/// Side of the square frames the models consume.
pub const FRAME_SIZE: u32 = 256;

fn image_err(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Image { path: path.to_path_buf(), detail: e.to_string() }
}

/// Decodes an image file (PNG or JPEG, detected from the content) to 8-bit RGB.
///
/// # Errors
/// [`DataError::Missing`] if the file does not exist, [`DataError::Image`] if it cannot be
/// decoded.
pub fn load_rgb(path: impl AsRef<Path>) -> Result<RgbImage> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(DataError::Missing { what: "image", path: path.to_path_buf() });
    }
    let reader =
        ImageReader::open(path).map_err(io_err(path))?.with_guessed_format().map_err(io_err(path))?;
    Ok(reader.decode().map_err(|e| image_err(path, e))?.to_rgb8())
}

/// Decodes an image and brings it to `FRAME_SIZE x FRAME_SIZE` with [`resize_bilinear`] (a no-op
/// for images that are already that size), as the reference preprocessing does.
///
/// # Errors
/// As [`load_rgb`].
pub fn load_frame(path: impl AsRef<Path>) -> Result<RgbImage> {
    let img = load_rgb(path)?;
    if img.dimensions() == (FRAME_SIZE, FRAME_SIZE) {
        return Ok(img);
    }
    Ok(resize_bilinear(&img, FRAME_SIZE, FRAME_SIZE))
}

/// Reads only the header of an image file and returns `(width, height)`; detects files that are
/// not images without decoding the pixels.
///
/// # Errors
/// [`DataError::Missing`], [`DataError::Image`].
pub fn image_size(path: impl AsRef<Path>) -> Result<(u32, u32)> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(DataError::Missing { what: "image", path: path.to_path_buf() });
    }
    let reader =
        ImageReader::open(path).map_err(io_err(path))?.with_guessed_format().map_err(io_err(path))?;
    if reader.format().is_none() {
        return Err(image_err(path, "not a recognised image format"));
    }
    reader.into_dimensions().map_err(|e| image_err(path, e))
}

/// Bilinear resize with half-pixel centres and no antialiasing (OpenCV `INTER_LINEAR`):
/// source coordinate `(x + 0.5) * in_w / out_w - 0.5`, clamped to the image.
pub fn resize_bilinear(img: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    resize_region(img, [0, 0, w, h], out_w, out_h)
}

/// [`resize_bilinear`] of the sub-rectangle `[x, y, w, h]` of `img` (clamped to the image), without
/// copying it first.
pub fn resize_region(img: &RgbImage, region: [u32; 4], out_w: u32, out_h: u32) -> RgbImage {
    let (img_w, img_h) = img.dimensions();
    let [rx, ry, rw, rh] = region;
    let (rx, ry) = (rx.min(img_w), ry.min(img_h));
    let (rw, rh) = (rw.min(img_w - rx), rh.min(img_h - ry));
    if rw == 0 || rh == 0 || out_w == 0 || out_h == 0 {
        return RgbImage::new(out_w, out_h);
    }
    let taps = |out: u32, inp: u32, off: u32| -> Vec<(usize, usize, f32)> {
        let scale = inp as f32 / out as f32;
        (0..out)
            .map(|o| {
                let s = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
                let i0 = (s.floor() as usize).min(inp as usize - 1);
                let i1 = (i0 + 1).min(inp as usize - 1);
                (i0 + off as usize, i1 + off as usize, s - i0 as f32)
            })
            .collect()
    };
    let xs = taps(out_w, rw, rx);
    let ys = taps(out_h, rh, ry);
    let src = img.as_raw();
    let stride = img_w as usize * 3;
    let mut out = vec![0u8; out_w as usize * out_h as usize * 3];
    for (oy, &(y0, y1, fy)) in ys.iter().enumerate() {
        let (r0, r1) = (&src[y0 * stride..(y0 + 1) * stride], &src[y1 * stride..(y1 + 1) * stride]);
        let row = &mut out[oy * out_w as usize * 3..(oy + 1) * out_w as usize * 3];
        for (ox, &(x0, x1, fx)) in xs.iter().enumerate() {
            for c in 0..3 {
                let top = f32::from(r0[x0 * 3 + c]) * (1.0 - fx) + f32::from(r0[x1 * 3 + c]) * fx;
                let bot = f32::from(r1[x0 * 3 + c]) * (1.0 - fx) + f32::from(r1[x1 * 3 + c]) * fx;
                // `as u8` saturates; +0.5 rounds the non-negative value (cheaper than `round`).
                row[ox * 3 + c] = (top * (1.0 - fy) + bot * fy + 0.5) as u8;
            }
        }
    }
    RgbImage::from_raw(out_w, out_h, out).unwrap_or_else(|| RgbImage::new(out_w, out_h))
}

/// Writes an RGB image as a baseline JPEG of the given quality (1..=100). The encoder is
/// deterministic: the same pixels give the same bytes.
///
/// # Errors
/// [`DataError::Io`], [`DataError::Image`].
pub fn save_jpeg(path: impl AsRef<Path>, img: &RgbImage, quality: u8) -> Result<()> {
    let path = path.as_ref();
    let f = BufWriter::new(File::create(path).map_err(io_err(path))?);
    image::codecs::jpeg::JpegEncoder::new_with_quality(f, quality.clamp(1, 100))
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .map_err(|e| image_err(path, e))
}

/// Writes an image as PNG.
///
/// # Errors
/// [`DataError::Io`], [`DataError::Image`].
pub fn save_png<P, C>(path: impl AsRef<Path>, img: &image::ImageBuffer<P, C>) -> Result<()>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    let path = path.as_ref();
    img.save_with_format(path, image::ImageFormat::Png).map_err(|e| match e {
        image::ImageError::IoError(error) => DataError::Io { path: path.to_path_buf(), error },
        other => image_err(path, other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_matches_half_pixel_bilinear() {
        // 2x1 -> 4x1: cv2 gives [a, 0.75a+0.25b, 0.25a+0.75b, b].
        let img = RgbImage::from_raw(2, 1, vec![0, 0, 0, 200, 200, 200]).unwrap_or_default();
        let out = resize_bilinear(&img, 4, 1);
        let r: Vec<u8> = out.pixels().map(|p| p.0[0]).collect();
        assert_eq!(r, vec![0, 50, 150, 200]);
        // Identity.
        let same = resize_bilinear(&out, 4, 1);
        assert_eq!(same, out);
    }
}
