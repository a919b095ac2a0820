//! Cross-modal retrieval, audio→image and image→audio (the supplement's Fig. 5, made
//! quantitative): every test scene gives one audio clip and one frame; each clip queries the
//! frames (and each frame the clips) by cosine similarity of their embeddings, scored with
//! recall@k and mAP ([`av_metrics::retrieval`]). The example `retrieval` is a thin command line
//! over these.
//!
//! # Embeddings ([`EmbeddingKind`])
//! * `Projected`: the stage-2 projection heads applied to the global-average-pooled trunk
//!   vectors, `project_a(a)` and `project_v(v)` (unit length; the heads are trained on
//!   class-pooled vectors, so this is the class-agnostic reading of the shared space).
//! * `ClassAligned`: the class-aware alignment embedding `[σ(logit^c) g^c]_c`, the per-class unit
//!   embeddings weighted by the modality's class probability and concatenated (`C·D` values);
//!   the cosine of two such vectors is the normalised `Σ_c p_a^c p_v^c ⟨g_a^c, g_v^c⟩`, the
//!   score the AVE experiment calls "w/ align".
//! * `ClassProbs`: the class probabilities `σ(logit)` alone (coarse, category-level matching;
//!   the classification baseline).
//!
//! # Relevance ([`RelevanceKind`])
//! * `SameScene`: only the clip's own frame (and vice versa) is relevant (`Relevance::SameIndex`).
//! * `SameSoundingSet`: a gallery item is relevant when its scene has exactly the same set of
//!   sounding classes (silent distractors do not count), so with single-source scenes "the same
//!   instrument" (`Relevance::SameLabel` over the set as a bit mask).

use std::path::PathBuf;

use av_data::Split;
use av_data::bench::AssetPack;
use av_data::image_io::resize_bilinear;
use av_data::rng::SplitMix64;
use av_data::viz::{array_image, draw_text, grid, save_png};
use av_metrics::retrieval::{
    CrossModalRetrieval, RetrievalSummary, cosine_similarity, retrieval_from_similarity,
};
use av_metrics::table::TableRow;
use av_metrics::{Align, Cell, Embeddings, Relevance, ResultsTable, evaluate_retrieval};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use image::{Rgb, RgbImage};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::bench::{BenchData, BenchDataConfig, SceneTruth, generate};
use crate::run::{RunContext, write_json};
use av_align::model::AvModel;
use av_align::{Error, Result};

/// Which global embedding of a clip / frame is compared (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmbeddingKind {
    /// `project_a(a)`, `project_v(v)` of the pooled trunk vectors.
    Projected,
    /// `[σ(logit^c) g^c]_c`, the class-aware alignment embeddings.
    ClassAligned,
    /// `σ(logit)`, the class probabilities.
    ClassProbs,
}

impl EmbeddingKind {
    /// Every kind, in table order.
    pub const ALL: [EmbeddingKind; 3] =
        [EmbeddingKind::ClassAligned, EmbeddingKind::Projected, EmbeddingKind::ClassProbs];

    /// A short description for tables.
    pub fn label(self) -> &'static str {
        match self {
            EmbeddingKind::ClassAligned => "ours: class-aware alignment embeddings [p_c g_c]",
            EmbeddingKind::Projected => "ours: projected pooled vectors project(GAP(F))",
            EmbeddingKind::ClassProbs => "classification only: class probabilities",
        }
    }
}

/// Which gallery items count as relevant (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelevanceKind {
    /// The query's own pair only.
    SameScene,
    /// Items whose scene has the same set of sounding classes.
    SameSoundingSet,
}

/// Audio and image embeddings of `rows` scenes, row-major `rows x dim`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneEmbeddings {
    /// What they are.
    pub kind: EmbeddingKind,
    /// Number of scenes.
    pub rows: usize,
    /// Embedding size.
    pub dim: usize,
    /// Audio embeddings.
    pub audio: Vec<f32>,
    /// Image embeddings.
    pub image: Vec<f32>,
}

