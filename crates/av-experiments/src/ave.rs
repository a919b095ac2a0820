//! Cross-modal temporal localization in the AVE protocol (the supplement's §2.2 and Table 1):
//! given the event segments of one modality, find where the event sits in the other with the
//! sliding-window search of the supplement's Eq. 1, scored by strict accuracy
//! ([`av_metrics::ave`]). The example `ave_cross_modal` is a thin command line over these.
//!
//! # The offline stand-in for AVE
//! The offline benchmark has single frames, not videos: 10-segment AVE-style videos are
//! synthesized deterministically from its single-source scenes by
//! [`av_data::bench::ave_videos`] (the construction is documented there), and a real AVE copy is
//! read by [`av_data::layouts::ave::load_real_ave`]. A perfect correspondence function
//! ([`oracle_score`](av_data::bench::ave_videos::oracle_score)) localizes every synthesized video exactly.
//!
//! # Correspondence functions `f(V_t, A_t)` (higher = more corresponding)
//! * [`ScoreKind::Avc`], "Ours": the AVC head's probability that the pooled audio and visual
//!   vectors correspond (softmax of its two logits, class 1) — stage 1's video-level
//!   correspondence.
//! * [`ScoreKind::Align`], "Ours w/ align": the class-aware alignment similarity
//!   `Σ_c σ(logit_a^c) σ(logit_v^c) ⟨g_a^c, g_v^c⟩` of the stage-2 embeddings (unit `g`, so each
//!   term is a cosine weighted by how sure both classifiers are that class `c` is present).

use std::path::Path;

use av_alignment::class_aware_pool;
use av_backbones::global_avg_pool;
use av_data::bench::AssetPack;
use av_data::bench::ave_videos::{AveSynthConfig, SynthVideo, build_pool, synthesize_videos};
use av_data::layouts::ave::{AveLayout, RealAveVideo, load_real_ave};
use av_data::{SkipPolicy, Split};
use av_metrics::table::TableRow;
use av_metrics::{
    Align, AveVideoScores, Cell, CrossModalSummary, ResultsTable, ScoreOrder, evaluate_cross_modal,
};
use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use av_align::model::AvModel;
use av_align::preprocess::frame_chw;
use av_align::{Error, Result};

use crate::run::{RunContext, bar, tick, write_json};

/// The supplement's Table 1 (AVE test set, strict accuracy in %): `(model, A2V, V2A)`.
pub const PAPER_TABLE: [(&str, f64, f64); 4] =
    [("DCCA", 34.8, 34.1), ("AVDLN", 44.8, 35.6), ("Ours", 41.5, 43.8), ("Ours w/ align", 43.8, 44.3)];

/// Which correspondence function scores a (visual segment, audio segment) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreKind {
    /// The AVC head's probability of correspondence (higher = corresponding).
    Avc,
    /// `Σ_c σ(logit_a^c) σ(logit_v^c) ⟨g_a^c, g_v^c⟩` (higher = corresponding).
    Align,
}

/// A2V / V2A strict accuracy of synthesized videos under a correspondence function
/// `score(pool frame, pool audio segment)` (via [`av_metrics::evaluate_cross_modal`]).
///
/// # Errors
/// [`Error::Metrics`] (no event, NaN score, no video with a short event).
pub fn evaluate_videos(
    videos: &[SynthVideo],
    score: impl Fn(usize, usize) -> f64,
    order: ScoreOrder,
) -> Result<CrossModalSummary> {
    let matrices: Vec<Vec<f64>> = videos
        .iter()
        .map(|v| {
            let t = v.event.len();
            (0..t * t).map(|k| score(v.frames[k / t], v.audio[k % t])).collect()
        })
        .collect();
    let views: Vec<AveVideoScores<'_>> =
        videos.iter().zip(&matrices).map(|(v, m)| AveVideoScores { event: &v.event, scores: m }).collect();
    Ok(evaluate_cross_modal(&views, order)?)
}

