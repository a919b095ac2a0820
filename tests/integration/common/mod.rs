//! A toy audio-visual task for the facade's tests: two kinds of objects (a red square, a blue
//! disc) make two kinds of sounds (low-band pulses, a high-band hum); scenes show one or both,
//! and one or both sound.
#![allow(dead_code, missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use av_align::data::rng::SplitMix64;
use av_align::train::{InMemoryDataset, Sample};
use image::{Rgb, RgbImage};
use ndarray::Array2;

pub const SIZE: u32 = 64;
pub const OBJ: u32 = 16;
pub const T: usize = 32;
pub const F: usize = 32;

/// A scene with its boxes `[x0, y0, x1, y1)` per class (None if absent) and the sounding set.
pub struct ToyScene {
    pub sample: Sample,
    pub boxes: [Option<[u32; 4]>; 2],
    pub sounding: [bool; 2],
}

fn paint(img: &mut RgbImage, class: usize, x0: u32, y0: u32, rng: &mut SplitMix64) {
    for y in y0..y0 + OBJ {
        for x in x0..x0 + OBJ {
            let jitter = (rng.uniform() * 30.0) as u8;
            let inside = if class == 0 {
                true
            } else {
                let (cx, cy) = (x0 as f32 + 7.5, y0 as f32 + 7.5);
                (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) <= 64.0
            };
            if inside {
                let p = if class == 0 {
                    [200 + jitter / 2, 30 + jitter, 30]
                } else {
                    [30, 60 + jitter, 200 + jitter / 2]
                };
                img.put_pixel(x, y, Rgb(p));
            }
        }
    }
}

pub fn scene(seed: u64, index: u64, kind: usize) -> ToyScene {
    let mut rng = SplitMix64::from_words(&[seed, index]);
    let mut img = RgbImage::from_fn(SIZE, SIZE, |_, _| {
        let g = 100 + (rng.uniform() * 40.0) as u8;
        Rgb([g, g, g])
    });
    // kind: 0 = A alone, 1 = B alone, 2 = both visible / A sounds, 3 = both / B sounds, 4 = both sound.
    let visible = match kind {
        0 => [true, false],
        1 => [false, true],
        _ => [true, true],
    };
    let sounding = match kind {
        0 | 2 => [true, false],
        1 | 3 => [false, true],
        _ => [true, true],
    };
    let left_first = rng.chance(0.5);
    let mut boxes = [None, None];
    for class in 0..2 {
        if !visible[class] {
            continue;
        }
        let left = (class == 0) == left_first;
        let x0 = if left { rng.below(8) as u32 + 2 } else { rng.below(8) as u32 + 38 };
        let y0 = rng.below((SIZE - OBJ) as usize) as u32;
        paint(&mut img, class, x0, y0, &mut rng);
        boxes[class] = Some([x0, y0, x0 + OBJ, y0 + OBJ]);
    }
    let mut logmel = Array2::from_shape_fn((T, F), |_| -4.0 + (rng.uniform() as f32 - 0.5));
    if sounding[0] {
        let phase = rng.below(4);
        for t in 0..T {
            if (t + phase) % 4 < 2 {
                for f in 3..9 {
                    logmel[[t, f]] += 3.0;
                }
            }
        }
    }
    if sounding[1] {
        for t in 0..T {
            for f in 20..27 {
                logmel[[t, f]] += 2.0 + (t as f32 * 0.4).sin();
            }
        }
    }
    let to_f = |b: [bool; 2]| b.iter().map(|&x| if x { 1.0 } else { 0.0 }).collect::<Vec<f32>>();
    ToyScene {
        sample: Sample { frame: img, logmel, labels_a: to_f(sounding), labels_v: to_f(visible) },
        boxes,
        sounding,
    }
}

pub fn dataset(seed: u64, n: u64) -> InMemoryDataset {
    InMemoryDataset::new((0..n).map(|i| scene(seed, i, (i % 5) as usize).sample).collect()).unwrap()
}