impl SceneEmbeddings {
    /// Cosine similarity of every audio with every image embedding, `rows x rows` (audio rows).
    ///
    /// # Errors
    /// [`Error::Metrics`] for empty or non-finite embeddings.
    pub fn similarity(&self) -> Result<Vec<f64>> {
        let a = Embeddings::new(&self.audio, self.rows, self.dim)?;
        let i = Embeddings::new(&self.image, self.rows, self.dim)?;
        Ok(cosine_similarity(&a, &i)?)
    }
}

fn to_vec(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Config(format!("tensor read-back: {e:?}")))
}

/// Embeds every scene of `data` (audio: its 5-s mixture; image: its frame) in each of `kinds`,
/// `batch` scenes at a time.
///
/// # Errors
/// [`Error::Config`] for no kinds, model errors.
pub fn embed_scenes(
    model: &AvModel,
    data: &BenchData,
    kinds: &[EmbeddingKind],
    batch: usize,
    device: &Device,
    progress: bool,
) -> Result<Vec<SceneEmbeddings>> {
    if kinds.is_empty() {
        return Err(Error::Config("no embedding kind requested".into()));
    }
    let n = data.dataset.len();
    let mut out: Vec<SceneEmbeddings> = kinds
        .iter()
        .map(|&kind| SceneEmbeddings { kind, rows: 0, dim: 0, audio: Vec::new(), image: Vec::new() })
        .collect();
    let bar = crate::run::bar(n as u64, "scenes embedded", progress);
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch.max(1)) {
        let b = data.dataset.batch(chunk, &[], device)?;
        let f = model.features(b.frames, b.logmels)?;
        let m = chunk.len();
        let needs_classes = kinds.contains(&EmbeddingKind::ClassAligned);
        let classes = if needs_classes { Some(model.class_embeddings(&f)?) } else { None };
        for e in out.iter_mut() {
            let (a, v) = match e.kind {
                EmbeddingKind::Projected => {
                    let k = f.a.dims()[1];
                    let a = model.project_a.forward(f.a.clone().reshape([m, 1, k]));
                    let v = model.project_v.forward(f.v.clone().reshape([m, 1, k]));
                    let d = a.dims()[2];
                    (a.reshape([m, d]), v.reshape([m, d]))
                }
                EmbeddingKind::ClassAligned => {
                    let ce =
                        classes.as_ref().ok_or_else(|| Error::Config("class embeddings missing".into()))?;
                    let [_, c, d] = ce.audio.dims();
                    let a = ce.audio.clone() * sigmoid(f.logits_a.clone()).reshape([m, c, 1]);
                    let v = ce.visual.clone() * sigmoid(f.logits_v.clone()).reshape([m, c, 1]);
                    (a.reshape([m, c * d]), v.reshape([m, c * d]))
                }
                EmbeddingKind::ClassProbs => (sigmoid(f.logits_a.clone()), sigmoid(f.logits_v.clone())),
            };
            e.dim = a.dims()[1];
            e.rows += m;
            e.audio.extend(to_vec(a)?);
            e.image.extend(to_vec(v)?);
        }
        if let Some(bar) = &bar {
            bar.inc(m as u64);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(out)
}

/// The set of sounding classes of a scene as a bit mask (the `SameSoundingSet` label).
pub fn sounding_set(truth: &SceneTruth) -> usize {
    truth
        .objects
        .iter()
        .filter(|o| o.sounding)
        .fold(0, |m, o| m | (1usize << (o.class % usize::BITS as usize)))
}

/// Scores of one embedding kind under one relevance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalRow {
    /// Row label.
    pub method: String,
    /// Relevance used.
    pub relevance: RelevanceKind,
    /// Both directions.
    pub scores: CrossModalRetrieval,
}

