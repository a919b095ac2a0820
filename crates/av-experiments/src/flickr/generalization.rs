//! Generalization: a model scored on the benchmark's in-family test scenes (the picture
//! families, SoundFonts and photo groups it trained on, new instances) and on its out-of-family
//! test scenes (families, a SoundFont and photos never used in training), beside the trivial
//! baselines and the model's own CAMs, with the map mass on sounding objects and on silent
//! distractors.

use serde::{Deserialize, Serialize};

use av_align::Result;
use av_align::model::{AvModel, ClassCombine, LocalizeConfig, MapSource};
use av_data::Split;
use av_data::bench::{AssetSelection, BenchConfig};
use av_metrics::{
    Align, Baseline, Cell, ConsensusGt, LocalizationSummary, PredictionRule, ResultsTable, ScoreMap,
    evaluate_baseline, evaluate_localization,
};
use burn::tensor::Device;

use super::FlickrPlan;
use super::class_pairs::{ClassPairScore, box_mean, class_pair_score};
pub use super::hearing_score::HearingScore;
use super::hearing_score::hearing_score;
use crate::bench::{BenchData, BenchDataConfig, SceneTruth, generate};
use crate::eval::{SceneMaps, flickr_ground_truth, localize_all};

/// Which test set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Family {
    /// The assets the model trained on (new sprite instances, melodies and photos).
    InFamily,
    /// Picture families, a SoundFont and photos that training never used.
    OutOfFamily,
}

/// The benchmark configuration of `plan`'s test set of `family`. A plan without
/// out-of-family assets (e.g. the legacy compact plan) is scored on the broad benchmark's
/// held-out assets ([`AssetSelection::held_out`]).
pub fn test_data_config(plan: &FlickrPlan, family: Family) -> BenchDataConfig {
    let bench = match family {
        Family::InFamily => plan.data.bench.clone(),
        Family::OutOfFamily => plan.data.bench.out_of_family_config().unwrap_or_else(|| BenchConfig {
            assets: AssetSelection::held_out(),
            out_of_family: None,
            ..plan.data.bench.clone()
        }),
    };
    BenchDataConfig { bench, image_size: plan.data.image_size, no_class_clips: 0.0 }
}

/// Mean map value inside sounding objects' boxes and inside silent distractors' boxes
/// (class-agnostic map in `[0, 1]`), over the scenes that have such objects.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MapMass {
    /// Mean over sounding objects.
    pub sounding: f64,
    /// Mean over silent distractors (NaN when no scene has one).
    pub silent: f64,
    /// Silent distractors counted.
    pub silent_objects: usize,
}

/// One method's scores on both test sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneralizationRow {
    /// The method, in words.
    pub method: String,
    /// In-family scores.
    pub in_family: LocalizationSummary,
    /// Out-of-family scores.
    pub out_of_family: LocalizationSummary,
    /// Map mass in- and out-of-family (model rows only).
    pub mass: Option<[MapMass; 2]>,
    /// Whether the per-class maps tell two sounding instruments of one scene apart, in- and
    /// out-of-family (model rows only; [`class_pair_score`]). Absent in reports written
    /// before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_pairs: Option<[ClassPairScore; 2]>,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneralizationReport {
    /// Scenes per test set.
    pub scenes: u64,
    /// The rows, models first, then the baselines.
    pub rows: Vec<GeneralizationRow>,
    /// The model's audio classifier on both test sets (in-family first). Absent in reports
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hearing: Option<[HearingScore; 2]>,
}