/// Expected strict accuracy of a uniformly random start over the videos with a short event:
/// the mean of `1 / (T - l + 1)` (the same for A2V and V2A).
///
/// # Errors
/// [`Error::Config`] when no video has a short event.
pub fn chance_accuracy<'a>(events: impl IntoIterator<Item = &'a [bool]>) -> Result<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for e in events {
        let l = e.iter().filter(|&&x| x).count();
        if l == 0 || l == e.len() {
            continue;
        }
        sum += 1.0 / (e.len() - l + 1) as f64;
        n += 1;
    }
    if n == 0 {
        return Err(Error::Config("no video with an event shorter than the video".into()));
    }
    Ok(sum / n as f64)
}

/// Outputs of one modality's trunk and heads for a list of inputs.
#[derive(Debug, Clone)]
pub struct ModalityOutputs {
    /// Global-average-pooled `layer4` vectors, `[N, K]`.
    pub pooled: Tensor<2>,
    /// Class logits, `[N, C]`.
    pub logits: Tensor<2>,
    /// Per-class unit embeddings (Eq. 5 pooling, projection), `[N, C, D]`.
    pub class_embeddings: Tensor<3>,
}

fn run_modality(model: &AvModel, x: Tensor<4>, visual: bool) -> Result<ModalityOutputs> {
    let dims = x.dims();
    if dims[2] < 16 || dims[3] < 16 {
        return Err(Error::Shape {
            what: if visual { "frames" } else { "log-mels" },
            expected: "spatial size >= 16".into(),
            found: dims.to_vec(),
        });
    }
    let f = if visual { model.visual_map(x)? } else { model.audio.forward(x).layer4 };
    let pooled = global_avg_pool(f.clone());
    let logits =
        if visual { model.class_v.forward(pooled.clone()) } else { model.class_a.forward(pooled.clone()) };
    let w = model.class_maps(f.clone(), visual)?;
    let p = class_aware_pool(f, w, model.pooling)?;
    let class_embeddings = if visual { model.project_v.forward(p) } else { model.project_a.forward(p) };
    Ok(ModalityOutputs { pooled, logits, class_embeddings })
}

fn concat(parts: Vec<ModalityOutputs>) -> ModalityOutputs {
    let mut pooled = Vec::with_capacity(parts.len());
    let mut logits = Vec::with_capacity(parts.len());
    let mut class_embeddings = Vec::with_capacity(parts.len());
    for p in parts {
        pooled.push(p.pooled);
        logits.push(p.logits);
        class_embeddings.push(p.class_embeddings);
    }
    ModalityOutputs {
        pooled: Tensor::cat(pooled, 0),
        logits: Tensor::cat(logits, 0),
        class_embeddings: Tensor::cat(class_embeddings, 0),
    }
}

/// Runs the visual side of `model` on frames (all of the same size), `batch` at a time.
///
/// # Errors
/// [`Error::Config`] for no frames or mixed sizes, [`Error::Shape`], [`Error::Cam`],
/// [`Error::Align`].
pub fn visual_outputs(
    model: &AvModel,
    frames: &[RgbImage],
    batch: usize,
    device: &Device,
) -> Result<ModalityOutputs> {
    let first = frames.first().ok_or_else(|| Error::Config("no frames".into()))?;
    let (w, h) = first.dimensions();
    let mut parts = Vec::new();
    for chunk in frames.chunks(batch.max(1)) {
        let mut data = Vec::with_capacity(chunk.len() * 3 * (w * h) as usize);
        for f in chunk {
            if f.dimensions() != (w, h) {
                return Err(Error::Config(format!(
                    "frame of size {:?} among frames of {:?}",
                    f.dimensions(),
                    (w, h)
                )));
            }
            data.extend(frame_chw(f, false));
        }
        let x = Tensor::from_data(TensorData::new(data, [chunk.len(), 3, h as usize, w as usize]), device);
        parts.push(run_modality(model, x, true)?);
    }
    Ok(concat(parts))
}

