//! Are the per-class maps class-specific? In a scene where two instruments of different classes
//! play, the map of each class should prefer its own object over the other one more than the
//! other class's map does. Identical maps for every class (a class-agnostic "sounding object"
//! map) score exactly chance.

use serde::{Deserialize, Serialize};

use crate::bench::SceneTruth;
use crate::eval::SceneMaps;

/// How often the per-class maps tell two sounding objects of one scene apart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassPairScore {
    /// `(right + ties / 2) / pairs`: 0.5 for class-agnostic maps, 1 when every class's map
    /// prefers its own object; NaN without pairs.
    pub accuracy: f64,
    /// Pairs of sounding objects of different classes in one scene.
    pub pairs: usize,
    /// Pairs where both maps rank the two objects alike (class-agnostic on that pair).
    pub ties: usize,
    /// Pairs that could not be scored (a box with no pixel on the map, or a class the maps do
    /// not have); not in `pairs`. Absent (0) in reports written before it existed.
    #[serde(default)]
    pub unscored: usize,
}

/// Mean of `map` (`size x size`) inside the pixel box `[x0, y0, x1, y1)`, clipped to the map;
/// `None` for a box with no pixel inside.
pub(super) fn box_mean(map: &[f32], size: usize, bbox: [f64; 4]) -> Option<f64> {
    let [x0, y0, x1, y1] = bbox.map(|v| v.max(0.0) as usize);
    let (x1, y1) = (x1.min(size), y1.min(size));
    if x0 >= x1 || y0 >= y1 {
        return None;
    }
    let sum: f64 = (y0..y1).flat_map(|y| (x0..x1).map(move |x| f64::from(map[y * size + x]))).sum();
    Some(sum / ((x1 - x0) * (y1 - y0)) as f64)
}

/// Scores every pair `(o, o')` of sounding objects of classes `c != c'` in a scene: with each
/// class's map divided by its maximum over the frame (all zeros when it has no positive value)
/// and `m_c(o)` its mean inside `o`'s box, the pair is right when
/// `(m_c(o) - m_c(o')) - (m_c'(o) - m_c'(o')) > 1e-6` (class `c`'s map prefers its own object
/// more than class `c'`'s map does), a tie within `1e-6`, wrong otherwise.
///
/// # Shapes
/// `maps[k].per_class` holds `C` maps of `size x size`; `truths` in the same order.
pub fn class_pair_score(maps: &[SceneMaps], truths: &[SceneTruth]) -> ClassPairScore {
    const TIE: f64 = 1e-6;
    let (mut right, mut ties, mut pairs, mut unscored) = (0usize, 0usize, 0usize, 0usize);
    for (m, t) in maps.iter().zip(truths) {
        let plane = m.size * m.size;
        let normalised = |c: usize| -> Option<Vec<f32>> {
            let map = m.per_class.get(c * plane..(c + 1) * plane)?;
            let max = map.iter().copied().fold(0.0f32, f32::max);
            Some(if max > 0.0 { map.iter().map(|v| v / max).collect() } else { vec![0.0; plane] })
        };
        let sounding: Vec<_> = t.objects.iter().filter(|o| o.sounding).collect();
        for (k, a) in sounding.iter().enumerate() {
            for b in &sounding[k + 1..] {
                if a.class == b.class {
                    continue;
                }
                let (Some(map_a), Some(map_b)) = (normalised(a.class), normalised(b.class)) else {
                    unscored += 1;
                    continue;
                };
                let means = [&map_a, &map_b]
                    .map(|map| box_mean(map, m.size, a.bbox).zip(box_mean(map, m.size, b.bbox)));
                let [Some((aa, ab)), Some((ba, bb))] = means else {
                    unscored += 1;
                    continue;
                };
                pairs += 1;
                let d = (aa - ab) - (ba - bb);
                if d > TIE {
                    right += 1;
                } else if d.abs() <= TIE {
                    ties += 1;
                }
            }
        }
    }
    let accuracy = if pairs == 0 { f64::NAN } else { (right as f64 + 0.5 * ties as f64) / pairs as f64 };
    ClassPairScore { accuracy, pairs, ties, unscored }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::TruthObject;

    fn scene(per_class: Vec<f32>) -> (SceneMaps, SceneTruth) {
        let objects = vec![
            TruthObject { class: 0, sounding: true, bbox: [0.0, 0.0, 2.0, 4.0] },
            TruthObject { class: 1, sounding: true, bbox: [2.0, 0.0, 4.0, 4.0] },
            TruthObject { class: 2, sounding: false, bbox: [0.0, 0.0, 4.0, 4.0] },
        ];
        let maps = SceneMaps { agnostic: vec![0.0; 16], per_class, audio_probs: vec![0.5; 3], size: 4 };
        (maps, SceneTruth { id: "t".into(), level: 2, objects })
    }

    fn halves(left: f32, right: f32) -> Vec<f32> {
        (0..16).map(|i| if i % 4 < 2 { left } else { right }).collect()
    }

    #[test]
    fn class_specific_maps_score_one_and_agnostic_maps_score_chance() {
        // Class 0's map on the left object, class 1's on the right one.
        let specific = [halves(1.0, 0.1), halves(0.2, 0.9), vec![0.0; 16]].concat();
        let (m, t) = scene(specific);
        let s = class_pair_score(&[m], &[t]);
        assert_eq!((s.accuracy, s.pairs, s.ties), (1.0, 1, 0));
        // The same map for every class (at different scales): one tie.
        let agnostic = [halves(1.0, 0.3), halves(2.0, 0.6), halves(1.0, 0.3)].concat();
        let (m, t) = scene(agnostic);
        let s = class_pair_score(&[m], &[t]);
        assert_eq!((s.accuracy, s.pairs, s.ties), (0.5, 1, 1));
        // Swapped maps: wrong.
        let swapped = [halves(0.1, 1.0), halves(0.9, 0.2), vec![0.0; 16]].concat();
        let (m, t) = scene(swapped);
        assert_eq!(class_pair_score(&[m], &[t]).accuracy, 0.0);
    }

    #[test]
    fn scenes_without_two_sounding_classes_give_no_pairs() {
        let (m, mut t) = scene(vec![1.0; 48]);
        t.objects[1].sounding = false;
        let s = class_pair_score(&[m], &[t]);
        assert_eq!((s.pairs, s.unscored), (0, 0));
        assert!(s.accuracy.is_nan());
    }

    #[test]
    fn a_box_off_the_map_is_counted_as_unscored() {
        let (m, mut t) = scene(vec![1.0; 48]);
        t.objects[1].bbox = [9.0, 9.0, 12.0, 12.0];
        let s = class_pair_score(&[m], &[t]);
        assert_eq!((s.pairs, s.unscored), (0, 1));
    }
}