impl GeneralizationReport {
    /// The Markdown table (3 decimals): cIoU@0.5 and AUC in- and out-of-family, then the map
    /// mass on sounding objects and on silent distractors.
    pub fn table(&self) -> String {
        let columns = [
            "in-family cIoU@0.5",
            "in-family AUC",
            "out-of-family cIoU@0.5",
            "out-of-family AUC",
            "map on sounding / silent objects (in; out)",
            "class pairs told apart (in; out)",
        ];
        let mut t = ResultsTable::new("method", columns.map(String::from).to_vec());
        for r in &self.rows {
            let mass = match &r.mass {
                Some([a, b]) => Cell::Text(format!(
                    "{:.2} / {:.2}; {:.2} / {:.2}",
                    a.sounding, a.silent, b.sounding, b.silent
                )),
                None => Cell::Empty,
            };
            let pairs = match &r.class_pairs {
                Some([a, b]) => {
                    let unscored = a.unscored + b.unscored;
                    let note =
                        if unscored > 0 { format!(" ({unscored} pairs unscored)") } else { String::new() };
                    Cell::Text(format!("{:.2}; {:.2}{note}", a.accuracy, b.accuracy))
                }
                None => Cell::Empty,
            };
            let cells = vec![
                Cell::Number(r.in_family.success_rate),
                Cell::Number(r.in_family.auc),
                Cell::Number(r.out_of_family.success_rate),
                Cell::Number(r.out_of_family.auc),
                mass,
                pairs,
            ];
            // The row has as many cells as columns, so this cannot fail.
            let _ = t.push_row(r.method.clone(), cells);
        }
        let mut out = t.to_markdown_aligned(3, Align::Unspecified);
        if let Some([a, b]) = &self.hearing {
            out.push_str(&format!(
                "\nWhat the model heard (its audio classifier, which mixes the classes' maps): the most \
                 probable class sounds in {:.2} of the scenes in-family and {:.2} out-of-family; the L sounding \
                 classes are among the L most probable in {:.2} / {:.2} (mean share).\n",
                a.top1, b.top1, a.top_level, b.top_level
            ));
        }
        out
    }
}

fn mass(maps: &[SceneMaps], truths: &[SceneTruth]) -> MapMass {
    let (mut sounding, mut ns, mut silent, mut nq) = (0.0, 0usize, 0.0, 0usize);
    for (m, t) in maps.iter().zip(truths) {
        for o in &t.objects {
            let Some(value) = box_mean(&m.agnostic, m.size, o.bbox) else { continue };
            if o.sounding {
                sounding += value;
                ns += 1;
            } else {
                silent += value;
                nq += 1;
            }
        }
    }
    let mean = |s: f64, n: usize| if n == 0 { f64::NAN } else { s / n as f64 };
    MapMass { sounding: mean(sounding, ns), silent: mean(silent, nq), silent_objects: nq }
}

/// One test set: the scenes as model inputs and their ground truth for cIoU.
#[derive(Debug, Clone)]
pub struct TestSet {
    /// The scenes.
    pub data: BenchData,
    /// Their consensus ground truth (sounding boxes), same order.
    pub gts: Vec<ConsensusGt>,
}

/// Scenes `0..scenes` of `split` of the in-family and the out-of-family test set of `plan`.
///
/// # Errors
/// Data errors.
pub fn test_sets(plan: &FlickrPlan, split: Split, scenes: u64, progress: bool) -> Result<[TestSet; 2]> {
    Ok([
        test_set(plan, Family::InFamily, split, scenes, progress)?,
        test_set(plan, Family::OutOfFamily, split, scenes, progress)?,
    ])
}

fn test_set(plan: &FlickrPlan, family: Family, split: Split, scenes: u64, progress: bool) -> Result<TestSet> {
    let data = generate(&test_data_config(plan, family), split, 0..scenes, progress)?;
    let size = plan.data.image_size as usize;
    let gts = data.truths.iter().map(|t| flickr_ground_truth(t, size)).collect::<Result<Vec<_>>>()?;
    Ok(TestSet { data, gts })
}

fn score(
    model: &AvModel,
    set: &TestSet,
    cfg: &LocalizeConfig,
    rule: PredictionRule,
    device: &Device,
) -> Result<(LocalizationSummary, MapMass, Vec<SceneMaps>)> {
    let maps = localize_all(model, &set.data, cfg, 16, device)?;
    let views =
        maps.iter().map(|m| ScoreMap::new(&m.agnostic, m.size, m.size)).collect::<Result<Vec<_>, _>>()?;
    let summary = evaluate_localization(&views, &set.gts, rule, 0.5)?;
    let mass = mass(&maps, &set.data.truths);
    Ok((summary, mass, maps))
}