/// Runs the audio side of `model` on log-mels (all of the same shape), `batch` at a time.
///
/// # Errors
/// [`Error::Config`] for no log-mels or mixed shapes, [`Error::NonFinite`], [`Error::Shape`],
/// [`Error::Cam`], [`Error::Align`].
pub fn audio_outputs(
    model: &AvModel,
    logmels: &[Array2<f32>],
    batch: usize,
    device: &Device,
) -> Result<ModalityOutputs> {
    let first = logmels.first().ok_or_else(|| Error::Config("no log-mels".into()))?;
    let (t, f) = first.dim();
    let mut parts = Vec::new();
    for chunk in logmels.chunks(batch.max(1)) {
        let mut data = Vec::with_capacity(chunk.len() * t * f);
        for m in chunk {
            if m.dim() != (t, f) {
                return Err(Error::Config(format!(
                    "log-mel of shape {:?} among log-mels of {:?}",
                    m.dim(),
                    (t, f)
                )));
            }
            if m.iter().any(|x| !x.is_finite()) {
                return Err(Error::NonFinite { what: "log-mel".into() });
            }
            data.extend(m.iter().copied());
        }
        let x = Tensor::from_data(TensorData::new(data, [chunk.len(), 1, t, f]), device);
        parts.push(run_modality(model, x, false)?);
    }
    Ok(concat(parts))
}

/// Correspondence of every audio segment with every frame, for both [`ScoreKind`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairScores {
    /// Number of audio segments (rows).
    pub n_audio: usize,
    /// Number of frames (columns).
    pub n_frames: usize,
    /// AVC probability of correspondence, `n_audio x n_frames` row-major.
    pub avc: Vec<f64>,
    /// Class-aware alignment similarity, `n_audio x n_frames` row-major.
    pub align: Vec<f64>,
}

impl PairScores {
    /// `f(frame, audio)` under `kind` (higher = more corresponding).
    pub fn get(&self, kind: ScoreKind, frame: usize, audio: usize) -> f64 {
        let m = match kind {
            ScoreKind::Avc => &self.avc,
            ScoreKind::Align => &self.align,
        };
        m.get(audio * self.n_frames + frame).copied().unwrap_or(f64::NAN)
    }
}

fn to_f64(t: Tensor<2>) -> Result<Vec<f64>> {
    let v = t
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Config(format!("tensor read-back: {e:?}")))?;
    Ok(v.into_iter().map(f64::from).collect())
}

/// Scores every (frame, audio segment) pair with `model` (see [`ScoreKind`]).
///
/// # Errors
/// As [`visual_outputs`] and [`audio_outputs`].
pub fn pair_scores(
    model: &AvModel,
    frames: &[RgbImage],
    logmels: &[Array2<f32>],
    batch: usize,
    device: &Device,
) -> Result<PairScores> {
    let v = visual_outputs(model, frames, batch, device)?;
    let a = audio_outputs(model, logmels, batch, device)?;
    let (na, nv) = (logmels.len(), frames.len());
    let p = softmax(model.avc.forward_all_pairs(a.pooled, v.pooled), 2)
        .slice([0..na, 0..nv, 1..2])
        .reshape([na, nv]);
    let [_, c, d] = a.class_embeddings.dims();
    let wa = (a.class_embeddings * sigmoid(a.logits).reshape([na, c, 1])).reshape([na, c * d]);
    let wv = (v.class_embeddings * sigmoid(v.logits).reshape([nv, c, 1])).reshape([nv, c * d]);
    let align = wa.matmul(wv.transpose());
    Ok(PairScores { n_audio: na, n_frames: nv, avc: to_f64(p)?, align: to_f64(align)? })
}

/// One row to evaluate: a model and its correspondence function.
#[derive(Debug, Clone, Copy)]
pub struct ScoredModel<'a> {
    /// Row label.
    pub name: &'a str,
    /// The model.
    pub model: &'a AvModel,
    /// How it scores a (frame, audio segment) pair.
    pub kind: ScoreKind,
}

