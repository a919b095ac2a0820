//! SoundNet-Flickr localization: consensus ground truth, predicted region and cIoU
//! (Senocak et al., CVPR 2018; docs/reference_implementation.md §6).
//!
//! * Ground truth (`new/testdata.py:64-70` of MSSL, LVS `utils.py:testset_gt`): every
//!   annotator box adds 1 to the pixels it covers, `g = min(G / 2, 1)`; a pixel is fully
//!   sounding when two boxes agree and half sounding when only one covers it.
//! * Prediction: the pixels selected from the map by a [`PredictionRule`].
//! * `cIoU = Σ_{i∈A} g_i / (Σ_i g_i + |{i ∈ A : g_i = 0}|)` (MSSL `new/main.py:132-136`,
//!   `new/cal_metric.py:6-9`, `gtscore.py:90-97`; LVS `utils.py:19-24`).
//!
//! Success rate and AUC over a test set: [`crate::auc`], or all at once with
//! [`evaluate_localization`].

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auc::{LocalizationSummary, summarize};
use crate::error::{MetricsError, Result, check_finite};
use crate::kernels;
use crate::map::ScoreMap;

/// How box corners are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum BoxConvention {
    /// MSSL's reading of the 1-based Flickr annotations: box `(xmin, ymin, xmax, ymax)` covers
    /// `G[ymin-1 : ymax-1, xmin-1 : xmax-1]` (Python half-open slices, `new/testdata.py:68`),
    /// so the last row and column of the annotated box are left out. Valid boxes have
    /// `1 <= min <= max <= size`.
    #[default]
    OneBasedMssl,
    /// 0-based half-open boxes: `G[ymin:ymax, xmin:xmax]` (LVS `utils.py:testset_gt`).
    /// Valid boxes have `0 <= min <= max <= size`.
    ZeroBasedHalfOpen,
}

/// How the per-pixel box counts become the ground-truth weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ConsensusRule {
    /// `g = min(count / 2, 1)`: Senocak's consensus of several annotators (MSSL, LVS on Flickr).
    #[default]
    HalfCapped,
    /// `g = 1` where any box covers the pixel (VGG-SS, the AudioSet class-agnostic GT).
    Union,
}

/// A pixel-coordinate box `(x_min, y_min, x_max, y_max)`, read with a [`BoxConvention`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixelBox {
    /// Left edge (column).
    pub x_min: i64,
    /// Top edge (row).
    pub y_min: i64,
    /// Right edge (column).
    pub x_max: i64,
    /// Bottom edge (row).
    pub y_max: i64,
}

impl PixelBox {
    /// A box from `(x_min, y_min, x_max, y_max)`.
    pub fn new(x_min: i64, y_min: i64, x_max: i64, y_max: i64) -> Self {
        Self { x_min, y_min, x_max, y_max }
    }

    /// The half-open, 0-based pixel ranges `(rows, cols)` this box covers on a
    /// `width x height` grid.
    ///
    /// # Errors
    /// [`MetricsError::BoxOutOfBounds`] when the box is inverted or leaves the image.
    pub fn pixel_ranges(
        &self,
        convention: BoxConvention,
        width: usize,
        height: usize,
        index: usize,
    ) -> Result<(std::ops::Range<usize>, std::ops::Range<usize>)> {
        // 1-based boxes satisfy 1 <= min <= max <= size, 0-based half-open ones
        // 0 <= min <= max <= size; both become the 0-based half-open [min - lo, max - lo).
        let lo = match convention {
            BoxConvention::OneBasedMssl => 1i64,
            BoxConvention::ZeroBasedHalfOpen => 0,
        };
        let inside = |min: i64, max: i64, size: usize| lo <= min && min <= max && max <= size as i64;
        let inside_x = inside(self.x_min, self.x_max, width);
        let inside_y = inside(self.y_min, self.y_max, height);
        if !inside_x || !inside_y {
            return Err(MetricsError::BoxOutOfBounds {
                op: "ConsensusGt::from_boxes",
                index,
                bbox: format!(
                    "({}, {}, {}, {}) [{convention:?}]",
                    self.x_min, self.y_min, self.x_max, self.y_max
                ),
                width,
                height,
            });
        }
        let rows = (self.y_min - lo) as usize..(self.y_max - lo) as usize;
        let cols = (self.x_min - lo) as usize..(self.x_max - lo) as usize;
        Ok((rows, cols))
    }
}

