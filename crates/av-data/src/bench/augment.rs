//! Training-split augmentation of benchmark scenes: sprite rotation and restyling (silhouette,
//! outline drawing, flat recoloured colours), frame colour jitter,
//! greyscale, blur, pixel noise and JPEG artefacts; per-source EQ, reverb and time shift, and
//! noise in the mixture. Every function is deterministic under its random stream.

use image::{Rgb, RgbImage, RgbaImage};

use crate::bench::config::Augment;
use crate::rng::SplitMix64;

/// Rotates a premultiplied RGBA sprite by `deg` degrees about its centre (bilinear), on a
/// canvas grown to hold the whole rotated sprite.
pub(crate) fn rotate_rgba(img: &RgbaImage, deg: f32) -> RgbaImage {
    let (w, h) = img.dimensions();
    let (s, c) = deg.to_radians().sin_cos();
    let (wf, hf) = (w as f32, h as f32);
    let nw = (wf * c.abs() + hf * s.abs() - 1e-3).ceil().max(1.0) as u32;
    let nh = (wf * s.abs() + hf * c.abs() - 1e-3).ceil().max(1.0) as u32;
    let (cx, cy) = (wf / 2.0, hf / 2.0);
    let (ncx, ncy) = (nw as f32 / 2.0, nh as f32 / 2.0);
    let mut out = RgbaImage::new(nw, nh);
    let src = img.as_raw();
    let at = |x: i64, y: i64, ch: usize| -> f32 {
        if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
            0.0
        } else {
            f32::from(src[((y as usize * w as usize) + x as usize) * 4 + ch])
        }
    };
    for y in 0..nh {
        for x in 0..nw {
            // Inverse rotation of the output pixel centre into the source.
            let (dx, dy) = (x as f32 + 0.5 - ncx, y as f32 + 0.5 - ncy);
            let sx = c * dx + s * dy + cx - 0.5;
            let sy = -s * dx + c * dy + cy - 0.5;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let mut px = [0u8; 4];
            for (ch, p) in px.iter_mut().enumerate() {
                let v = at(x0, y0, ch) * (1.0 - fx) * (1.0 - fy)
                    + at(x0 + 1, y0, ch) * fx * (1.0 - fy)
                    + at(x0, y0 + 1, ch) * (1.0 - fx) * fy
                    + at(x0 + 1, y0 + 1, ch) * fx * fy;
                *p = v.round().clamp(0.0, 255.0) as u8;
            }
            out.put_pixel(x, y, image::Rgba(px));
        }
    }
    out
}

/// The styles [`restyle_sprite`] draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpriteStyle {
    /// Every opaque pixel in one random colour (alpha kept): a silhouette.
    Silhouette,
    /// The sprite's outline and inner edges as strokes of one dark random colour, on a white
    /// or transparent body: a line drawing.
    Outline,
    /// Colours reduced to three levels per channel, with the channels permuted: flat colours
    /// in other hues.
    Flat,
}

/// Redraws a premultiplied RGBA sprite in another style (its alpha outline stays where it is,
/// so its box and mask keep their meaning), one of [`SpriteStyle`] uniformly.
pub(crate) fn restyle_sprite(img: &mut RgbaImage, rng: &mut SplitMix64) -> SpriteStyle {
    let style = match rng.below(3) {
        0 => SpriteStyle::Silhouette,
        1 => SpriteStyle::Outline,
        _ => SpriteStyle::Flat,
    };
    let colour = [rng.below(256) as f32, rng.below(256) as f32, rng.below(256) as f32];
    match style {
        SpriteStyle::Silhouette => {
            for p in img.pixels_mut() {
                let a = f32::from(p.0[3]) / 255.0;
                for (v, c) in p.0[..3].iter_mut().zip(colour) {
                    *v = (c * a).round() as u8;
                }
            }
        }
        SpriteStyle::Outline => {
            let dark = colour.map(|c| c * 0.35);
            let white_body = rng.chance(0.5);
            outline(img, dark, white_body);
        }
        SpriteStyle::Flat => {
            let mut order = [0usize, 1, 2];
            rng.shuffle(&mut order);
            for p in img.pixels_mut() {
                let a = f32::from(p.0[3]);
                if a == 0.0 {
                    continue;
                }
                let straight = [0, 1, 2].map(|ch| f32::from(p.0[ch]) * 255.0 / a);
                for ch in 0..3 {
                    let level = (straight[order[ch]] / 127.5).round() * 127.5;
                    p.0[ch] = (level.min(255.0) * a / 255.0).round() as u8;
                }
            }
        }
    }
    style
}