/// Retrieval scores of `embeddings` under both relevances (`labels`: one [`sounding_set`] per
/// scene, the same for a scene's clip and frame).
///
/// # Errors
/// [`Error::Metrics`].
pub fn evaluate_embeddings(
    embeddings: &SceneEmbeddings,
    labels: &[usize],
    ks: &[usize],
) -> Result<Vec<RetrievalRow>> {
    let a = Embeddings::new(&embeddings.audio, embeddings.rows, embeddings.dim)?;
    let i = Embeddings::new(&embeddings.image, embeddings.rows, embeddings.dim)?;
    let method = embeddings.kind.label().to_string();
    Ok(vec![
        RetrievalRow {
            method: method.clone(),
            relevance: RelevanceKind::SameScene,
            scores: evaluate_retrieval(&a, &i, Relevance::SameIndex, ks)?,
        },
        RetrievalRow {
            method,
            relevance: RelevanceKind::SameSoundingSet,
            scores: evaluate_retrieval(&a, &i, Relevance::SameLabel { audio: labels, image: labels }, ks)?,
        },
    ])
}

/// The random-ranking baseline: uniform random similarities, scores averaged over `draws`
/// draws (seeded), under both relevances.
///
/// # Errors
/// [`Error::Config`] for zero draws or no labels, [`Error::Metrics`].
pub fn random_baseline(labels: &[usize], ks: &[usize], draws: usize, seed: u64) -> Result<Vec<RetrievalRow>> {
    let n = labels.len();
    if draws == 0 || n == 0 {
        return Err(Error::Config("the random baseline needs at least one draw and one scene".into()));
    }
    let mut rows = Vec::new();
    for relevance in [RelevanceKind::SameScene, RelevanceKind::SameSoundingSet] {
        let rel = |q: usize, g: usize| match relevance {
            RelevanceKind::SameScene => q == g,
            RelevanceKind::SameSoundingSet => labels[q] == labels[g],
        };
        let mut a2i = Vec::with_capacity(draws);
        let mut i2a = Vec::with_capacity(draws);
        for d in 0..draws {
            let mut rng = SplitMix64::from_words(&[seed, d as u64]);
            let sim: Vec<f64> = (0..n * n).map(|_| rng.uniform()).collect();
            a2i.push(retrieval_from_similarity(&sim, n, n, rel, ks)?);
            let sim: Vec<f64> = (0..n * n).map(|_| rng.uniform()).collect();
            i2a.push(retrieval_from_similarity(&sim, n, n, |q, g| rel(g, q), ks)?);
        }
        rows.push(RetrievalRow {
            method: format!("random ranking (mean of {draws} draws)"),
            relevance,
            scores: CrossModalRetrieval { audio_to_image: average(&a2i), image_to_audio: average(&i2a) },
        });
    }
    Ok(rows)
}

fn average(s: &[RetrievalSummary]) -> RetrievalSummary {
    let n = s.len().max(1) as f64;
    let first = &s[0];
    RetrievalSummary {
        recall_at: first
            .recall_at
            .iter()
            .enumerate()
            .map(|(j, &(k, _))| (k, s.iter().map(|x| x.recall_at[j].1).sum::<f64>() / n))
            .collect(),
        mean_average_precision: s.iter().map(|x| x.mean_average_precision).sum::<f64>() / n,
        queries: first.queries,
        skipped_without_relevant: first.skipped_without_relevant,
    }
}

/// The table of retrieval rows: the relevance, then recall@k (the `k`s of the first row) and
/// mAP in both directions, as numbers (3 decimals in Markdown; empty where a row lacks a `k`).
pub fn retrieval_table(rows: &[RetrievalRow]) -> ResultsTable {
    let ks: Vec<usize> = rows
        .first()
        .map(|r| r.scores.audio_to_image.recall_at.iter().map(|x| x.0).collect())
        .unwrap_or_default();
    let mut columns = vec!["relevant".to_string()];
    for dir in ["A→I", "I→A"] {
        columns.extend(ks.iter().map(|k| format!("{dir} R@{k}")));
        columns.push(format!("{dir} mAP"));
    }
    let mut table = ResultsTable::new("method", columns);
    for r in rows {
        let rel = match r.relevance {
            RelevanceKind::SameScene => "same scene",
            RelevanceKind::SameSoundingSet => "same sounding set",
        };
        let mut cells = vec![Cell::Text(rel.into())];
        for d in [&r.scores.audio_to_image, &r.scores.image_to_audio] {
            for k in &ks {
                cells.push(d.recall_at.iter().find(|x| x.0 == *k).map_or(Cell::Empty, |x| Cell::Number(x.1)));
            }
            cells.push(Cell::Number(d.mean_average_precision));
        }
        // One cell per column by construction.
        table.rows.push(TableRow { label: r.method.clone(), cells });
    }
    table
}