/// A ground-truth weight map `g` (row-major `height x width`, values in `[0, 1]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsensusGt {
    width: usize,
    height: usize,
    weights: Vec<f32>,
    total: f64,
}

impl ConsensusGt {
    /// The SoundNet-Flickr ground truth of boxes given in floating-point pixels `[x0, y0, x1,
    /// y1)` of another frame: each box scaled by `scale = (sx, sy)` onto the `width x height`
    /// evaluation grid, rounded outwards (floor of the start, ceiling of the end), counted as
    /// `annotators` agreeing annotations, then [`ConsensusGt::from_boxes`] with
    /// [`BoxConvention::ZeroBasedHalfOpen`] and [`ConsensusRule::HalfCapped`]. The one place
    /// where the benchmark (2 agreeing annotators per sounding object, scale 1) and real
    /// SoundNet-Flickr test sets (1 per annotator's box, scaled to the model's frame) get their
    /// ground truth.
    ///
    /// # Errors
    /// As [`ConsensusGt::from_boxes`]; [`MetricsError::Empty`] when `annotators == 0`.
    pub fn from_scaled_boxes(
        boxes: &[[f64; 4]],
        scale: (f64, f64),
        width: usize,
        height: usize,
        annotators: usize,
    ) -> Result<Self> {
        let (sx, sy) = scale;
        let pixel: Vec<PixelBox> = boxes
            .iter()
            .flat_map(|b| {
                let p = PixelBox::new(
                    (b[0] * sx).floor() as i64,
                    (b[1] * sy).floor() as i64,
                    (b[2] * sx).ceil() as i64,
                    (b[3] * sy).ceil() as i64,
                );
                std::iter::repeat_n(p, annotators)
            })
            .collect();
        Self::from_boxes(&pixel, width, height, BoxConvention::ZeroBasedHalfOpen, ConsensusRule::HalfCapped)
    }

    /// Builds the consensus map of all annotators' boxes of one image.
    ///
    /// # Shapes
    /// `boxes`: any number ≥ 1 of boxes on the `width x height` evaluation grid.
    ///
    /// # Errors
    /// [`MetricsError::Empty`] without boxes, [`MetricsError::BoxOutOfBounds`] for a box
    /// outside the image, [`MetricsError::EmptyGroundTruth`] when the boxes cover no pixel.
    pub fn from_boxes(
        boxes: &[PixelBox],
        width: usize,
        height: usize,
        convention: BoxConvention,
        rule: ConsensusRule,
    ) -> Result<Self> {
        const OP: &str = "ConsensusGt::from_boxes";
        if boxes.is_empty() {
            return Err(MetricsError::Empty { op: OP, what: "box annotations" });
        }
        if width == 0 || height == 0 {
            return Err(MetricsError::Empty { op: OP, what: "grid" });
        }
        let mut counts = vec![0u32; width * height];
        for (index, b) in boxes.iter().enumerate() {
            let (rows, cols) = b.pixel_ranges(convention, width, height, index)?;
            for y in rows {
                for c in &mut counts[y * width + cols.start..y * width + cols.end] {
                    *c += 1;
                }
            }
        }
        let weights: Vec<f32> = counts
            .iter()
            .map(|&c| match rule {
                ConsensusRule::HalfCapped => (c as f32 / 2.0).min(1.0),
                ConsensusRule::Union => f32::from(u8::from(c > 0)),
            })
            .collect();
        Self::from_weights(weights, width, height)
    }

