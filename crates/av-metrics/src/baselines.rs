//! Trivial localization baselines, as score maps for the same cIoU API.
//!
//! MSSL issue #2: predicting the whole image already gives cIoU@0.5 = 60.8 % on a random
//! 250-image Flickr test set, so every result table should carry these rows.

use serde::{Deserialize, Serialize};

use crate::auc::LocalizationSummary;
use crate::ciou::{ConsensusGt, PredictionRule, evaluate_localization};
use crate::error::{MetricsError, Result};
use crate::map::ScoreMap;
use crate::rng::{SplitMix64, mix64};

/// A map that ignores the input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Baseline {
    /// 1 everywhere.
    WholeImage,
    /// 1 inside a centred box of `fraction · width` by `fraction · height` pixels (rounded to
    /// the nearest pixel, at least 1), 0 outside.
    CenterBox {
        /// Side length of the box relative to the image side, in `(0, 1]`.
        fraction: f64,
    },
    /// `exp(−d² / (2σ²))` with `d` the distance of the pixel centre to the image centre and
    /// `σ = sigma_fraction · min(width, height)`, divided by its maximum.
    CenterGaussian {
        /// σ relative to the shorter image side, > 0.
        sigma_fraction: f64,
    },
    /// Independent uniform values in `[0, 1)`, reproducible from `seed` and the image index.
    UniformRandom {
        /// Seed of the whole test set.
        seed: u64,
    },
}

impl Baseline {
    /// The baseline's map for image `index` on a `width x height` grid (row-major).
    ///
    /// # Errors
    /// [`MetricsError::Empty`] for a zero-sized grid, [`MetricsError::InvalidParameter`] for a
    /// fraction outside `(0, 1]` or a non-positive σ.
    pub fn map(&self, width: usize, height: usize, index: usize) -> Result<Vec<f32>> {
        const OP: &str = "Baseline::map";
        if width == 0 || height == 0 {
            return Err(MetricsError::Empty { op: OP, what: "grid" });
        }
        let n = width * height;
        match *self {
            Self::WholeImage => Ok(vec![1.0; n]),
            Self::CenterBox { fraction } => {
                if !(fraction > 0.0 && fraction <= 1.0) {
                    return Err(MetricsError::InvalidParameter {
                        op: OP,
                        name: "fraction",
                        reason: format!("{fraction} is not in (0, 1]"),
                    });
                }
                let side = |s: usize| ((fraction * s as f64).round() as usize).clamp(1, s);
                let (bw, bh) = (side(width), side(height));
                let (x0, y0) = ((width - bw) / 2, (height - bh) / 2);
                let mut m = vec![0.0; n];
                for row in m.chunks_exact_mut(width).skip(y0).take(bh) {
                    row[x0..x0 + bw].fill(1.0);
                }
                Ok(m)
            }
            Self::CenterGaussian { sigma_fraction } => {
                if !(sigma_fraction > 0.0 && sigma_fraction.is_finite()) {
                    return Err(MetricsError::InvalidParameter {
                        op: OP,
                        name: "sigma_fraction",
                        reason: format!("{sigma_fraction} is not a positive number"),
                    });
                }
                let sigma = sigma_fraction * width.min(height) as f64;
                let (cx, cy) = (width as f64 / 2.0, height as f64 / 2.0);
                let mut m: Vec<f64> = (0..n)
                    .map(|i| {
                        let dx = (i % width) as f64 + 0.5 - cx;
                        let dy = (i / width) as f64 + 0.5 - cy;
                        (-(dx * dx + dy * dy) / (2.0 * sigma * sigma)).exp()
                    })
                    .collect();
                let max = m.iter().copied().fold(0.0, f64::max);
                if max > 0.0 {
                    m.iter_mut().for_each(|v| *v /= max);
                }
                Ok(m.into_iter().map(|v| v as f32).collect())
            }
            Self::UniformRandom { seed } => {
                let mut rng = SplitMix64::new(seed ^ mix64(index as u64));
                Ok((0..n).map(|_| rng.next_f64() as f32).collect())
            }
        }
    }
}

/// Scores `baseline` on a test set exactly like a model: one baseline map per ground truth
/// (image index = position in `gts`), then [`evaluate_localization`].
///
/// # Errors
/// The errors of [`Baseline::map`] and [`evaluate_localization`].
pub fn evaluate_baseline(
    baseline: Baseline,
    gts: &[ConsensusGt],
    rule: PredictionRule,
    success_threshold: f64,
) -> Result<LocalizationSummary> {
    let maps = gts
        .iter()
        .enumerate()
        .map(|(i, g)| baseline.map(g.width(), g.height(), i))
        .collect::<Result<Vec<_>>>()?;
    let views = maps
        .iter()
        .zip(gts)
        .map(|(m, g)| ScoreMap::new(m, g.width(), g.height()))
        .collect::<Result<Vec<_>>>()?;
    evaluate_localization(&views, gts, rule, success_threshold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ciou::{BoxConvention, ConsensusRule, PixelBox};

    #[test]
    fn whole_image_baseline_on_a_test_set() {
        // Two 4x4 images; GT = top-left 2x2 agreed by two annotators (Σg = 4): predicting the
        // whole image gives 4 / (4 + 12) = 0.25 for both.
        let b = [PixelBox::new(0, 0, 2, 2), PixelBox::new(0, 0, 2, 2)];
        let gt =
            ConsensusGt::from_boxes(&b, 4, 4, BoxConvention::ZeroBasedHalfOpen, ConsensusRule::HalfCapped)
                .expect("gt");
        let s =
            evaluate_baseline(Baseline::WholeImage, &[gt.clone(), gt], PredictionRule::Absolute(0.5), 0.5)
                .expect("summary");
        assert_eq!(s.cious, vec![0.25, 0.25]);
        assert_eq!(s.success_rate, 0.0);
    }

    #[test]
    fn shapes_and_values() {
        assert_eq!(Baseline::WholeImage.map(3, 2, 0).expect("map"), vec![1.0; 6]);
        let b = Baseline::CenterBox { fraction: 0.5 }.map(4, 4, 0).expect("map");
        let ones: Vec<usize> = (0..16).filter(|&i| b[i] == 1.0).collect();
        assert_eq!(ones, vec![5, 6, 9, 10]);
        let g = Baseline::CenterGaussian { sigma_fraction: 0.25 }.map(5, 3, 0).expect("map");
        let max = g.iter().copied().fold(0.0f32, f32::max);
        assert_eq!(max, 1.0);
        assert_eq!(g[7], 1.0, "peak at the centre pixel");
        assert!(g[0] < g[6] && g[6] < g[7]);
        let r1 = Baseline::UniformRandom { seed: 3 }.map(8, 8, 0).expect("map");
        let r2 = Baseline::UniformRandom { seed: 3 }.map(8, 8, 0).expect("map");
        let r3 = Baseline::UniformRandom { seed: 3 }.map(8, 8, 1).expect("map");
        assert_eq!(r1, r2);
        assert_ne!(r1, r3);
        assert!(r1.iter().all(|v| (0.0..1.0).contains(v)));
    }

    #[test]
    fn invalid_parameters() {
        assert!(Baseline::CenterBox { fraction: 0.0 }.map(4, 4, 0).is_err());
        assert!(Baseline::CenterBox { fraction: 1.5 }.map(4, 4, 0).is_err());
        assert!(Baseline::CenterGaussian { sigma_fraction: -1.0 }.map(4, 4, 0).is_err());
        assert!(matches!(Baseline::WholeImage.map(0, 4, 0), Err(MetricsError::Empty { .. })));
    }
}
