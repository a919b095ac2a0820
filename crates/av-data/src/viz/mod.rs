//! All drawing of the workspace: boxes and labels on frames (for pictures of the benchmark and
//! of predictions, with a built-in 5x7 bitmap font so no font file is needed), heatmaps blended
//! over frames ([`overlay`], [`jet`]), arrays as pictures ([`array_image`]), captions
//! ([`caption`]), tiling ([`grid`]) and PNG output ([`save_png`]).

mod heatmap;

pub use heatmap::{array_image, jet, overlay, save_png};

use image::{Rgb, RgbImage};

use crate::bbox::BBox;
use crate::bench::Scene;
use crate::classes::Vocabulary;

/// Box colours for sounding objects, in source order.
pub const SOURCE_COLORS: [[u8; 3]; 4] = [[0, 230, 64], [255, 64, 64], [40, 150, 255], [255, 200, 0]];
/// Colour of silent distractors.
pub const DISTRACTOR_COLOR: [u8; 3] = [200, 200, 200];

/// 5x7 glyphs, one byte per row (5 low bits, MSB = left column).
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [28, 18, 17, 17, 17, 18, 28],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'J' => [7, 2, 2, 2, 2, 18, 12],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'Q' => [14, 17, 17, 17, 21, 18, 13],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'X' => [17, 17, 10, 4, 10, 17, 17],
        'Y' => [17, 17, 17, 10, 4, 4, 4],
        'Z' => [31, 1, 2, 4, 8, 16, 31],
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '_' => [0, 0, 0, 0, 0, 0, 31],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        ':' => [0, 12, 12, 0, 12, 12, 0],
        '/' => [0, 1, 2, 4, 8, 16, 0],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '=' => [0, 0, 31, 0, 31, 0, 0],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        _ => [0; 7],
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, color: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, Rgb(color));
    }
}

/// Width in pixels of `text` drawn at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 6 * scale
}

/// Draws `text` with its top-left corner at `(x, y)`, each font pixel `scale` x `scale`, on a
/// filled background rectangle when `background` is given.
pub fn draw_text(
    img: &mut RgbImage,
    x: i64,
    y: i64,
    text: &str,
    scale: u32,
    color: [u8; 3],
    background: Option<[u8; 3]>,
) {
    let s = i64::from(scale);
    if let Some(bg) = background {
        let w = i64::from(text_width(text, scale)) + s;
        for yy in y - s..y + 8 * s {
            for xx in x - s..x + w {
                put(img, xx, yy, bg);
            }
        }
    }
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c);
        let x0 = x + i as i64 * 6 * s;
        for (row, bits) in g.iter().enumerate() {
            for col in 0..5 {
                if bits >> (4 - col) & 1 == 1 {
                    for dy in 0..s {
                        for dx in 0..s {
                            put(img, x0 + col * s + dx, y + row as i64 * s + dy, color);
                        }
                    }
                }
            }
        }
    }
}

/// Draws the outline of `bbox` (pixel edges), `thickness` pixels wide, inside the box; dashed
/// when `dashed`.
pub fn draw_box(img: &mut RgbImage, bbox: &BBox, color: [u8; 3], thickness: u32, dashed: bool) {
    let (x0, y0) = (bbox.x0.floor() as i64, bbox.y0.floor() as i64);
    let (x1, y1) = (bbox.x1.ceil() as i64 - 1, bbox.y1.ceil() as i64 - 1);
    let t = i64::from(thickness);
    let on = |k: i64| !dashed || (k / 5) % 2 == 0;
    for x in x0..=x1 {
        for d in 0..t {
            if on(x) {
                put(img, x, y0 + d, color);
                put(img, x, y1 - d, color);
            }
        }
    }
    for y in y0..=y1 {
        for d in 0..t {
            if on(y) {
                put(img, x0 + d, y, color);
                put(img, x1 - d, y, color);
            }
        }
    }
}

/// The scene's frame with every object's box and class name: sounding objects in
/// [`SOURCE_COLORS`], silent distractors dashed in [`DISTRACTOR_COLOR`] and marked "(silent)";
/// the scene id and level in the top-left corner.
pub fn annotate_scene(scene: &Scene, vocabulary: Vocabulary) -> RgbImage {
    let mut img = scene.image.clone();
    for o in &scene.objects {
        let color = match o.source {
            Some(k) => SOURCE_COLORS[k % SOURCE_COLORS.len()],
            None => DISTRACTOR_COLOR,
        };
        draw_box(&mut img, &o.bbox, color, 2, !o.sounding);
        let name = vocabulary.name(o.class).unwrap_or("?").to_ascii_lowercase();
        let label = if o.sounding { name } else { format!("{name} (silent)") };
        let w = i64::from(text_width(&label, 1));
        let x = (o.bbox.x0 as i64 + 2).min(i64::from(img.width()) - w - 2).max(1);
        let y = if o.bbox.y0 >= 11.0 { o.bbox.y0 as i64 - 9 } else { o.bbox.y0 as i64 + 4 };
        draw_text(&mut img, x, y, &label, 1, [0, 0, 0], Some(color));
    }
    let header = format!("{} L{}", scene.id, scene.level);
    let bottom = i64::from(img.height()) - 10;
    draw_text(&mut img, 3, bottom, &header, 1, [255, 255, 255], Some([0, 0, 0]));
    img
}

/// Tiles images (all the size of the first) into a grid with `cols` columns and `pad` pixels of
/// `background` between and around them.
pub fn grid(images: &[RgbImage], cols: u32, pad: u32, background: [u8; 3]) -> RgbImage {
    let Some(first) = images.first() else { return RgbImage::new(0, 0) };
    let (w, h) = first.dimensions();
    let cols = cols.max(1);
    let rows = (images.len() as u32).div_ceil(cols);
    let mut out = RgbImage::from_pixel(cols * (w + pad) + pad, rows * (h + pad) + pad, Rgb(background));
    for (i, img) in images.iter().enumerate() {
        let (c, r) = (i as u32 % cols, i as u32 / cols);
        image::imageops::replace(
            &mut out,
            img,
            i64::from(pad + c * (w + pad)),
            i64::from(pad + r * (h + pad)),
        );
    }
    out
}

/// A caption in the top-left corner: white 1x text on a black box (the label of a tile).
pub fn caption(img: &mut RgbImage, text: &str) {
    draw_text(img, 3, 3, text, 1, [255, 255, 255], Some([0, 0, 0]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_stays_inside_the_image() {
        let mut img = RgbImage::new(20, 20);
        draw_box(&mut img, &BBox::new(-5.0, 2.0, 30.0, 10.0), [255, 0, 0], 2, false);
        draw_text(&mut img, 15, 15, "violin", 2, [0, 255, 0], Some([0, 0, 0]));
        assert_eq!(img.get_pixel(3, 2).0, [255, 0, 0]);
        let g = grid(&[img.clone(), img], 2, 1, [9, 9, 9]);
        assert_eq!(g.dimensions(), (43, 22));
    }
}