    /// Wraps a precomputed weight map (for example MSSL's saved `gtmap.npy`).
    ///
    /// # Errors
    /// [`MetricsError::ShapeMismatch`] for a wrong length, [`MetricsError::NonFinite`] for a NaN,
    /// [`MetricsError::InvalidParameter`] for a negative weight,
    /// [`MetricsError::EmptyGroundTruth`] when all weights are zero.
    pub fn from_weights(weights: Vec<f32>, width: usize, height: usize) -> Result<Self> {
        const OP: &str = "ConsensusGt::from_weights";
        if weights.len() != width * height || weights.is_empty() {
            return Err(MetricsError::ShapeMismatch {
                op: OP,
                expected: format!("{height}x{width} non-empty grid"),
                actual: format!("{} values", weights.len()),
            });
        }
        check_finite(OP, "ground-truth weights", &weights)?;
        if let Some(i) = weights.iter().position(|&w| w < 0.0) {
            return Err(MetricsError::InvalidParameter {
                op: OP,
                name: "weights",
                reason: format!("negative weight {} at flat index {i}", weights[i]),
            });
        }
        let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        if total == 0.0 {
            return Err(MetricsError::EmptyGroundTruth { op: OP });
        }
        Ok(Self { width, height, weights, total })
    }

    /// The weights `g`, row-major (`height * width`).
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// Grid width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Grid height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// `Σ g` (> 0 by construction).
    pub fn total_weight(&self) -> f64 {
        self.total
    }
}

/// Which pixels of a score map form the predicted sounding region.
///
/// Comparisons are done in `f32`, as NumPy 2 does for a `float32` map against a Python float
/// (the threshold is rounded to `f32` first).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PredictionRule {
    /// `map > τ` (MSSL `new/main.py:115` with τ = 0.5, `new/cal_metric.py:4` with τ = 0.001).
    Absolute(f64),
    /// `map >= τ` (MSSL `gtscore.py:94` with τ = 0.1; LVS `cal_CIOU`).
    AtLeast(f64),
    /// `map > f · max(max(map), 0)` (AudioSet `utils/evaluate.py:96` with f = 0.1, where negative
    /// values are first set to 0).
    RelativeToMax(f64),
    /// LVS (`test.py:77-89`): min-max normalise, `thr = sort(p)[n / 2]`, predicted where
    /// `p > thr` (or `p >= 1`, as LVS's in-place binarisation keeps those), i.e. about the top
    /// half of the pixels.
    LvsMedian,
}

impl PredictionRule {
    /// The predicted region of `map` as a row-major mask.
    pub fn mask(&self, map: &ScoreMap<'_>) -> Vec<bool> {
        let v = map.data();
        match *self {
            Self::Absolute(t) => {
                let t = t as f32;
                v.iter().map(|&x| x > t).collect()
            }
            Self::AtLeast(t) => {
                let t = t as f32;
                v.iter().map(|&x| x >= t).collect()
            }
            Self::RelativeToMax(f) => {
                let t = (f as f32) * map.max().max(0.0);
                v.iter().map(|&x| x > t).collect()
            }
            Self::LvsMedian => lvs_median_mask(map),
        }
    }
}

/// LVS `test.py:77-89`: `h' = normalize_img(-h)`, `p = 1 - h'`, `thr = sort(p)[int(n / 2)]`,
/// `p[p > thr] = 1; p[p < 1] = 0`, then `cal_CIOU(p, gt, 0.5)` keeps `p >= 0.5`.
fn lvs_median_mask(map: &ScoreMap<'_>) -> Vec<bool> {
    let h = map.data();
    let (max_h, min_h) = (map.max(), map.min());
    let range = max_h - min_h;
    // normalize_img(-h) = ((-h) - (-max)) / ((-min) - (-max)) = (max - h) / (max - min), or -h
    // unchanged for a constant map; all in f32 as the float32 heat map of LVS.
    let p: Vec<f32> = if range != 0.0 {
        h.iter().map(|&x| 1.0 - (max_h - x) / range).collect()
    } else {
        h.iter().map(|&x| 1.0 + x).collect()
    };
    let mut sorted = p.clone();
    let k = sorted.len() / 2;
    let (_, &mut thr, _) = sorted.select_nth_unstable_by(k, f32::total_cmp);
    p.iter().map(|&x| x > thr || x >= 1.0).collect()
}