/// One row of the results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AveRow {
    /// Method.
    pub method: String,
    /// A2V strict accuracy (fraction).
    pub a2v: f64,
    /// V2A strict accuracy (fraction).
    pub v2a: f64,
}

/// The results table: chance, ours, and the paper's rows (accuracy in %, with a `data` column
/// saying what each row was measured on).
pub fn results_table(chance: f64, ours: &[AveRow]) -> ResultsTable {
    let mut table = ResultsTable::new("method", vec!["A2V (%)".into(), "V2A (%)".into(), "data".into()]);
    let mut row = |label: String, a2v: f64, v2a: f64, data: &str| {
        table.rows.push(TableRow {
            label,
            cells: vec![Cell::Number(a2v), Cell::Number(v2a), Cell::Text(data.into())],
        });
    };
    row(
        "chance (uniformly random start)".into(),
        100.0 * chance,
        100.0 * chance,
        "expected value on these videos",
    );
    for r in ours {
        row(r.method.clone(), 100.0 * r.a2v, 100.0 * r.v2a, "this run");
    }
    for (name, a2v, v2a) in PAPER_TABLE {
        row(format!("{name} (paper)"), a2v, v2a, "real AVE test set");
    }
    table
}

/// The Markdown table of [`results_table`] (one decimal, no column alignment markers).
pub fn markdown_table(chance: f64, ours: &[AveRow]) -> String {
    results_table(chance, ours).to_markdown_aligned(1, Align::Unspecified)
}

/// A2V / V2A strict accuracy of real AVE videos under `model` and `kind`.
///
/// # Errors
/// As [`pair_scores`] and [`av_metrics::evaluate_cross_modal`].
pub fn evaluate_real(
    model: &AvModel,
    videos: &[RealAveVideo],
    kinds: &[ScoreKind],
    device: &Device,
) -> Result<Vec<CrossModalSummary>> {
    let mut matrices: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(videos.len()); kinds.len()];
    for v in videos {
        let s = pair_scores(model, &v.frames, &v.logmels, v.frames.len(), device)?;
        let t = v.event.len();
        for (k, &kind) in kinds.iter().enumerate() {
            matrices[k].push((0..t * t).map(|i| s.get(kind, i / t, i % t)).collect());
        }
    }
    matrices
        .iter()
        .map(|ms| {
            let views: Vec<AveVideoScores<'_>> =
                videos.iter().zip(ms).map(|(v, m)| AveVideoScores { event: &v.event, scores: m }).collect();
            Ok(evaluate_cross_modal(&views, ScoreOrder::HigherIsBetter)?)
        })
        .collect()
}

/// What a run of the experiment measured (also written to `metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AveReport {
    /// What the videos are.
    pub data: String,
    /// Videos evaluated (event shorter than the video).
    pub evaluated_videos: usize,
    /// Expected strict accuracy of a random start.
    pub chance: f64,
    /// Our rows.
    pub rows: Vec<AveRow>,
    /// Per row, the predicted (A2V, V2A) start of each video (`None`: skipped).
    pub predictions: Vec<Vec<(Option<usize>, Option<usize>)>>,
    /// Wall time of the evaluation in seconds.
    pub seconds: f64,
}

impl AveReport {
    /// The Markdown table of [`markdown_table`].
    pub fn table(&self) -> String {
        markdown_table(self.chance, &self.rows)
    }
}

fn predictions(s: &CrossModalSummary) -> Vec<(Option<usize>, Option<usize>)> {
    s.a2v
        .iter()
        .zip(&s.v2a)
        .map(|(a, v)| (a.as_ref().map(|p| p.predicted_start), v.as_ref().map(|p| p.predicted_start)))
        .collect()
}

