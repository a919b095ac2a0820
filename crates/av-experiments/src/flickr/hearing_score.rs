//! How well a model's audio classifier hears the sounding classes of a test set: the single
//! source protocol mixes the per-class maps by these probabilities, so a class misheard is a
//! map on the wrong object.

use serde::{Deserialize, Serialize};

use crate::bench::SceneTruth;
use crate::eval::SceneMaps;

/// The audio classifier on one test set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HearingScore {
    /// Scenes scored.
    pub scenes: usize,
    /// Fraction of the scenes whose most probable audio class is one that sounds.
    pub top1: f64,
    /// Mean over scenes of the fraction of the `L` sounding classes among the `L` most probable
    /// audio classes (`L` = the scene's number of sounding objects).
    pub top_level: f64,
}

/// [`HearingScore`] of `maps` (their `audio_probs`) against `truths` (same order). Scenes
/// without a sounding object count as misheard (none exist in the benchmark's test sets).
pub fn hearing_score(maps: &[SceneMaps], truths: &[SceneTruth]) -> HearingScore {
    let (mut top1, mut top_level, mut scenes) = (0.0, 0.0, 0usize);
    for (m, t) in maps.iter().zip(truths) {
        scenes += 1;
        let sounding: Vec<usize> = t.objects.iter().filter(|o| o.sounding).map(|o| o.class).collect();
        if sounding.is_empty() {
            continue;
        }
        let mut ranked: Vec<usize> = (0..m.audio_probs.len()).collect();
        ranked.sort_by(|&a, &b| m.audio_probs[b].total_cmp(&m.audio_probs[a]));
        if ranked.first().is_some_and(|c| sounding.contains(c)) {
            top1 += 1.0;
        }
        let hits = ranked.iter().take(sounding.len()).filter(|c| sounding.contains(c)).count();
        top_level += hits as f64 / sounding.len() as f64;
    }
    let n = scenes.max(1) as f64;
    HearingScore { scenes, top1: top1 / n, top_level: top_level / n }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::TruthObject;

    fn truth(sounding: &[usize], silent: &[usize]) -> SceneTruth {
        let object = |class, sounding| TruthObject { class, sounding, bbox: [0.0, 0.0, 1.0, 1.0] };
        SceneTruth {
            id: "t".into(),
            level: sounding.len() as u8,
            objects: sounding
                .iter()
                .map(|&c| object(c, true))
                .chain(silent.iter().map(|&c| object(c, false)))
                .collect(),
        }
    }

    fn heard(probs: &[f32]) -> SceneMaps {
        SceneMaps { agnostic: vec![], per_class: vec![], audio_probs: probs.to_vec(), size: 0 }
    }

    #[test]
    fn counts_top_classes_against_the_sounding_ones() {
        let maps = [heard(&[0.9, 0.1, 0.5, 0.0]), heard(&[0.2, 0.8, 0.7, 0.1]), heard(&[0.1, 0.2, 0.3, 0.9])];
        // Scene 0: class 0 sounds and is top. Scene 1: classes 1 and 3 sound; top two are 1, 2.
        // Scene 2: class 2 sounds (3 is a silent distractor, heard loudest).
        let truths = [truth(&[0], &[1]), truth(&[1, 3], &[]), truth(&[2], &[3])];
        let s = hearing_score(&maps, &truths);
        assert_eq!(s.scenes, 3);
        assert!((s.top1 - 2.0 / 3.0).abs() < 1e-12, "{s:?}");
        assert!((s.top_level - (1.0 + 0.5 + 0.0) / 3.0).abs() < 1e-12, "{s:?}");
    }
}