/// cIoU of a predicted region against a ground-truth weight map.
///
/// # Shapes
/// `mask.len() == gt.width() * gt.height()`.
///
/// # Errors
/// [`MetricsError::ShapeMismatch`] for a wrong mask length.
pub fn ciou_from_mask(mask: &[bool], gt: &ConsensusGt) -> Result<f64> {
    if mask.len() != gt.weights.len() {
        return Err(MetricsError::ShapeMismatch {
            op: "ciou_from_mask",
            expected: format!("{}x{} mask", gt.height, gt.width),
            actual: format!("{} values", mask.len()),
        });
    }
    let mut inter = 0.0f64;
    let mut outside = 0u64;
    for (&m, &g) in mask.iter().zip(&gt.weights) {
        if m {
            inter += f64::from(g);
            outside += u64::from(g == 0.0);
        }
    }
    Ok(inter / (gt.total + outside as f64))
}

/// cIoU of `map` against `gt` with the predicted region chosen by `rule`.
///
/// # Shapes
/// `map` and `gt` on the same `height x width` grid.
///
/// # Errors
/// [`MetricsError::ShapeMismatch`] when the grids differ.
pub fn ciou(map: &ScoreMap<'_>, gt: &ConsensusGt, rule: PredictionRule) -> Result<f64> {
    if (map.width(), map.height()) != (gt.width, gt.height) {
        return Err(MetricsError::ShapeMismatch {
            op: "ciou",
            expected: format!("map of {}x{} (ground truth)", gt.height, gt.width),
            actual: format!("{}x{}", map.height(), map.width()),
        });
    }
    // One fused pass for the threshold rules (same sets as `PredictionRule::mask`).
    let (v, g) = (map.data(), &gt.weights[..]);
    let (inter, outside) = match rule {
        PredictionRule::Absolute(t) => {
            let t = t as f32;
            kernels::weighted_hits(v, g, |x| x > t)
        }
        PredictionRule::AtLeast(t) => {
            let t = t as f32;
            kernels::weighted_hits(v, g, |x| x >= t)
        }
        PredictionRule::RelativeToMax(f) => {
            let t = (f as f32) * map.max().max(0.0);
            kernels::weighted_hits(v, g, |x| x > t)
        }
        PredictionRule::LvsMedian => return ciou_from_mask(&rule.mask(map), gt),
    };
    Ok(inter / (gt.total + outside as f64))
}

