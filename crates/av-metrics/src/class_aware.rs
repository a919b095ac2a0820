//! Class-aware cIoU for multi-source scenes (paper Eq. 9, docs/reference_implementation.md §5.3).
//!
//! Port of MSSL `utils/evaluate.py:class_eval` (lines 79-121), generalised from its
//! "exactly two annotated classes" filter to every level:
//! * per sounding class `c`: binary GT = union of that class's boxes, COCO-style normalised
//!   `[x, y, w, h]` scaled to the grid and sliced `gt[int(y):int(y+h), int(x):int(x+w)] = 1`
//!   (`:97-100`, with `y = y_n · H`, `h = h_n · W` etc.);
//! * the class's map is thresholded by a [`PredictionRule`] (default `> 0.1 · max`, `:104-106`);
//! * `cIoU_c = |pred ∧ gt| / (|gt| + |pred ∧ ¬gt|)` (`:105-106`);
//! * frame score `cIoU_class = Σ_c θ_c cIoU_c / Σ_c θ_c` (Eq. 9), θ_c = 1 for sounding classes;
//!   visible but silent objects are not part of the ground truth (paper footnote 8);
//! * success = fraction of frames with score ≥ 0.5 (0.3 for three sources, paper Table 2), AUC
//!   as SoundNet-Flickr ([`crate::auc`]); reported overall and per level (number of sounding
//!   classes in the frame).

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auc::{LocalizationSummary, summarize};
use crate::ciou::{ConsensusGt, PredictionRule};
use crate::error::{MetricsError, Result, check_finite};
use crate::kernels;
use crate::map::ScoreMap;

/// A COCO-style box in normalised image coordinates: top-left `(x, y)`, size `(w, h)`, all in
/// `[0, 1]` of the image width (x, w) and height (y, h).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NormalizedBox {
    /// Left edge / width.
    pub x: f64,
    /// Top edge / height.
    pub y: f64,
    /// Box width / image width.
    pub w: f64,
    /// Box height / image height.
    pub h: f64,
}

/// Slack allowed for `x + w` and `y + h` above 1 (detector boxes are often a rounding error
/// past the border; the pixel range is clipped to the grid as Python slicing does).
pub const BOX_TOLERANCE: f64 = 1e-6;

impl NormalizedBox {
    /// The half-open pixel ranges `(rows, cols)` on a `width x height` grid:
    /// `int(y·H) .. int(y·H + h·H)`, `int(x·W) .. int(x·W + w·W)`, clipped to the grid.
    ///
    /// # Errors
    /// [`MetricsError::BoxOutOfBounds`] for a non-finite or negative coordinate or a box
    /// reaching past `1 +` [`BOX_TOLERANCE`].
    pub fn pixel_ranges(
        &self,
        width: usize,
        height: usize,
        index: usize,
    ) -> Result<(std::ops::Range<usize>, std::ops::Range<usize>)> {
        let ok = [self.x, self.y, self.w, self.h].iter().all(|v| v.is_finite() && *v >= 0.0)
            && self.x + self.w <= 1.0 + BOX_TOLERANCE
            && self.y + self.h <= 1.0 + BOX_TOLERANCE;
        if !ok {
            return Err(MetricsError::BoxOutOfBounds {
                op: "NormalizedBox::pixel_ranges",
                index,
                bbox: format!("[x {}, y {}, w {}, h {}] (normalised)", self.x, self.y, self.w, self.h),
                width,
                height,
            });
        }
        let (wf, hf) = (width as f64, height as f64);
        let (x, y, w, h) = (self.x * wf, self.y * hf, self.w * wf, self.h * hf);
        // Python int() truncates toward zero; slicing clips at the grid size.
        let span = |start: f64, len: f64, size: usize| {
            let a = (start.trunc() as usize).min(size);
            let b = ((start + len).trunc() as usize).min(size);
            a..b.max(a)
        };
        Ok((span(y, h, height), span(x, w, width)))
    }
}

/// One annotated object of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnnotatedObject {
    /// Class index (row of the frame's class maps).
    pub class: usize,
    /// Its box.
    pub bbox: NormalizedBox,
    /// Whether the object makes sound (θ_c = 1); silent objects are ignored.
    pub sounding: bool,
}

/// Per-class score maps of one frame.
///
/// # Shapes
/// `data`: `num_classes x height x width`, row-major.
#[derive(Debug, Clone, Copy)]
pub struct ClassMaps<'a> {
    data: &'a [f32],
    num_classes: usize,
    width: usize,
    height: usize,
}