/// Strokes of `stroke` (straight RGB) on the sprite's edges: opaque pixels next to a
/// transparent one or to a pixel of another brightness (luma step > 48), thickened to about a
/// 64th of the sprite's longer side; the body is opaque white or transparent.
fn outline(img: &mut RgbaImage, stroke: [f32; 3], white_body: bool) {
    let (w, h) = img.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let src = img.as_raw();
    let alpha = |i: usize| src[i * 4 + 3];
    let lum = |i: usize| -> f32 {
        let a = f32::from(alpha(i)).max(1.0);
        (0.299 * f32::from(src[i * 4])
            + 0.587 * f32::from(src[i * 4 + 1])
            + 0.114 * f32::from(src[i * 4 + 2]))
            * 255.0
            / a
    };
    let mut edge = vec![false; wu * hu];
    for y in 0..hu {
        for x in 0..wu {
            let i = y * wu + x;
            if alpha(i) < 128 {
                continue;
            }
            let neighbours = [(x.wrapping_sub(1), y), (x + 1, y), (x, y.wrapping_sub(1)), (x, y + 1)];
            edge[i] = neighbours.iter().any(|&(nx, ny)| {
                if nx >= wu || ny >= hu {
                    return true;
                }
                let j = ny * wu + nx;
                alpha(j) < 128 || (lum(i) - lum(j)).abs() > 48.0
            });
        }
    }
    let radius = (w.max(h) / 64) as usize;
    let mut thick = edge.clone();
    if radius > 0 {
        for y in 0..hu {
            for x in 0..wu {
                if !edge[y * wu + x] {
                    continue;
                }
                for ty in y.saturating_sub(radius)..(y + radius + 1).min(hu) {
                    for tx in x.saturating_sub(radius)..(x + radius + 1).min(wu) {
                        if alpha(ty * wu + tx) >= 128 {
                            thick[ty * wu + tx] = true;
                        }
                    }
                }
            }
        }
    }
    let stroke = stroke.map(|c| c.round().clamp(0.0, 255.0) as u8);
    for (i, p) in img.pixels_mut().enumerate() {
        p.0 = if thick[i] {
            [stroke[0], stroke[1], stroke[2], 255]
        } else if p.0[3] >= 128 && white_body {
            [255, 255, 255, 255]
        } else {
            [0, 0, 0, 0]
        };
    }
}

