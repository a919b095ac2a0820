//! Boxes and binary masks in image pixel coordinates.
//!
//! Convention (one for the whole crate): continuous pixel coordinates with the origin at the
//! top-left corner of the image, x to the right, y down; pixel `(col c, row r)` covers
//! `[c, c+1) x [r, r+1)`. A box is the rectangle `[x0, x1) x [y0, y1)`, so a box covering columns
//! 10..=19 has `x0 = 10, x1 = 20` and width 10. Conversions to the datasets' conventions:
//!
//! * SoundNet-Flickr XML: 1-based inclusive pixel indices `xmin..=xmax` on the 256x256 image,
//!   i.e. `x0 = xmin - 1, x1 = xmax` ([`BBox::from_flickr`], [`BBox::to_flickr`]).
//! * AudioSet `normav.json` (COCO): `[x, y, w, h]` normalised by the image width and height
//!   ([`BBox::from_coco_normalized`], [`BBox::to_coco_normalized`]).

use image::GrayImage;
use serde::{Deserialize, Serialize};

/// An axis-aligned box `[x0, x1) x [y0, y1)` in pixels (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge (exclusive).
    pub x1: f64,
    /// Bottom edge (exclusive).
    pub y1: f64,
}

impl BBox {
    /// A box from its edges.
    pub fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        Self { x0, y0, x1, y1 }
    }

    /// From SoundNet-Flickr's 1-based inclusive pixel indices.
    pub fn from_flickr(xmin: f64, ymin: f64, xmax: f64, ymax: f64) -> Self {
        Self::new(xmin - 1.0, ymin - 1.0, xmax, ymax)
    }

    /// To SoundNet-Flickr's 1-based inclusive pixel indices `[xmin, ymin, xmax, ymax]`, rounded.
    pub fn to_flickr(&self) -> [i64; 4] {
        [
            (self.x0 + 1.0).round() as i64,
            (self.y0 + 1.0).round() as i64,
            self.x1.round() as i64,
            self.y1.round() as i64,
        ]
    }

    /// From COCO `[x, y, w, h]` normalised by a `width` x `height` image.
    pub fn from_coco_normalized(xywh: [f64; 4], width: u32, height: u32) -> Self {
        let (w, h) = (f64::from(width), f64::from(height));
        Self::new(xywh[0] * w, xywh[1] * h, (xywh[0] + xywh[2]) * w, (xywh[1] + xywh[3]) * h)
    }

    /// To COCO `[x, y, w, h]` normalised by a `width` x `height` image.
    pub fn to_coco_normalized(&self, width: u32, height: u32) -> [f64; 4] {
        let (w, h) = (f64::from(width), f64::from(height));
        [self.x0 / w, self.y0 / h, self.width() / w, self.height() / h]
    }

    /// `x1 - x0`.
    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    /// `y1 - y0`.
    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    /// Area in square pixels (0 for an inverted box).
    pub fn area(&self) -> f64 {
        self.width().max(0.0) * self.height().max(0.0)
    }

    /// Whether the edges are finite and `x0 < x1`, `y0 < y1`.
    pub fn is_valid(&self) -> bool {
        [self.x0, self.y0, self.x1, self.y1].iter().all(|v| v.is_finite())
            && self.x0 < self.x1
            && self.y0 < self.y1
    }

    /// Whether the box lies inside a `width` x `height` image, allowing `tol` pixels of slack.
    pub fn is_inside(&self, width: u32, height: u32, tol: f64) -> bool {
        self.x0 >= -tol
            && self.y0 >= -tol
            && self.x1 <= f64::from(width) + tol
            && self.y1 <= f64::from(height) + tol
    }

    /// Intersection over union (0 when either box is empty).
    pub fn iou(&self, other: &BBox) -> f64 {
        let inter = BBox::new(
            self.x0.max(other.x0),
            self.y0.max(other.y0),
            self.x1.min(other.x1),
            self.y1.min(other.y1),
        )
        .area();
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// Whether the centre of pixel `(x, y)` lies inside the box.
    pub fn contains_pixel(&self, x: u32, y: u32) -> bool {
        let (cx, cy) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
        cx >= self.x0 && cx < self.x1 && cy >= self.y0 && cy < self.y1
    }
}

/// A binary mask of `width x height` pixels, stored as a bit set (row-major).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    bits: Vec<u64>,
}

impl Mask {
    /// An all-false mask.
    pub fn new(width: u32, height: u32) -> Self {
        let n = width as usize * height as usize;
        Self { width, height, bits: vec![0; n.div_ceil(64)] }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The value at column `x`, row `y` (false outside the mask).
    pub fn get(&self, x: u32, y: u32) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        let i = y as usize * self.width as usize + x as usize;
        self.bits[i / 64] >> (i % 64) & 1 == 1
    }

    /// Sets the value at column `x`, row `y` (ignored outside the mask).
    pub fn set(&mut self, x: u32, y: u32, value: bool) {
        if x >= self.width || y >= self.height {
            return;
        }
        let i = y as usize * self.width as usize + x as usize;
        if value {
            self.bits[i / 64] |= 1 << (i % 64);
        } else {
            self.bits[i / 64] &= !(1 << (i % 64));
        }
    }

    /// Number of true pixels.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The tightest box around the true pixels, `None` for an empty mask.
    pub fn bbox(&self) -> Option<BBox> {
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for (wi, &word) in self.bits.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let i = wi * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (x, y) = ((i % self.width as usize) as u32, (i / self.width as usize) as u32);
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
        (x0 != u32::MAX).then(|| BBox::new(f64::from(x0), f64::from(y0), f64::from(x1), f64::from(y1)))
    }

    /// As an 8-bit image (255 = true, 0 = false).
    pub fn to_gray(&self) -> GrayImage {
        GrayImage::from_fn(self.width, self.height, |x, y| {
            image::Luma([if self.get(x, y) { 255 } else { 0 }])
        })
    }

    /// From an 8-bit image: true where the value is >= 128.
    pub fn from_gray(img: &GrayImage) -> Self {
        let mut m = Mask::new(img.width(), img.height());
        for (x, y, p) in img.enumerate_pixels() {
            if p.0[0] >= 128 {
                m.set(x, y, true);
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions_round_trip() {
        let b = BBox::from_flickr(11.0, 21.0, 20.0, 256.0);
        assert_eq!(b, BBox::new(10.0, 20.0, 20.0, 256.0));
        assert_eq!(b.to_flickr(), [11, 21, 20, 256]);
        let coco = b.to_coco_normalized(256, 256);
        assert_eq!(BBox::from_coco_normalized(coco, 256, 256), b);
        assert!(b.is_inside(256, 256, 0.0));
        assert!(!BBox::new(-1.0, 0.0, 5.0, 5.0).is_inside(256, 256, 0.0));
        assert!(
            (BBox::new(0.0, 0.0, 2.0, 2.0).iou(&BBox::new(1.0, 0.0, 3.0, 2.0)) - 1.0 / 3.0).abs() < 1e-12
        );
    }

    #[test]
    fn mask_box_and_count() {
        let mut m = Mask::new(70, 5);
        assert_eq!(m.bbox(), None);
        m.set(3, 1, true);
        m.set(65, 4, true);
        assert_eq!(m.count(), 2);
        assert_eq!(m.bbox(), Some(BBox::new(3.0, 1.0, 66.0, 5.0)));
        assert_eq!(Mask::from_gray(&m.to_gray()), m);
        assert!(m.bbox().is_some_and(|b| b.contains_pixel(65, 4) && !b.contains_pixel(66, 4)));
    }
}
