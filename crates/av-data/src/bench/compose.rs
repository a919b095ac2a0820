//! Placing sprites and compositing them over the background, with exact visibility masks.
//!
//! Compositing is front to back with premultiplied alpha: a transmittance map `T` starts at 1;
//! for each sprite from the front-most to the back-most, the pixel receives `T * colour` and
//! `T *= 1 - alpha`; the background gets the remaining `T`. The sprite's visible coverage is
//! `alpha * T` at the moment it is drawn, so occlusion by every object in front is accounted for,
//! and its mask is `coverage >= 0.5`.

use image::{RgbImage, RgbaImage};

use crate::bbox::{BBox, Mask};
use crate::rng::SplitMix64;

/// A sprite at a position (top-left corner, pixels).
pub(crate) struct Placed {
    /// Premultiplied RGBA.
    pub sprite: RgbaImage,
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
}

/// Picks top-left positions for sprites of the given sizes inside a `size x size` frame: up to
/// 40 random candidates each, the first whose rectangle overlaps every earlier one with IoU <=
/// `max_iou`, else the candidate with the smallest worst overlap.
pub(crate) fn place(sizes: &[(u32, u32)], size: u32, max_iou: f64, rng: &mut SplitMix64) -> Vec<(u32, u32)> {
    let mut rects: Vec<BBox> = Vec::with_capacity(sizes.len());
    let mut out = Vec::with_capacity(sizes.len());
    for &(w, h) in sizes {
        let (w, h) = (w.min(size), h.min(size));
        let mut best = (f64::INFINITY, (0, 0));
        for _ in 0..40 {
            let x = rng.below((size - w + 1) as usize) as u32;
            let y = rng.below((size - h + 1) as usize) as u32;
            let r = BBox::new(f64::from(x), f64::from(y), f64::from(x + w), f64::from(y + h));
            let worst = rects.iter().map(|o| o.iou(&r)).fold(0.0, f64::max);
            if worst < best.0 {
                best = (worst, (x, y));
            }
            if worst <= max_iou {
                break;
            }
        }
        let (x, y) = best.1;
        rects.push(BBox::new(f64::from(x), f64::from(y), f64::from(x + w), f64::from(y + h)));
        out.push((x, y));
    }
    out
}

/// Composites `placed` (index = paint order, 0 at the back) over `background`. Returns the frame
/// and, per sprite, its visible mask and its own opaque-pixel count (alpha >= 0.5, before
/// occlusion).
pub(crate) fn composite(background: &RgbImage, placed: &[Placed]) -> (RgbImage, Vec<(Mask, usize)>) {
    let (w, h) = background.dimensions();
    let n = w as usize * h as usize;
    let mut trans = vec![1.0f32; n];
    let mut acc = vec![0.0f32; n * 3];
    let mut masks: Vec<(Mask, usize)> = (0..placed.len()).map(|_| (Mask::new(w, h), 0)).collect();
    for (k, p) in placed.iter().enumerate().rev() {
        let (sw, sh) = p.sprite.dimensions();
        let (mask, own) = &mut masks[k];
        let src = p.sprite.as_raw();
        for sy in 0..sh.min(h.saturating_sub(p.y)) {
            let y = p.y + sy;
            let row = &src[(sy * sw * 4) as usize..((sy + 1) * sw * 4) as usize];
            for sx in 0..sw.min(w.saturating_sub(p.x)) {
                let px = &row[(sx * 4) as usize..(sx * 4 + 4) as usize];
                let a = px[3];
                if a == 0 {
                    continue;
                }
                let x = p.x + sx;
                let af = f32::from(a) * (1.0 / 255.0);
                let i = y as usize * w as usize + x as usize;
                let t = trans[i];
                if af >= 0.5 {
                    *own += 1;
                }
                if af * t >= 0.5 {
                    mask.set(x, y, true);
                }
                acc[i * 3] += t * f32::from(px[0]);
                acc[i * 3 + 1] += t * f32::from(px[1]);
                acc[i * 3 + 2] += t * f32::from(px[2]);
                trans[i] = t * (1.0 - af);
            }
        }
    }
    let bg = background.as_raw();
    let mut out = vec![0u8; n * 3];
    for (((o, a), b), t) in
        out.chunks_exact_mut(3).zip(acc.chunks_exact(3)).zip(bg.chunks_exact(3)).zip(&trans)
    {
        for c in 0..3 {
            // `as u8` saturates; +0.5 rounds the non-negative value.
            o[c] = (a[c] + t * f32::from(b[c]) + 0.5) as u8;
        }
    }
    (RgbImage::from_raw(w, h, out).unwrap_or_else(|| background.clone()), masks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_object_occludes_back_object() {
        let bg = RgbImage::from_pixel(8, 8, image::Rgb([10, 10, 10]));
        let opaque = |c: u8| RgbaImage::from_pixel(4, 4, image::Rgba([c, 0, 0, 255]));
        let placed =
            vec![Placed { sprite: opaque(100), x: 0, y: 0 }, Placed { sprite: opaque(200), x: 2, y: 0 }];
        let (img, masks) = composite(&bg, &placed);
        assert_eq!(img.get_pixel(1, 0).0, [100, 0, 0]);
        assert_eq!(img.get_pixel(2, 0).0, [200, 0, 0]);
        assert_eq!(img.get_pixel(7, 7).0, [10, 10, 10]);
        assert_eq!((masks[0].0.count(), masks[0].1), (8, 16), "back object: 2 of 4 columns visible");
        assert_eq!(masks[0].0.bbox(), Some(BBox::new(0.0, 0.0, 2.0, 4.0)));
        assert_eq!(masks[1].0.count(), 16);
    }

    #[test]
    fn placement_avoids_overlap_when_possible() {
        let mut rng = SplitMix64::new(1);
        let pos = place(&[(60, 60), (60, 60), (60, 60)], 256, 0.0, &mut rng);
        let r: Vec<BBox> = pos
            .iter()
            .map(|&(x, y)| BBox::new(f64::from(x), f64::from(y), f64::from(x) + 60.0, f64::from(y) + 60.0))
            .collect();
        assert!(r[0].iou(&r[1]) == 0.0 && r[0].iou(&r[2]) == 0.0 && r[1].iou(&r[2]) == 0.0);
    }
}