/// Frame-level visual augmentation (masks are unaffected: nothing moves).
pub(crate) fn augment_frame(img: &mut RgbImage, a: &Augment, rng: &mut SplitMix64) {
    if a.color_jitter > 0.0 {
        let j = a.color_jitter;
        let (bright, contrast, sat) = (
            rng.range_f32(1.0 - j, 1.0 + j),
            rng.range_f32(1.0 - j, 1.0 + j),
            rng.range_f32(1.0 - j, 1.0 + j),
        );
        let n = (img.width() * img.height()) as f32;
        let mean = img.pixels().map(luma).sum::<f32>() / n.max(1.0);
        for p in img.pixels_mut() {
            let l = luma(p);
            for ch in 0..3 {
                let v = f32::from(p.0[ch]);
                let v = l + (v - l) * sat;
                let v = mean + (v - mean) * contrast;
                p.0[ch] = (v * bright).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    if rng.chance(a.greyscale) {
        for p in img.pixels_mut() {
            let l = luma(p).round().clamp(0.0, 255.0) as u8;
            p.0 = [l, l, l];
        }
    }
    if rng.chance(a.blur) {
        let sigma = rng.range_f32(0.5, 1.5);
        *img = image::imageops::blur(img, sigma);
    }
    if rng.chance(a.pixel_noise) {
        let sigma = rng.range_f32(3.0, 12.0);
        for p in img.pixels_mut() {
            for ch in 0..3 {
                let v = f32::from(p.0[ch]) + sigma * gaussian(rng);
                p.0[ch] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    if rng.chance(a.jpeg) {
        let quality = 25 + rng.below(61) as u8;
        if let Some(round_trip) = jpeg_round_trip(img, quality) {
            *img = round_trip;
        }
    }
}

fn luma(p: &Rgb<u8>) -> f32 {
    0.299 * f32::from(p.0[0]) + 0.587 * f32::from(p.0[1]) + 0.114 * f32::from(p.0[2])
}

/// A standard normal draw (Box-Muller).
fn gaussian(rng: &mut SplitMix64) -> f32 {
    let u1 = rng.uniform().max(1e-12);
    let u2 = rng.uniform();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn jpeg_round_trip(img: &RgbImage, quality: u8) -> Option<RgbImage> {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    img.write_with_encoder(encoder).ok()?;
    Some(image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).ok()?.to_rgb8())
}

/// One-pole low-pass of `x` with cut-off `fc` Hz.
fn one_pole(x: &[f32], fc: f32, rate: f32) -> Vec<f32> {
    let a = (-std::f32::consts::TAU * fc / rate).exp();
    let mut y = 0.0f32;
    x.iter()
        .map(|&v| {
            y = (1.0 - a) * v + a * y;
            y
        })
        .collect()
}

/// A random two-shelf EQ: low shelf below 100-400 Hz and high shelf above 2-6 kHz, each gain
/// within ±9 dB.
pub(crate) fn eq(x: &mut [f32], rate: u32, rng: &mut SplitMix64) {
    let rate = rate as f32;
    let low_fc = rng.range_f32(100.0, 400.0);
    let high_fc = rng.range_f32(2000.0, 6000.0).min(0.45 * rate);
    let g_low = 10f32.powf(rng.range_f32(-9.0, 9.0) / 20.0);
    let g_high = 10f32.powf(rng.range_f32(-9.0, 9.0) / 20.0);
    let low = one_pole(x, low_fc, rate);
    let below_high = one_pole(x, high_fc, rate);
    for (i, v) in x.iter_mut().enumerate() {
        let high = *v - below_high[i];
        *v += (g_low - 1.0) * low[i] + (g_high - 1.0) * high;
    }
}

/// Schroeder reverb (4 parallel combs, 2 all-passes), decay time 0.2-1.2 s, wet 10-40 %.
pub(crate) fn reverb(x: &mut [f32], rate: u32, rng: &mut SplitMix64) {
    let rate = rate as f32;
    let t60 = rng.range_f32(0.2, 1.2);
    let wet = rng.range_f32(0.1, 0.4);
    let n = x.len();
    let mut acc = vec![0.0f32; n];
    for ms in [29.7f32, 37.1, 41.1, 43.7] {
        let d = ((ms / 1000.0 * rate) as usize).max(1);
        let g = 10f32.powf(-3.0 * (d as f32 / rate) / t60);
        let mut buf = vec![0.0f32; n];
        for i in 0..n {
            let fb = if i >= d { buf[i - d] } else { 0.0 };
            buf[i] = x[i] + g * fb;
            acc[i] += 0.25 * buf[i];
        }
    }
    for ms in [5.0f32, 1.7] {
        let d = ((ms / 1000.0 * rate) as usize).max(1);
        let g = 0.7f32;
        let input = acc.clone();
        for i in 0..n {
            let xd = if i >= d { input[i - d] } else { 0.0 };
            let yd = if i >= d { acc[i - d] } else { 0.0 };
            acc[i] = -g * input[i] + xd + g * yd;
        }
    }
    for (v, r) in x.iter_mut().zip(&acc) {
        *v = (1.0 - wet) * *v + wet * r;
    }
}

/// Rotates the signal right by a random offset (a circular time shift).
pub(crate) fn time_shift(x: &mut [f32], rng: &mut SplitMix64) {
    if x.len() > 1 {
        let k = rng.below(x.len());
        x.rotate_right(k);
    }
}

/// Root mean square.
pub(crate) fn rms(x: &[f32]) -> f32 {
    let energy: f64 = x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
    (energy / x.len().max(1) as f64).sqrt() as f32
}

/// Adds white noise at an SNR of 10-40 dB to `x`.
pub(crate) fn add_noise(x: &mut [f32], rng: &mut SplitMix64) {
    let level = rms(x);
    if level <= 0.0 {
        return;
    }
    let snr_db = rng.range_f32(10.0, 40.0);
    let sigma = level / 10f32.powf(snr_db / 20.0);
    for v in x.iter_mut() {
        *v += sigma * gaussian(rng);
    }
}

/// A mains hum (50 or 60 Hz and 3 harmonics) of RMS `level`.
pub(crate) fn hum(len: usize, rate: u32, level: f32, rng: &mut SplitMix64) -> Vec<f32> {
    let f0 = if rng.chance(0.5) { 50.0 } else { 60.0 };
    let phase = rng.range_f32(0.0, std::f32::consts::TAU);
    let mut out: Vec<f32> = (0..len)
        .map(|i| {
            let t = i as f32 / rate as f32;
            (1..=4).map(|h| (std::f32::consts::TAU * f0 * h as f32 * t + phase).sin() / h as f32).sum::<f32>()
        })
        .collect();
    let r = rms(&out);
    if r > 0.0 {
        out.iter_mut().for_each(|v| *v *= level / r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_sprite_and_grows_the_canvas() {
        let img = RgbaImage::from_pixel(20, 10, image::Rgba([200, 100, 50, 255]));
        let r = rotate_rgba(&img, 90.0);
        assert_eq!(r.dimensions(), (10, 20));
        assert_eq!(r.get_pixel(5, 10).0, [200, 100, 50, 255]);
        let opaque = |im: &RgbaImage| im.pixels().filter(|p| p.0[3] >= 128).count() as f32;
        let r30 = rotate_rgba(&img, 30.0);
        assert!((opaque(&r30) - 200.0).abs() < 20.0, "area kept: {}", opaque(&r30));
        assert_eq!(rotate_rgba(&img, 0.0), img);
    }

    #[test]
    fn audio_effects_keep_length_and_finiteness() {
        let rate = 22_050;
        let x: Vec<f32> = (0..22_050).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let mut rng = SplitMix64::new(5);
        for f in [eq as fn(&mut [f32], u32, &mut SplitMix64), reverb] {
            let mut y = x.clone();
            f(&mut y, rate, &mut rng);
            assert_eq!(y.len(), x.len());
            assert!(y.iter().all(|v| v.is_finite()));
            assert!(rms(&y) > 0.05 && rms(&y) < 1.0, "{}", rms(&y));
        }
        let mut y = x.clone();
        add_noise(&mut y, &mut rng);
        let diff: Vec<f32> = y.iter().zip(&x).map(|(a, b)| a - b).collect();
        let snr = 20.0 * (rms(&x) / rms(&diff)).log10();
        assert!((9.0..41.0).contains(&snr), "{snr}");
        let h = hum(1000, rate, 0.1, &mut rng);
        assert!((rms(&h) - 0.1).abs() < 1e-4);
    }

    #[test]
    fn restyled_sprites_keep_their_outline() {
        // A 40x40 sprite: a transparent border of 5 px around an opaque square in two colours.
        let sprite = RgbaImage::from_fn(40, 40, |x, y| {
            let inside = (5..35).contains(&x) && (5..35).contains(&y);
            match (inside, x < 20) {
                (false, _) => image::Rgba([0, 0, 0, 0]),
                (true, true) => image::Rgba([200, 40, 40, 255]),
                (true, false) => image::Rgba([20, 20, 180, 255]),
            }
        });
        let mut seen = [false; 3];
        for seed in 0..30 {
            let mut img = sprite.clone();
            let style = restyle_sprite(&mut img, &mut SplitMix64::new(seed));
            for (p, q) in img.pixels().zip(sprite.pixels()) {
                assert!(q.0[3] >= 128 || p.0[3] == 0, "{style:?} paints outside the sprite");
            }
            match style {
                SpriteStyle::Silhouette => {
                    seen[0] = true;
                    let opaque: Vec<[u8; 4]> = img.pixels().filter(|p| p.0[3] == 255).map(|p| p.0).collect();
                    assert_eq!(opaque.len(), 900);
                    assert!(opaque.iter().all(|p| *p == opaque[0]), "one colour");
                }
                SpriteStyle::Outline => {
                    seen[1] = true;
                    // The square's border and the seam between its two colours are strokes.
                    let stroke = img.get_pixel(5, 20).0;
                    assert_eq!(stroke[3], 255);
                    assert_eq!(img.get_pixel(34, 20).0, stroke);
                    assert_eq!(img.get_pixel(19, 12).0, stroke, "the colour seam");
                    let body = img.get_pixel(12, 12).0;
                    assert!(body == [255, 255, 255, 255] || body == [0, 0, 0, 0], "{body:?}");
                }
                SpriteStyle::Flat => {
                    seen[2] = true;
                    for (p, q) in img.pixels().zip(sprite.pixels()) {
                        assert_eq!(p.0[3], q.0[3]);
                        assert!(p.0[..3].iter().all(|v| [0, 128, 255].contains(v)), "{:?}", p.0);
                    }
                }
            }
        }
        assert_eq!(seen, [true; 3], "every style drawn in 30 seeds");
    }

    #[test]
    fn frame_augmentation_changes_pixels_only_within_range() {
        let mut img = RgbImage::from_fn(32, 32, |x, y| Rgb([(x * 8) as u8, (y * 8) as u8, 128]));
        let before = img.clone();
        let mut rng = SplitMix64::new(9);
        let a = Augment { greyscale: 1.0, pixel_noise: 0.0, jpeg: 0.0, ..Augment::standard() };
        augment_frame(&mut img, &a, &mut rng);
        assert_eq!(img.dimensions(), before.dimensions());
        assert!(img.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]), "greyscale");
        assert_ne!(img, before);
    }
}