impl<'a> ClassMaps<'a> {
    /// Wraps `data` as `num_classes` maps of `height x width`.
    ///
    /// # Errors
    /// [`MetricsError::ShapeMismatch`] for a wrong length, [`MetricsError::Empty`] for a zero
    /// dimension, [`MetricsError::NonFinite`] for a NaN.
    pub fn new(data: &'a [f32], num_classes: usize, width: usize, height: usize) -> Result<Self> {
        const OP: &str = "ClassMaps::new";
        if num_classes == 0 || width == 0 || height == 0 {
            return Err(MetricsError::Empty { op: OP, what: "class maps" });
        }
        if data.len() != num_classes * width * height {
            return Err(MetricsError::ShapeMismatch {
                op: OP,
                expected: format!("{num_classes}x{height}x{width} values"),
                actual: format!("{} values", data.len()),
            });
        }
        check_finite(OP, "class maps", data)?;
        Ok(Self { data, num_classes, width, height })
    }

    /// Number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Map width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Map height.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The map of class `c`.
    ///
    /// # Errors
    /// [`MetricsError::ShapeMismatch`] when `c >= num_classes`.
    pub fn class(&self, c: usize) -> Result<ScoreMap<'a>> {
        if c >= self.num_classes {
            return Err(MetricsError::ShapeMismatch {
                op: "ClassMaps::class",
                expected: format!("class index < {}", self.num_classes),
                actual: c.to_string(),
            });
        }
        let n = self.width * self.height;
        // Validated (length and finiteness) by `ClassMaps::new`.
        Ok(ScoreMap::from_validated(&self.data[c * n..(c + 1) * n], self.width, self.height))
    }
}

/// One frame to score: its annotations and its per-class maps.
#[derive(Debug, Clone, Copy)]
pub struct ClassAwareFrame<'a> {
    /// All annotated objects (sounding and silent).
    pub objects: &'a [AnnotatedObject],
    /// The model's per-class maps.
    pub maps: ClassMaps<'a>,
}

/// Score of one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameScore {
    /// Eq. 9: mean cIoU over the sounding classes.
    pub score: f64,
    /// `(class, cIoU_c)` of every sounding class, by class index.
    pub per_class: Vec<(usize, f64)>,
    /// Number of sounding classes (the level).
    pub level: usize,
}

/// Binary ground truth of one class: the union of `boxes` on a `width x height` grid.
///
/// # Errors
/// [`MetricsError::BoxOutOfBounds`] for a bad box, [`MetricsError::EmptyGroundTruth`] when the
/// union covers no pixel.
pub fn class_ground_truth(boxes: &[NormalizedBox], width: usize, height: usize) -> Result<ConsensusGt> {
    let mut g = vec![0.0f32; width * height];
    for (index, b) in boxes.iter().enumerate() {
        let (rows, cols) = b.pixel_ranges(width, height, index)?;
        for y in rows {
            g[y * width + cols.start..y * width + cols.end].fill(1.0);
        }
    }
    if g.iter().all(|&v| v == 0.0) {
        return Err(MetricsError::EmptyGroundTruth { op: "class_ground_truth" });
    }
    ConsensusGt::from_weights(g, width, height)
}

/// `cIoU_c = |pred ∧ gt| / (|gt| + |pred ∧ ¬gt|)` of one class map against the union of its
/// boxes (`utils/evaluate.py:97-106`), with integer pixel counts.
fn class_ciou(map: &ScoreMap<'_>, boxes: &[NormalizedBox], rule: PredictionRule) -> Result<f64> {
    let (w, h) = (map.width(), map.height());
    let mut gt = vec![0u8; w * h];
    for (index, b) in boxes.iter().enumerate() {
        let (rows, cols) = b.pixel_ranges(w, h, index)?;
        for y in rows {
            gt[y * w + cols.start..y * w + cols.end].fill(1);
        }
    }
    let v = map.data();
    let (inter, pred, gt_count) = match rule {
        PredictionRule::Absolute(t) => {
            let t = t as f32;
            kernels::binary_hits(v, &gt, |x| x > t)
        }
        PredictionRule::AtLeast(t) => {
            let t = t as f32;
            kernels::binary_hits(v, &gt, |x| x >= t)
        }
        PredictionRule::RelativeToMax(f) => {
            let t = (f as f32) * map.max().max(0.0);
            kernels::binary_hits(v, &gt, |x| x > t)
        }
        PredictionRule::LvsMedian => {
            let mask = rule.mask(map);
            let inter = mask.iter().zip(&gt).filter(|(m, g)| **m && **g == 1).count() as u64;
            let gt_count = gt.iter().map(|&g| u64::from(g)).sum();
            (inter, mask.iter().filter(|m| **m).count() as u64, gt_count)
        }
    };
    if gt_count == 0 {
        return Err(MetricsError::EmptyGroundTruth { op: "class_aware_ciou" });
    }
    Ok(inter as f64 / (gt_count + pred - inter) as f64)
}