/// [`retrieval_table`] as Markdown (3 decimals, no column alignment markers).
pub fn markdown_table(rows: &[RetrievalRow]) -> String {
    retrieval_table(rows).to_markdown_aligned(3, Align::Unspecified)
}

/// The `k` gallery indices most similar to query `q` (descending similarity, ties by index, as
/// [`av_metrics::retrieval`] ranks).
pub fn top_k(similarity: &[f64], n_gallery: usize, q: usize, k: usize) -> Vec<usize> {
    let Some(row) = similarity.get(q * n_gallery..(q + 1) * n_gallery) else { return Vec::new() };
    let mut order: Vec<usize> = (0..n_gallery).collect();
    order.sort_by(|&x, &y| row[y].total_cmp(&row[x]).then(x.cmp(&y)));
    order.truncate(k);
    order
}

/// A log-mel `(T, F)` as a picture: time left to right, low frequencies at the bottom, `jet`
/// colours over its own min-max range.
pub fn logmel_image(logmel: &Array2<f32>, width: u32, height: u32) -> RgbImage {
    let (lo, hi) = logmel.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
    resize_bilinear(&array_image(&logmel.t().to_owned(), lo, hi, true), width, height)
}

/// The top-`k` frames of a few audio queries, one row per query: the query's log-mel with its
/// sounding classes, then the ranked frames framed green (relevant: same sounding set) or red,
/// each with its rank and similarity. `similarity` is `audio x image` over the scenes of `data`.
///
/// # Errors
/// [`Error::Config`] for a similarity matrix of the wrong size or a query out of range.
pub fn retrieval_picture(
    data: &BenchData,
    similarity: &[f64],
    queries: &[usize],
    k: usize,
    tile: u32,
) -> Result<RgbImage> {
    let n = data.truths.len();
    if similarity.len() != n * n {
        return Err(Error::Config(format!("similarity has {} values, expected {n}x{n}", similarity.len())));
    }
    let samples = data.dataset.samples();
    let names = |t: &SceneTruth| -> String {
        let v: Vec<&str> = t
            .objects
            .iter()
            .filter(|o| o.sounding)
            .map(|o| data.class_names.get(o.class).map_or("?", String::as_str))
            .collect();
        v.join("+").to_ascii_lowercase()
    };
    let mut tiles = Vec::with_capacity(queries.len() * (k + 1));
    for &q in queries {
        let truth = data
            .truths
            .get(q)
            .ok_or_else(|| Error::Config(format!("query {q} out of range ({n} scenes)")))?;
        let mut query = logmel_image(&samples[q].logmel, tile, tile);
        draw_text(&mut query, 3, 3, "audio query", 1, [255, 255, 255], Some([0, 0, 0]));
        draw_text(&mut query, 3, i64::from(tile) - 10, &names(truth), 1, [255, 255, 255], Some([0, 0, 0]));
        tiles.push(query);
        let label = sounding_set(truth);
        for (r, g) in top_k(similarity, n, q, k).into_iter().enumerate() {
            let mut img = resize_bilinear(&samples[g].frame, tile, tile);
            let relevant = sounding_set(&data.truths[g]) == label;
            let color = if relevant { [0, 200, 0] } else { [220, 0, 0] };
            let (w, h) = img.dimensions();
            for y in 0..h {
                for x in 0..w {
                    if x < 3 || y < 3 || x + 3 >= w || y + 3 >= h {
                        img.put_pixel(x, y, Rgb(color));
                    }
                }
            }
            let text =
                format!("#{} {:.2}{}", r + 1, similarity[q * n + g], if g == q { " (pair)" } else { "" });
            draw_text(&mut img, 5, 5, &text, 1, [255, 255, 255], Some([0, 0, 0]));
            draw_text(
                &mut img,
                5,
                i64::from(h) - 12,
                &names(&data.truths[g]),
                1,
                [255, 255, 255],
                Some([0, 0, 0]),
            );
            tiles.push(img);
        }
        while tiles.len() % (k + 1) != 0 {
            tiles.push(RgbImage::from_pixel(tile, tile, Rgb([255, 255, 255])));
        }
    }
    Ok(grid(&tiles, (k + 1) as u32, 4, [255, 255, 255]))
}