/// cIoU of every image, then success rate at `success_threshold` and AUC (docs/reference_implementation.md §6.2).
///
/// # Shapes
/// `maps[i]` and `gts[i]` share a grid; `maps.len() == gts.len() ≥ 1`.
///
/// # Errors
/// [`MetricsError::ShapeMismatch`] for different counts or grids, [`MetricsError::Empty`] for
/// no images.
pub fn evaluate_localization(
    maps: &[ScoreMap<'_>],
    gts: &[ConsensusGt],
    rule: PredictionRule,
    success_threshold: f64,
) -> Result<LocalizationSummary> {
    if maps.len() != gts.len() {
        return Err(MetricsError::ShapeMismatch {
            op: "evaluate_localization",
            expected: format!("{} maps (one per ground truth)", gts.len()),
            actual: format!("{} maps", maps.len()),
        });
    }
    let cious = maps.par_iter().zip(gts).map(|(m, g)| ciou(m, g, rule)).collect::<Result<Vec<_>>>()?;
    summarize(cious, success_threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gt(boxes: &[PixelBox], w: usize, h: usize) -> ConsensusGt {
        ConsensusGt::from_boxes(boxes, w, h, BoxConvention::ZeroBasedHalfOpen, ConsensusRule::HalfCapped)
            .expect("valid boxes")
    }

    #[test]
    fn one_box_hand_computed() {
        // 4x4 grid, one box covering the 2x2 top-left corner: g = 0.5 there, Σg = 2.
        let g = gt(&[PixelBox::new(0, 0, 2, 2)], 4, 4);
        assert_eq!(g.total_weight(), 2.0);
        // Predict exactly the box: 2 / (2 + 0) = 1.
        let mut m = vec![0.0f32; 16];
        for (y, x) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            m[y * 4 + x] = 1.0;
        }
        let map = ScoreMap::new(&m, 4, 4).expect("map");
        assert_eq!(ciou(&map, &g, PredictionRule::Absolute(0.5)).expect("ciou"), 1.0);
        // Predict the box plus 2 outside pixels: 2 / (2 + 2) = 0.5.
        m[3] = 1.0;
        m[15] = 1.0;
        let map = ScoreMap::new(&m, 4, 4).expect("map");
        assert_eq!(ciou(&map, &g, PredictionRule::Absolute(0.5)).expect("ciou"), 0.5);
        // Predict one box pixel only: 0.5 / 2 = 0.25.
        let mut one = vec![0.0f32; 16];
        one[5] = 1.0;
        let map = ScoreMap::new(&one, 4, 4).expect("map");
        assert_eq!(ciou(&map, &g, PredictionRule::Absolute(0.5)).expect("ciou"), 0.25);
    }

    #[test]
    fn two_overlapping_boxes_hand_computed() {
        // 1-based MSSL boxes on a 5x4 (w x h) grid: (1,1,4,3) covers rows 0..2, cols 0..3;
        // (2,1,5,4) covers rows 0..3, cols 1..4. Counts:
        //   row0: 1 2 2 1 0      row1: 1 2 2 1 0      row2: 0 1 1 1 0      row3: 0 0 0 0 0
        // g: 1.0 on the 4 overlap pixels, 0.5 on the 7 single-box pixels → Σg = 4 + 3.5 = 7.5.
        let boxes = [PixelBox::new(1, 1, 4, 3), PixelBox::new(2, 1, 5, 4)];
        let g = ConsensusGt::from_boxes(&boxes, 5, 4, BoxConvention::OneBasedMssl, ConsensusRule::HalfCapped)
            .expect("valid");
        assert_eq!(g.total_weight(), 7.5);
        let expected_row0 = [0.5f32, 1.0, 1.0, 0.5, 0.0];
        assert_eq!(&g.weights()[0..5], &expected_row0);
        assert_eq!(&g.weights()[15..20], &[0.0; 5]);
        // Full map: A = all 20 px; Σ_A g = 7.5; outside = 20 - 11 = 9 → 7.5 / 16.5.
        let full = vec![1.0f32; 20];
        let map = ScoreMap::new(&full, 5, 4).expect("map");
        let c = ciou(&map, &g, PredictionRule::Absolute(0.5)).expect("ciou");
        assert!((c - 7.5 / 16.5).abs() < 1e-15);
        // Union rule: Σg = 11, full map → 11 / (11 + 9).
        let u = ConsensusGt::from_boxes(&boxes, 5, 4, BoxConvention::OneBasedMssl, ConsensusRule::Union)
            .expect("valid");
        assert_eq!(ciou(&map, &u, PredictionRule::Absolute(0.5)).expect("ciou"), 0.55);
    }

    #[test]
    fn all_zero_and_full_maps() {
        let g = gt(&[PixelBox::new(1, 1, 3, 3), PixelBox::new(1, 1, 3, 3)], 4, 4);
        let zero = vec![0.0f32; 16];
        let map = ScoreMap::new(&zero, 4, 4).expect("map");
        for rule in [PredictionRule::Absolute(0.5), PredictionRule::RelativeToMax(0.1)] {
            assert_eq!(ciou(&map, &g, rule).expect("ciou"), 0.0, "{rule:?}");
        }
        // AtLeast(0) and LVS on a constant non-negative map predict everything: 4 / (4 + 12).
        for rule in [PredictionRule::AtLeast(0.0), PredictionRule::LvsMedian] {
            assert_eq!(ciou(&map, &g, rule).expect("ciou"), 0.25, "{rule:?}");
        }
        let full = vec![1.0f32; 16];
        let map = ScoreMap::new(&full, 4, 4).expect("map");
        assert_eq!(ciou(&map, &g, PredictionRule::Absolute(0.5)).expect("ciou"), 0.25);
    }

    #[test]
    fn rules_select_expected_pixels() {
        let v = [0.0f32, 0.1, 0.2, 0.5, 0.5, 0.7, 0.9, 1.0];
        let map = ScoreMap::new(&v, 4, 2).expect("map");
        let count = |r: PredictionRule| r.mask(&map).iter().filter(|&&b| b).count();
        assert_eq!(count(PredictionRule::Absolute(0.5)), 3);
        assert_eq!(count(PredictionRule::AtLeast(0.5)), 5);
        assert_eq!(count(PredictionRule::RelativeToMax(0.15)), 6);
        // LVS: sorted p = v, thr = p[4] = 0.5 → 0.7, 0.9, 1.0.
        assert_eq!(count(PredictionRule::LvsMedian), 3);
        let neg = [-3.0f32, -2.0, -1.0, -0.5];
        let map = ScoreMap::new(&neg, 2, 2).expect("map");
        assert_eq!(
            PredictionRule::RelativeToMax(0.1).mask(&map),
            vec![false; 4],
            "negative maps are clamped at 0 first"
        );
    }

    #[test]
    fn bad_boxes_and_shapes() {
        let e = ConsensusGt::from_boxes(&[], 4, 4, BoxConvention::OneBasedMssl, ConsensusRule::HalfCapped);
        assert!(matches!(e, Err(MetricsError::Empty { .. })));
        for b in [
            PixelBox::new(0, 1, 2, 2),
            PixelBox::new(1, 1, 5, 2),
            PixelBox::new(3, 1, 2, 2),
            PixelBox::new(1, -1, 2, 2),
        ] {
            let e =
                ConsensusGt::from_boxes(&[b], 4, 4, BoxConvention::OneBasedMssl, ConsensusRule::HalfCapped);
            assert!(matches!(e, Err(MetricsError::BoxOutOfBounds { .. })), "{b:?}");
        }
        let ok = ConsensusGt::from_boxes(
            &[PixelBox::new(0, 0, 4, 4)],
            4,
            4,
            BoxConvention::ZeroBasedHalfOpen,
            ConsensusRule::HalfCapped,
        );
        assert!(ok.is_ok());
        let degenerate = ConsensusGt::from_boxes(
            &[PixelBox::new(2, 2, 2, 3)],
            4,
            4,
            BoxConvention::ZeroBasedHalfOpen,
            ConsensusRule::HalfCapped,
        );
        assert!(matches!(degenerate, Err(MetricsError::EmptyGroundTruth { .. })));
        let g = gt(&[PixelBox::new(0, 0, 2, 2)], 4, 4);
        let small = vec![0.0f32; 9];
        let map = ScoreMap::new(&small, 3, 3).expect("map");
        assert!(matches!(
            ciou(&map, &g, PredictionRule::Absolute(0.5)),
            Err(MetricsError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            ConsensusGt::from_weights(vec![f32::NAN; 4], 2, 2),
            Err(MetricsError::NonFinite { .. })
        ));
    }
}