/// Eq. 9 for one frame.
///
/// # Errors
/// [`MetricsError::Empty`] when no object is sounding, [`MetricsError::ShapeMismatch`] for a
/// class index outside the maps, and the errors of [`class_ground_truth`].
pub fn class_aware_ciou(frame: &ClassAwareFrame<'_>, rule: PredictionRule) -> Result<FrameScore> {
    let mut by_class: BTreeMap<usize, Vec<NormalizedBox>> = BTreeMap::new();
    for o in frame.objects.iter().filter(|o| o.sounding) {
        by_class.entry(o.class).or_default().push(o.bbox);
    }
    if by_class.is_empty() {
        return Err(MetricsError::Empty { op: "class_aware_ciou", what: "sounding objects of the frame" });
    }
    let maps = &frame.maps;
    let per_class = by_class
        .iter()
        .map(|(&c, boxes)| Ok((c, class_ciou(&maps.class(c)?, boxes, rule)?)))
        .collect::<Result<Vec<_>>>()?;
    let score = per_class.iter().map(|p| p.1).sum::<f64>() / per_class.len() as f64;
    Ok(FrameScore { score, level: per_class.len(), per_class })
}

/// Options of [`evaluate_class_aware`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAwareConfig {
    /// Predicted region of each class map (default `RelativeToMax(0.1)`, `evaluate.py:104`).
    pub rule: PredictionRule,
    /// Success threshold of the overall summary and of levels not listed below (0.5).
    pub success_threshold: f64,
    /// `(level, threshold)` overrides (default `[(3, 0.3)]`, paper Table 2).
    pub level_success_thresholds: Vec<(usize, f64)>,
}

impl Default for ClassAwareConfig {
    fn default() -> Self {
        Self {
            rule: PredictionRule::RelativeToMax(0.1),
            success_threshold: 0.5,
            level_success_thresholds: vec![(3, 0.3)],
        }
    }
}

impl ClassAwareConfig {
    /// Success threshold for frames with `level` sounding classes.
    pub fn threshold_for(&self, level: usize) -> f64 {
        self.level_success_thresholds
            .iter()
            .find(|(l, _)| *l == level)
            .map_or(self.success_threshold, |(_, t)| *t)
    }
}

/// Mean cIoU of one class over the frames where it sounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStat {
    /// Class index.
    pub class: usize,
    /// Mean cIoU_c.
    pub mean_ciou: f64,
    /// Number of frames where the class sounds.
    pub count: usize,
}

/// Summary of one level (frames with that many sounding classes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelSummary {
    /// Number of sounding classes.
    pub level: usize,
    /// Frame scores, success at [`ClassAwareConfig::threshold_for`] this level, AUC.
    pub summary: LocalizationSummary,
}

/// Class-aware results of a test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAwareSummary {
    /// Per frame: its score, or `None` for a frame with no sounding object (skipped).
    pub frames: Vec<Option<FrameScore>>,
    /// All scored frames, success at [`ClassAwareConfig::success_threshold`].
    pub overall: LocalizationSummary,
    /// One entry per level present, ascending.
    pub by_level: Vec<LevelSummary>,
    /// Per-class mean cIoU, ascending class index.
    pub per_class: Vec<ClassStat>,
    /// Frames skipped because no annotated object sounds.
    pub skipped_silent: usize,
}