/// What a run of the experiment measured (also written to `metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalReport {
    /// Scenes (queries per direction, and gallery size).
    pub scenes: usize,
    /// Every row: each embedding kind and the random baseline, under both relevances.
    pub rows: Vec<RetrievalRow>,
    /// The picture of the top-5 frames of audio queries.
    pub picture: PathBuf,
    /// Wall time in seconds (data, embedding, scoring).
    pub seconds: f64,
}

impl RetrievalReport {
    /// The Markdown table of [`markdown_table`].
    pub fn table(&self) -> String {
        markdown_table(&self.rows)
    }
}

/// The experiment end to end: generates test scenes `0..scenes` of `data_config`, embeds them
/// with `model` in every [`EmbeddingKind`], scores recall@1/5/10 and mAP under both relevances
/// with the random baseline, draws the top-5 frames of the first `queries` audio queries
/// (class-aware alignment embeddings), and writes `config.json` (`config` plus the settings),
/// `manifest.json` (scene ids, sounding classes, generator settings, asset fingerprint),
/// `metrics.json`, `table.csv` ([`retrieval_table`]), `top5_audio_to_image.png` and `report.md`
/// into `out`.
///
/// # Errors
/// Data, model and metric errors; [`Error::Io`] for the outputs.
#[allow(clippy::too_many_arguments)]
pub fn run_retrieval(
    model: &AvModel,
    data_config: &BenchDataConfig,
    scenes: u64,
    queries: usize,
    batch: usize,
    config: serde_json::Value,
    model_source: &str,
    ctx: &RunContext,
) -> Result<RetrievalReport> {
    let (out, device, progress) = (ctx.out.as_path(), &ctx.device, ctx.progress);
    let started = std::time::Instant::now();
    let data = generate(data_config, Split::Test, 0..scenes, progress)?;
    let labels: Vec<usize> = data.truths.iter().map(sounding_set).collect();
    let ks = [1, 5, 10];
    let embeddings = embed_scenes(model, &data, &EmbeddingKind::ALL, batch, device, progress)?;
    let mut rows = Vec::new();
    for e in &embeddings {
        rows.extend(evaluate_embeddings(e, &labels, &ks)?);
    }
    rows.extend(random_baseline(&labels, &ks, 20, 7)?);
    rows.sort_by_key(|r| r.relevance as u8);
    let ours = embeddings.first().ok_or_else(|| Error::Config("no embeddings".into()))?;
    let similarity = ours.similarity()?;
    let shown: Vec<usize> = (0..queries.min(data.truths.len())).collect();
    let picture = out.join("top5_audio_to_image.png");
    save_png(&picture, &retrieval_picture(&data, &similarity, &shown, 5, 128)?)?;
    let report = RetrievalReport {
        scenes: data.truths.len(),
        rows,
        picture,
        seconds: started.elapsed().as_secs_f64(),
    };

    let mut config = config;
    if let Some(map) = config.as_object_mut() {
        map.insert("data".into(), serde_json::to_value(data_config).unwrap_or_default());
        map.insert("scenes".into(), scenes.into());
        map.insert("ks".into(), serde_json::json!(ks));
        map.insert("batch".into(), batch.into());
    }
    write_json(&out.join("config.json"), &config)?;
    let sets: Vec<Vec<usize>> = data
        .truths
        .iter()
        .map(|t| t.objects.iter().filter(|o| o.sounding).map(|o| o.class).collect())
        .collect();
    write_json(
        &out.join("manifest.json"),
        &serde_json::json!({
            "generator": data_config,
            "asset_fingerprint": AssetPack::load_default()?.fingerprint(),
            "split": "Test",
            "ids": data.truths.iter().map(|t| &t.id).collect::<Vec<_>>(),
            "sounding_classes": sets,
            "class_names": data.class_names,
        }),
    )?;
    write_json(&out.join("metrics.json"), &report)?;
    let csv = out.join("table.csv");
    std::fs::write(&csv, retrieval_table(&report.rows).to_csv(3)).map_err(|e| Error::io(&csv, e))?;
    let md = format!(
        "# retrieval\n\n{} benchmark test scenes (levels {:?}); model: {model_source}; {:.1} s.\n\n{}\n\
         ## Top-5 frames of audio queries (class-aware alignment embeddings)\n\n\
         Left: the query's log-mel and its sounding instruments; then the 5 nearest frames, green when the \
         scene has the same sounding set, red otherwise, with rank and cosine similarity.\n\n\
         ![top-5](top5_audio_to_image.png)\n",
        report.scenes,
        data_config.bench.levels,
        report.seconds,
        report.table()
    );
    let path = out.join("report.md");
    std::fs::write(&path, md).map_err(|e| Error::io(&path, e))?;
    Ok(report)
}