fn write_outputs(
    out: &Path,
    config: &serde_json::Value,
    manifest: &serde_json::Value,
    report: &AveReport,
    model_source: &str,
) -> Result<()> {
    write_json(&out.join("config.json"), config)?;
    write_json(&out.join("manifest.json"), manifest)?;
    let paper: Vec<serde_json::Value> = PAPER_TABLE
        .iter()
        .map(|(n, a, v)| serde_json::json!({"method": n, "a2v_percent": a, "v2a_percent": v}))
        .collect();
    write_json(
        &out.join("metrics.json"),
        &serde_json::json!({
            "protocol": "strict accuracy of the sliding-window start (supplement Eq. 1); higher score = corresponding",
            "report": report,
            "paper_table1": paper,
        }),
    )?;
    let md = format!(
        "# ave_cross_modal\n\n{} {}; model: {model_source}; {:.1} s.\n\n{}\n\
         Our rows are measured on {}; the paper's on the real AVE test set: compare orderings, not values.\n",
        report.evaluated_videos,
        report.data,
        report.seconds,
        report.table(),
        report.data
    );
    let path = out.join("report.md");
    std::fs::write(&path, md).map_err(|e| Error::io(&path, e))
}

/// The offline experiment end to end: builds the pool, synthesizes the videos, scores every
/// row, and writes `config.json` (`config` plus the synthesis settings), `manifest.json` (pool
/// scene ids, generator settings, asset fingerprint, every video), `metrics.json` and
/// `report.md` into `out`.
///
/// # Errors
/// [`Error::Config`] for no rows, [`Error::Data`] from [`build_pool`] and
/// [`synthesize_videos`], the errors of [`pair_scores`] and [`evaluate_videos`]; [`Error::Io`]
/// for the outputs.
#[allow(clippy::too_many_arguments)]
pub fn run_synthetic(
    rows: &[ScoredModel<'_>],
    synth: &AveSynthConfig,
    batch: usize,
    config: serde_json::Value,
    model_source: &str,
    ctx: &RunContext,
) -> Result<AveReport> {
    let (out, device, progress) = (ctx.out.as_path(), &ctx.device, ctx.progress);
    if rows.is_empty() {
        return Err(Error::Config("no model to evaluate".into()));
    }
    let started = std::time::Instant::now();
    let bar = bar(synth.pool_scenes, "pool scenes", progress);
    let pool = build_pool(synth, &tick(&bar))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let videos = synthesize_videos(synth, &pool)?;
    let mut ours = Vec::with_capacity(rows.len());
    let mut preds = Vec::with_capacity(rows.len());
    // Rows sharing a model share its forward passes.
    let mut cache: Vec<(*const AvModel, PairScores)> = Vec::new();
    for r in rows {
        let key = r.model as *const AvModel;
        let idx = match cache.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                cache.push((key, pair_scores(r.model, &pool.frames, &pool.logmels, batch, device)?));
                cache.len() - 1
            }
        };
        let scores = &cache[idx].1;
        let s = evaluate_videos(&videos, |f, a| scores.get(r.kind, f, a), ScoreOrder::HigherIsBetter)?;
        ours.push(AveRow { method: r.name.to_string(), a2v: s.a2v_accuracy, v2a: s.v2a_accuracy });
        preds.push(predictions(&s));
    }
    let report = AveReport {
        data: "AVE-style videos synthesized from the offline benchmark".into(),
        evaluated_videos: videos.iter().filter(|v| v.len < v.event.len()).count(),
        chance: chance_accuracy(videos.iter().map(|v| v.event.as_slice()))?,
        rows: ours,
        predictions: preds,
        seconds: started.elapsed().as_secs_f64(),
    };
    let assets = AssetPack::load_default()?;
    let mut config = config;
    if let Some(map) = config.as_object_mut() {
        map.insert("synthesis".into(), serde_json::to_value(synth).unwrap_or_default());
        map.insert("batch".into(), batch.into());
    }
    let manifest = serde_json::json!({
        "kind": "synthesized AVE-style videos (see the ave_cross_modal --help)",
        "synthesis": synth,
        "asset_fingerprint": assets.fingerprint(),
        "pool_frames": pool.frame_ids,
        "pool_audio": pool.audio_ids,
        "videos": videos,
    });
    write_outputs(out, &config, &manifest, &report, model_source)?;
    Ok(report)
}

