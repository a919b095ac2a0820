//! Localization of a whole test set and its scores: SoundNet-Flickr cIoU / AUC (class-agnostic,
//! with the trivial baselines) and the class-aware cIoU of Eq. 9 by level.

use av_metrics::{
    AnnotatedObject, Baseline, ClassAwareConfig, ClassAwareFrame, ClassAwareSummary, ClassMaps, ConsensusGt,
    LocalizationSummary, NormalizedBox, PredictionRule, ScoreMap, evaluate_baseline, evaluate_class_aware,
    evaluate_localization,
};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::bench::{BenchData, SceneTruth};
use av_align::model::{AvModel, LocalizeConfig};
use av_align::{Error, Result};

/// Maps of one scene at the frame's resolution.
#[derive(Debug, Clone)]
pub struct SceneMaps {
    /// Class-agnostic map, `size x size`, in `[0, 1]`.
    pub agnostic: Vec<f32>,
    /// Per-class maps, `C x size x size`.
    pub per_class: Vec<f32>,
    /// Audio class probabilities.
    pub audio_probs: Vec<f32>,
    /// Side of the maps.
    pub size: usize,
}

/// A tensor's values as `f32`, row-major.
pub(crate) fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Config(format!("cannot read a tensor back: {e:?}")))
}

/// Localizes every scene of `data` (in batches), maps upsampled to the frame size.
///
/// # Errors
/// As [`AvModel::localize`].
pub fn localize_all(
    model: &AvModel,
    data: &BenchData,
    config: &LocalizeConfig,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<SceneMaps>> {
    let n = data.dataset.len();
    let size = data.dataset.samples()[0].frame.width() as usize;
    let config = LocalizeConfig { output_size: Some([size, size]), ..*config };
    let mut out = Vec::with_capacity(n);
    let c = model.num_classes();
    for start in (0..n).step_by(batch_size.max(1)) {
        let idx: Vec<usize> = (start..(start + batch_size.max(1)).min(n)).collect();
        let batch = data.dataset.batch(&idx, &vec![false; idx.len()], device)?;
        let f = model.features(batch.frames, batch.logmels)?;
        let loc = model.localize(&f, &config)?;
        let agn = to_vec(loc.agnostic)?;
        let per = to_vec(loc.per_class)?;
        let probs = to_vec(loc.audio_probs)?;
        for j in 0..idx.len() {
            out.push(SceneMaps {
                agnostic: agn[j * size * size..(j + 1) * size * size].to_vec(),
                per_class: per[j * c * size * size..(j + 1) * c * size * size].to_vec(),
                audio_probs: probs[j * c..(j + 1) * c].to_vec(),
                size,
            });
        }
    }
    Ok(out)
}

/// Consensus ground truth of a benchmark scene, as the SoundNet-Flickr test layout writes it:
/// each sounding object annotated by two agreeing annotators, so `g = 1` inside sounding boxes.
///
/// # Errors
/// [`Error::Metrics`] for an empty ground truth.
pub fn flickr_ground_truth(truth: &SceneTruth, size: usize) -> Result<ConsensusGt> {
    let boxes: Vec<[f64; 4]> = truth.objects.iter().filter(|o| o.sounding).map(|o| o.bbox).collect();
    Ok(ConsensusGt::from_scaled_boxes(&boxes, (1.0, 1.0), size, size, 2)?)
}

/// The SoundNet-Flickr protocol's numbers for a model and the trivial baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlickrReport {
    /// The model's class-agnostic maps.
    pub model: LocalizationSummary,
    /// A map of ones (MSSL issue #2).
    pub whole_image: LocalizationSummary,
    /// A centred box of half the image side.
    pub center_box: LocalizationSummary,
    /// The prediction rule used.
    pub rule: PredictionRule,
}

/// cIoU / success / AUC of the class-agnostic maps and of the baselines on the same images.
///
/// # Errors
/// [`Error::Metrics`], [`Error::Config`] for a count mismatch.
pub fn flickr_evaluate(
    maps: &[SceneMaps],
    truths: &[SceneTruth],
    rule: PredictionRule,
) -> Result<FlickrReport> {
    if maps.len() != truths.len() || maps.is_empty() {
        return Err(Error::Config(format!("{} maps for {} scenes", maps.len(), truths.len())));
    }
    let gts =
        maps.iter().zip(truths).map(|(m, t)| flickr_ground_truth(t, m.size)).collect::<Result<Vec<_>>>()?;
    let views =
        maps.iter().map(|m| ScoreMap::new(&m.agnostic, m.size, m.size)).collect::<Result<Vec<_>, _>>()?;
    Ok(FlickrReport {
        model: evaluate_localization(&views, &gts, rule, 0.5)?,
        whole_image: evaluate_baseline(Baseline::WholeImage, &gts, rule, 0.5)?,
        center_box: evaluate_baseline(Baseline::CenterBox { fraction: 0.5 }, &gts, rule, 0.5)?,
        rule,
    })
}

/// Class-aware cIoU (Eq. 9) of the per-class maps, overall and by level.
///
/// # Errors
/// [`Error::Metrics`], [`Error::Config`] for a count mismatch.
pub fn class_aware_evaluate(
    maps: &[SceneMaps],
    truths: &[SceneTruth],
    num_classes: usize,
    config: &ClassAwareConfig,
) -> Result<ClassAwareSummary> {
    if maps.len() != truths.len() || maps.is_empty() {
        return Err(Error::Config(format!("{} maps for {} scenes", maps.len(), truths.len())));
    }
    let objects: Vec<Vec<AnnotatedObject>> = maps
        .iter()
        .zip(truths)
        .map(|(m, t)| {
            let s = m.size as f64;
            t.objects
                .iter()
                .map(|o| AnnotatedObject {
                    class: o.class,
                    sounding: o.sounding,
                    bbox: NormalizedBox {
                        x: (o.bbox[0] / s).clamp(0.0, 1.0),
                        y: (o.bbox[1] / s).clamp(0.0, 1.0),
                        w: ((o.bbox[2] - o.bbox[0]) / s).clamp(0.0, 1.0),
                        h: ((o.bbox[3] - o.bbox[1]) / s).clamp(0.0, 1.0),
                    },
                })
                .collect()
        })
        .collect();
    let frames = maps
        .iter()
        .zip(&objects)
        .map(|(m, objs)| {
            Ok(ClassAwareFrame {
                objects: objs,
                maps: ClassMaps::new(&m.per_class, num_classes, m.size, m.size)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(evaluate_class_aware(&frames, config)?)
}