/// Scores every frame (in parallel) and summarises overall, per level and per class.
///
/// Frames whose objects are all silent are skipped and counted in
/// [`ClassAwareSummary::skipped_silent`].
///
/// # Errors
/// [`MetricsError::Empty`] when no frame can be scored; the errors of [`class_aware_ciou`].
pub fn evaluate_class_aware(
    frames: &[ClassAwareFrame<'_>],
    config: &ClassAwareConfig,
) -> Result<ClassAwareSummary> {
    let scored = frames
        .par_iter()
        .map(|f| {
            if f.objects.iter().any(|o| o.sounding) {
                class_aware_ciou(f, config.rule).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let skipped_silent = scored.iter().filter(|s| s.is_none()).count();
    let all: Vec<&FrameScore> = scored.iter().flatten().collect();
    if all.is_empty() {
        return Err(MetricsError::Empty {
            op: "evaluate_class_aware",
            what: "frames with a sounding object",
        });
    }
    let overall = summarize(all.iter().map(|f| f.score).collect(), config.success_threshold)?;
    let mut levels: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut classes: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for f in &all {
        levels.entry(f.level).or_default().push(f.score);
        for &(c, v) in &f.per_class {
            let e = classes.entry(c).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    let by_level = levels
        .into_iter()
        .map(|(level, scores)| {
            Ok(LevelSummary { level, summary: summarize(scores, config.threshold_for(level))? })
        })
        .collect::<Result<Vec<_>>>()?;
    let per_class = classes
        .into_iter()
        .map(|(class, (sum, count))| ClassStat { class, mean_ciou: sum / count as f64, count })
        .collect();
    Ok(ClassAwareSummary { frames: scored, overall, by_level, per_class, skipped_silent })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nb(x: f64, y: f64, w: f64, h: f64) -> NormalizedBox {
        NormalizedBox { x, y, w, h }
    }

    #[test]
    fn box_to_pixels_truncates_like_python() {
        // 10x8 grid: x = 0.15·10 = 1.5 → 1, x + w = 1.5 + 0.5·10 = 6.5 → 6;
        // y = 0.3·8 = 2.4 → 2, y + h = 2.4 + 0.25·8 = 4.4 → 4.
        let (rows, cols) = nb(0.15, 0.3, 0.5, 0.25).pixel_ranges(10, 8, 0).expect("inside");
        assert_eq!((rows, cols), (2..4, 1..6));
        assert!(nb(-0.1, 0.0, 0.5, 0.5).pixel_ranges(10, 8, 0).is_err());
        assert!(nb(0.6, 0.0, 0.5, 0.5).pixel_ranges(10, 8, 0).is_err());
        assert!(nb(0.5, 0.0, f64::NAN, 0.5).pixel_ranges(10, 8, 0).is_err());
        // Within tolerance past the border: clipped.
        let (_, cols) = nb(0.5, 0.0, 0.5 + 1e-9, 0.5).pixel_ranges(10, 8, 0).expect("tolerated");
        assert_eq!(cols, 5..10);
    }

    #[test]
    fn hand_computed_two_class_frame() {
        // 4x4 grid, 3 classes. Class 0 sounds with a box on the top-left 2x2, class 2 sounds
        // with a box on the right half; class 1 is visible but silent.
        let objects = [
            AnnotatedObject { class: 0, bbox: nb(0.0, 0.0, 0.5, 0.5), sounding: true },
            AnnotatedObject { class: 1, bbox: nb(0.0, 0.5, 1.0, 0.5), sounding: false },
            AnnotatedObject { class: 2, bbox: nb(0.5, 0.0, 0.5, 1.0), sounding: true },
        ];
        let mut data = vec![0.0f32; 3 * 16];
        // Class 0 map: exactly its box → cIoU 1.
        for i in [0usize, 1, 4, 5] {
            data[i] = 1.0;
        }
        // Class 2 map: the top half (8 px; 4 inside the 8-px GT) → 4 / (8 + 4) = 1/3.
        for v in &mut data[32..40] {
            *v = 2.0;
        }
        let maps = ClassMaps::new(&data, 3, 4, 4).expect("maps");
        let frame = ClassAwareFrame { objects: &objects, maps };
        let s = class_aware_ciou(&frame, PredictionRule::RelativeToMax(0.1)).expect("score");
        assert_eq!(s.level, 2);
        assert_eq!(s.per_class[0], (0, 1.0));
        assert!((s.per_class[1].1 - 1.0 / 3.0).abs() < 1e-15);
        assert!((s.score - 2.0 / 3.0).abs() < 1e-15);

        let silent_objects = [AnnotatedObject { sounding: false, ..objects[0] }];
        let silent = ClassAwareFrame { objects: &silent_objects, maps };
        assert!(matches!(
            class_aware_ciou(&silent, PredictionRule::RelativeToMax(0.1)),
            Err(MetricsError::Empty { .. })
        ));
        let summary =
            evaluate_class_aware(&[frame, silent, frame], &ClassAwareConfig::default()).expect("summary");
        assert_eq!(summary.skipped_silent, 1);
        assert_eq!(summary.overall.cious.len(), 2);
        assert_eq!(summary.overall.success_rate, 1.0);
        assert_eq!(summary.by_level.len(), 1);
        assert_eq!(summary.by_level[0].level, 2);
        assert_eq!(summary.per_class.len(), 2);
        assert_eq!(summary.per_class[1].class, 2);
        assert_eq!(summary.per_class[1].count, 2);

        let bad_objects = [AnnotatedObject { class: 3, ..objects[0] }];
        let bad = ClassAwareFrame { objects: &bad_objects, maps };
        assert!(matches!(
            class_aware_ciou(&bad, PredictionRule::RelativeToMax(0.1)),
            Err(MetricsError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn level_thresholds() {
        let c = ClassAwareConfig::default();
        assert_eq!(c.threshold_for(1), 0.5);
        assert_eq!(c.threshold_for(2), 0.5);
        assert_eq!(c.threshold_for(3), 0.3);
    }
}