/// Scores `model` (and the stage-1 model, when given, as the multi-task row) on `scenes`
/// scenes of `split` of both test sets (`Split::Val` to choose settings, `Split::Test` to
/// report), with Eq. 8, CAM-gated Eq. 8, the model's own visual CAMs, the whole image, a centred
/// box of half the side and a uniform random map (prediction = map > 0.5).
///
/// # Errors
/// Data, model and metric errors.
pub fn evaluate_generalization(
    model: &AvModel,
    stage1: Option<&AvModel>,
    plan: &FlickrPlan,
    split: Split,
    scenes: u64,
    device: &Device,
    progress: bool,
) -> Result<GeneralizationReport> {
    let sets = test_sets(plan, split, scenes, progress)?;
    Ok(evaluate_generalization_on(model, stage1, &sets, PredictionRule::Absolute(0.5), device)?.0)
}

/// [`evaluate_generalization`] on given test sets ([`test_sets`]) with a given prediction
/// rule; also returns the Eq. 8 maps of both sets (in-family first), e.g. for overlays.
///
/// # Errors
/// Model and metric errors.
pub fn evaluate_generalization_on(
    model: &AvModel,
    stage1: Option<&AvModel>,
    sets: &[TestSet; 2],
    rule: PredictionRule,
    device: &Device,
) -> Result<(GeneralizationReport, [Vec<SceneMaps>; 2])> {
    let mut rows = Vec::new();
    let cfg = |source| LocalizeConfig { source, ..LocalizeConfig::default() };
    let mut models: Vec<(&str, &AvModel, LocalizeConfig)> = vec![
        ("ours (Eq. 8)", model, cfg(MapSource::Alignment)),
        ("ours, Eq. 8 on spatially centred visual embeddings", model, cfg(MapSource::AlignmentCentred)),
        (
            "ours, Eq. 8, each heard class's map at its own peak, maximum over classes",
            model,
            LocalizeConfig { combine: ClassCombine::PeakMax, ..cfg(MapSource::Alignment) },
        ),
        (
            "ours, centred Eq. 8, each heard class's map at its own peak, maximum over classes",
            model,
            LocalizeConfig { combine: ClassCombine::PeakMax, ..cfg(MapSource::AlignmentCentred) },
        ),
        ("ours, Eq. 8 gated by the visual CAM", model, cfg(MapSource::AlignmentCamGated)),
        ("ours, Eq. 8 as a spatial softmax (MSSL softmax(-10 d))", model, cfg(MapSource::AlignmentSoftmax)),
        ("the model's own visual CAMs", model, cfg(MapSource::VisualCam)),
    ];
    if let Some(s1) = stage1 {
        models.push(("multi-task (stage-1 visual CAMs)", s1, cfg(MapSource::VisualCam)));
    }
    let mut eq8 = None;
    for (name, m, config) in models {
        let (a, ma, maps_a) = score(m, &sets[0], &config, rule, device)?;
        let (b, mb, maps_b) = score(m, &sets[1], &config, rule, device)?;
        let class_pairs = [
            class_pair_score(&maps_a, &sets[0].data.truths),
            class_pair_score(&maps_b, &sets[1].data.truths),
        ];
        if eq8.is_none() {
            eq8 = Some([maps_a, maps_b]);
        }
        rows.push(GeneralizationRow {
            method: name.into(),
            in_family: a,
            out_of_family: b,
            mass: Some([ma, mb]),
            class_pairs: Some(class_pairs),
        });
    }
    let baselines = [
        ("whole image", Baseline::WholeImage),
        ("centre box (half side)", Baseline::CenterBox { fraction: 0.5 }),
        ("uniform random map", Baseline::UniformRandom { seed: 2020 }),
    ];
    for (name, b) in baselines {
        rows.push(GeneralizationRow {
            method: name.into(),
            in_family: evaluate_baseline(b, &sets[0].gts, rule, 0.5)?,
            out_of_family: evaluate_baseline(b, &sets[1].gts, rule, 0.5)?,
            mass: None,
            class_pairs: None,
        });
    }
    let scenes = sets[0].data.truths.len() as u64;
    // The first model row is Eq. 8, so its maps are always there.
    let eq8 = eq8.unwrap_or_default();
    let hearing =
        Some([hearing_score(&eq8[0], &sets[0].data.truths), hearing_score(&eq8[1], &sets[1].data.truths)]);
    Ok((GeneralizationReport { scenes, rows, hearing }, eq8))
}
