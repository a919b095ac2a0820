//! How the class-agnostic map is combined from the per-class maps, scored by level on the
//! validation split (docs/results.md §9.11): the paper's weighted mean against each heard
//! class's map at its own peak with the maximum over classes (`ClassCombine::PeakMax`), at
//! several validity thresholds, beside the true classes (what perfect hearing would give).
//!
//! ```bash
//! cargo run --release --example class_combine_ablation -- assets/checkpoints/flickr_broad 256
//! ```
//! Prints `source family variant | L0 cIoU@0.5/AUC (all levels) | L1 ... | L2 ... | L3 ...`.

use av_align::model::{LocalizeConfig, MapSource};
use av_data::Split;
use av_experiments::eval::{SceneMaps, localize_all};
use av_experiments::flickr::{load_run_model, test_sets};
use av_metrics::{PredictionRule, ScoreMap, evaluate_localization};

/// A named way to make scene `i`'s class-agnostic map from its per-class maps.
type Variant<'a> = (&'a str, Box<dyn Fn(&SceneMaps, usize) -> Vec<f32> + 'a>);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let ckpt =
        std::path::PathBuf::from(args.get(1).ok_or("usage: class_combine_ablation MODEL_DIR [SCENES]")?);
    let scenes: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(256);
    let device = av_align::select_device()?;
    let (plan, model) = load_run_model(&ckpt, &device)?;
    let sets = test_sets(&plan, Split::Val, scenes, false)?;
    let c = model.num_classes();
    for source in [MapSource::Alignment, MapSource::AlignmentCentred] {
        let cfg = LocalizeConfig { source, ..LocalizeConfig::default() };
        for (fam, set) in ["in", "out"].iter().zip(&sets) {
            let maps = localize_all(&model, &set.data, &cfg, 16, &device)?;
            let variants: Vec<Variant> = vec![
                ("the paper's weighted mean, p>0.3", Box::new(|m: &SceneMaps, _| m.agnostic.clone())),
                (
                    "norm each class, max p>0.2",
                    Box::new(move |m: &SceneMaps, _| mix(m, c, 0.2, true, true, false)),
                ),
                (
                    "norm each class, max p>0.3",
                    Box::new(move |m: &SceneMaps, _| mix(m, c, 0.3, true, true, false)),
                ),
                (
                    "norm each class, max p>0.4",
                    Box::new(move |m: &SceneMaps, _| mix(m, c, 0.4, true, true, false)),
                ),
                (
                    "norm each class, max p>0.5",
                    Box::new(move |m: &SceneMaps, _| mix(m, c, 0.5, true, true, false)),
                ),
                (
                    "norm each class, max of p*S p>0.3",
                    Box::new(move |m: &SceneMaps, _| mix(m, c, 0.3, true, true, true)),
                ),
                ("raw, max p>0.3", Box::new(move |m: &SceneMaps, _| mix(m, c, 0.3, false, true, false))),
            ];
            let truths = &set.data.truths;
            let oracle = |m: &SceneMaps, i: usize| -> Vec<f32> {
                let t = &truths[i];
                let classes: Vec<usize> = t.objects.iter().filter(|o| o.sounding).map(|o| o.class).collect();
                let mut probs = vec![0.0f32; c];
                for k in classes {
                    probs[k] = 1.0;
                }
                mix(&SceneMaps { audio_probs: probs, ..m.clone() }, c, 0.5, true, true, false)
            };
            let mut all: Vec<Variant> = variants;
            all.push(("true classes (norm, max)", Box::new(oracle)));
            for (name, f) in &all {
                let mixed: Vec<Vec<f32>> = maps.iter().enumerate().map(|(i, m)| f(m, i)).collect();
                let mut line = format!("{source:?} {fam} {name:40}");
                for level in [0u8, 1, 2, 3] {
                    let idx: Vec<usize> =
                        (0..maps.len()).filter(|&i| level == 0 || truths[i].level == level).collect();
                    let views = idx
                        .iter()
                        .map(|&i| ScoreMap::new(&mixed[i], maps[i].size, maps[i].size))
                        .collect::<Result<Vec<_>, _>>()?;
                    let gts: Vec<_> = idx.iter().map(|&i| set.gts[i].clone()).collect();
                    let s = evaluate_localization(&views, &gts, PredictionRule::Absolute(0.5), 0.5)?;
                    line += &format!(" | L{level} {:.3}/{:.3}", s.success_rate, s.auc);
                }
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// Valid classes = {p > thr} ∪ {argmax}; each class map optionally divided by its peak; then
/// the p-weighted sum (the weighted mean up to its scale), or the maximum (optionally of
/// `p_c S_c`); divided by its maximum. `thr` above 1 keeps the most probable class alone.
fn mix(m: &SceneMaps, c: usize, thr: f32, norm: bool, use_max: bool, weight_max: bool) -> Vec<f32> {
    let hw = m.size * m.size;
    let p = &m.audio_probs;
    let arg = (0..c).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
    let mut out = vec![0.0f32; hw];
    for (k, &pk) in p.iter().enumerate().take(c) {
        if !(pk > thr || k == arg) {
            continue;
        }
        let map = &m.per_class[k * hw..(k + 1) * hw];
        let mx = if norm { map.iter().cloned().fold(0.0f32, f32::max).max(1e-12) } else { 1.0 };
        for (o, v) in out.iter_mut().zip(map) {
            if use_max {
                *o = o.max(if weight_max { pk * v / mx } else { v / mx });
            } else {
                *o += pk * v / mx;
            }
        }
    }
    let mx = out.iter().cloned().fold(0.0f32, f32::max).max(1e-12);
    out.iter().map(|v| v / mx).collect()
}