/// Number of test videos of the AVE copy at `root` that [`load_real_ave`] reads (0 when the
/// annotations cannot be read; the loader then reports the error).
fn real_test_videos(root: &Path, max_videos: usize) -> u64 {
    AveLayout::new(root)
        .load(SkipPolicy::Error)
        .map_or(0, |(d, _)| d.split(Split::Test).take(max_videos).count() as u64)
}

/// The experiment on a real AVE copy ([`load_real_ave`], at most `max_videos` test videos),
/// writing the same files as [`run_synthetic`].
///
/// # Errors
/// As [`load_real_ave`] and [`evaluate_real`]; [`Error::Io`] for the outputs.
#[allow(clippy::too_many_arguments)]
pub fn run_real(
    rows: &[ScoredModel<'_>],
    root: &Path,
    max_videos: usize,
    image_size: u32,
    config: serde_json::Value,
    model_source: &str,
    ctx: &RunContext,
) -> Result<AveReport> {
    let (out, device, progress) = (ctx.out.as_path(), &ctx.device, ctx.progress);
    if rows.is_empty() {
        return Err(Error::Config("no model to evaluate".into()));
    }
    let started = std::time::Instant::now();
    // The bar's length: the test videos load_real_ave will read (the annotations are re-read,
    // a few kB, only when the bar is shown).
    let total = if progress { real_test_videos(root, max_videos) } else { 0 };
    let bar = bar(total, "AVE test videos", progress);
    let (videos, skipped) = load_real_ave(root, max_videos, 10, image_size, &tick(&bar))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut ours = Vec::with_capacity(rows.len());
    let mut preds = Vec::with_capacity(rows.len());
    for r in rows {
        let s = evaluate_real(r.model, &videos, &[r.kind], device)?
            .pop()
            .ok_or_else(|| Error::Config("no evaluation result".into()))?;
        ours.push(AveRow { method: r.name.to_string(), a2v: s.a2v_accuracy, v2a: s.v2a_accuracy });
        preds.push(predictions(&s));
    }
    let report = AveReport {
        data: "real AVE test videos".into(),
        evaluated_videos: videos.iter().filter(|v| v.event.iter().any(|e| !e)).count(),
        chance: chance_accuracy(videos.iter().map(|v| v.event.as_slice()))?,
        rows: ours,
        predictions: preds,
        seconds: started.elapsed().as_secs_f64(),
    };
    let manifest = serde_json::json!({
        "kind": "real AVE test split",
        "root": root,
        "videos": videos.iter().map(|v| serde_json::json!({"id": v.id, "category": v.category, "event": v.event})).collect::<Vec<_>>(),
        "skipped": skipped,
    });
    write_outputs(out, &config, &manifest, &report, model_source)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_table_text() {
        let ours = [AveRow { method: "Ours".into(), a2v: 0.5, v2a: 0.375 }];
        assert_eq!(
            markdown_table(0.25, &ours),
            "| method | A2V (%) | V2A (%) | data |\n|---|---|---|---|\n\
             | chance (uniformly random start) | 25.0 | 25.0 | expected value on these videos |\n\
             | Ours | 50.0 | 37.5 | this run |\n\
             | DCCA (paper) | 34.8 | 34.1 | real AVE test set |\n\
             | AVDLN (paper) | 44.8 | 35.6 | real AVE test set |\n\
             | Ours (paper) | 41.5 | 43.8 | real AVE test set |\n\
             | Ours w/ align (paper) | 43.8 | 44.3 | real AVE test set |\n"
        );
    }
}