#[cfg(test)]
mod table_tests {
    use super::*;

    fn summary(recall: &[(usize, f64)], map: f64) -> RetrievalSummary {
        RetrievalSummary {
            recall_at: recall.to_vec(),
            mean_average_precision: map,
            queries: 4,
            skipped_without_relevant: 0,
        }
    }

    /// Pins the text of [`markdown_table`] byte for byte.
    #[test]
    fn markdown_table_text() {
        let rows = vec![
            RetrievalRow {
                method: EmbeddingKind::ClassAligned.label().into(),
                relevance: RelevanceKind::SameScene,
                scores: CrossModalRetrieval {
                    audio_to_image: summary(&[(1, 0.25), (5, 0.5), (10, 1.0)], 0.41649),
                    image_to_audio: summary(&[(1, 0.0), (5, 0.0005), (10, f64::NAN)], 2.0 / 3.0),
                },
            },
            RetrievalRow {
                method: "random (mean of 20 draws)".into(),
                relevance: RelevanceKind::SameSoundingSet,
                scores: CrossModalRetrieval {
                    audio_to_image: summary(&[(1, 0.1), (5, 0.2), (10, 0.3)], 0.4),
                    image_to_audio: summary(&[(1, 0.5), (5, 0.6), (10, 0.7)], 0.8),
                },
            },
        ];
        assert_eq!(
            markdown_table(&rows),
            concat!(
                "| method | relevant | A→I R@1 | A→I R@5 | A→I R@10 | A→I mAP | I→A R@1 | I→A R@5 | I→A R@10 | I→A mAP |\n",
                "|---|---|---|---|---|---|---|---|---|---|\n",
                "| ours: class-aware alignment embeddings [p_c g_c] | same scene | 0.250 | 0.500 | 1.000 | 0.416 | 0.000 | 0.001 | NaN | 0.667 |\n",
                "| random (mean of 20 draws) | same sounding set | 0.100 | 0.200 | 0.300 | 0.400 | 0.500 | 0.600 | 0.700 | 0.800 |\n",
            )
        );
        let table = retrieval_table(&rows);
        assert!(table.rows.iter().all(|r| r.cells.len() == table.columns.len()));
        assert_eq!(
            table.to_csv(3).lines().nth(2),
            Some(
                "random (mean of 20 draws),same sounding set,0.100,0.200,0.300,0.400,0.500,0.600,0.700,0.800"
            )
        );
        // A row without one of the first row's k leaves that cell empty.
        let mut short = rows.clone();
        short[1].scores.image_to_audio.recall_at.remove(0);
        let table = retrieval_table(&short);
        assert_eq!(table.rows[1].cells[5], Cell::Empty);
        assert_eq!(table.rows[1].cells[6], Cell::Number(0.6));
        assert_eq!(
            markdown_table(&[]),
            concat!("| method | relevant | A→I mAP | I→A mAP |\n", "|---|---|---|---|\n")
        );
    }
}
