//! The AVE cross-modal localization and retrieval experiments (examples `ave_cross_modal` and
//! `retrieval`) run end to end on a tiny model in seconds, write outputs that parse, give
//! scores in range, and a perfect correspondence / perfect embeddings get a perfect score.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use av_align::audio::{Audio, write_wav_f32};
use av_align::data::bench::ave_videos::{AveSynthConfig, build_pool, oracle_score, synthesize_videos};
use av_align::metrics::ScoreOrder;
use av_experiments::ave::{
    ScoreKind, ScoredModel, chance_accuracy, evaluate_videos, run_real, run_synthetic,
};
use av_experiments::flickr::{FlickrPlan, train_plan};
use av_experiments::models::load_checkpoint_with_plan;
use av_experiments::retrieval::{
    EmbeddingKind, RelevanceKind, SceneEmbeddings, evaluate_embeddings, random_baseline, run_retrieval, top_k,
};
use av_experiments::run::RunContext;
use av_testkit::tmp_dir as tmp;
use burn::tensor::Device;

/// A tiny two-stage run shared by the tests (trained once per test process).
fn tiny_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = tmp("tiny-train");
        train_plan(&FlickrPlan::tiny(), &run, &Device::flex(), false).unwrap();
        run
    })
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn small_synth(videos: usize) -> AveSynthConfig {
    let mut cfg = AveSynthConfig::new(2020, 64, videos);
    cfg.pool_scenes = 12;
    cfg
}

#[test]
fn synthetic_videos_are_well_formed_and_a_perfect_correspondence_localizes_all() {
    let cfg = small_synth(40);
    let pool = build_pool(&cfg, &|| {}).unwrap();
    assert_eq!(pool.frames.len(), 12);
    assert_eq!(pool.logmels.len(), 12 * 5 + cfg.noise_segments);
    assert_eq!(pool.logmels[0].dim(), (51, 64), "1-s log-mel of the paper's front end");
    let videos = synthesize_videos(&cfg, &pool).unwrap();
    assert_eq!(videos, synthesize_videos(&cfg, &pool).unwrap(), "deterministic");
    for v in &videos {
        assert_eq!(v.event.len(), 10);
        assert!((1..=9).contains(&v.len) && v.start + v.len <= 10);
        for t in 0..10 {
            let shows = pool.frame_classes[v.frames[t]].contains(&v.class);
            let plays = pool.audio_class[v.audio[t]] == Some(v.class);
            // Inside the event both modalities carry the instrument, outside neither does.
            assert_eq!(v.event[t], shows && plays, "{} segment {t}", v.id);
            assert_eq!(shows, v.event[t]);
            assert_eq!(plays, v.event[t]);
        }
    }
    let lengths: std::collections::BTreeSet<usize> = videos.iter().map(|v| v.len).collect();
    assert!(lengths.len() >= 5, "event lengths vary: {lengths:?}");

    let oracle = oracle_score(&pool);
    let perfect = evaluate_videos(&videos, &oracle, ScoreOrder::HigherIsBetter).unwrap();
    assert_eq!((perfect.a2v_accuracy, perfect.v2a_accuracy), (1.0, 1.0));
    assert_eq!(perfect.evaluated, 40);
    // The same function read as a distance (or negated) never finds the event.
    let wrong = evaluate_videos(&videos, |f, a| -oracle(f, a), ScoreOrder::HigherIsBetter).unwrap();
    assert_eq!((wrong.a2v_accuracy, wrong.v2a_accuracy), (0.0, 0.0));
    // A constant score ties everywhere and picks start 0: right exactly for the videos starting at 0.
    let constant = evaluate_videos(&videos, |_, _| 0.5, ScoreOrder::HigherIsBetter).unwrap();
    let at_zero = videos.iter().filter(|v| v.start == 0).count() as f64 / 40.0;
    assert!((constant.a2v_accuracy - at_zero).abs() < 1e-12);
    let chance = chance_accuracy(videos.iter().map(|v| v.event.as_slice())).unwrap();
    assert!((0.1..=0.5).contains(&chance), "chance {chance}");
    assert!(chance_accuracy([[true; 10].as_slice()]).is_err());

    // A correspondence without audio-visual knowledge (random per frame/audio pair) is right
    // about as often as a random start: the construction has no shortcut.
    let many = synthesize_videos(&small_synth(400), &pool).unwrap();
    let chance = chance_accuracy(many.iter().map(|v| v.event.as_slice())).unwrap();
    let mut acc = [0.0; 2];
    for seed in 0..5u64 {
        let random = |f: usize, a: usize| {
            av_align::data::rng::hash_words(&[seed, f as u64, a as u64]) as f64 / u64::MAX as f64
        };
        let s = evaluate_videos(&many, random, ScoreOrder::HigherIsBetter).unwrap();
        acc[0] += s.a2v_accuracy / 5.0;
        acc[1] += s.v2a_accuracy / 5.0;
    }
    assert!(acc.iter().all(|a| (a - chance).abs() < 0.06), "random f: {acc:?}, chance {chance}");

    let mut bad = small_synth(4);
    bad.segments = 1;
    assert!(build_pool(&bad, &|| {}).is_err());
    let mut bad = small_synth(4);
    bad.noise_prob = 1.5;
    assert!(synthesize_videos(&bad, &pool).is_err());
}

#[test]
fn ave_cross_modal_runs_end_to_end_on_a_tiny_model() {
    let device = Device::flex();
    let run = tiny_run();
    let (plan, stage2, stage1) = load_checkpoint_with_plan(&run.join("model"), None, &device).unwrap();
    let stage1 = stage1.expect("the sibling model_stage1/ is found");
    assert_eq!(plan.data.image_size, 64);
    let rows = [
        ScoredModel { name: "stage-1 AVC", model: &stage1, kind: ScoreKind::Avc },
        ScoredModel { name: "stage-2 AVC", model: &stage2, kind: ScoreKind::Avc },
        ScoredModel { name: "stage-2 align", model: &stage2, kind: ScoreKind::Align },
    ];
    let out = tmp("ave-out");
    let synth = small_synth(16);
    let config = serde_json::json!({"test": true});
    let report = run_synthetic(
        &rows,
        &synth,
        8,
        config,
        "tiny",
        &RunContext::new(&out, device.clone(), false).unwrap(),
    )
    .unwrap();
    assert_eq!(report.rows.len(), 3);
    assert_eq!(report.evaluated_videos, 16);
    for r in &report.rows {
        assert!((0.0..=1.0).contains(&r.a2v) && (0.0..=1.0).contains(&r.v2a), "{r:?}");
    }
    assert!(
        report.predictions.iter().all(|p| p.len() == 16 && p.iter().all(|(a, v)| a.is_some() && v.is_some()))
    );
    let table = report.table();
    assert!(table.contains("AVDLN (paper) | 44.8 | 35.6") && table.contains("chance"), "{table}");
    let metrics = read_json(&out.join("metrics.json"));
    assert_eq!(metrics["report"]["rows"].as_array().map(Vec::len), Some(3));
    assert!(metrics["report"]["chance"].as_f64().is_some_and(|c| c > 0.0 && c < 1.0));
    let manifest = read_json(&out.join("manifest.json"));
    assert_eq!(manifest["videos"].as_array().map(Vec::len), Some(16));
    assert_eq!(manifest["pool_frames"].as_array().map(Vec::len), Some(12));
    assert!(manifest["asset_fingerprint"].is_string());
    let config = read_json(&out.join("config.json"));
    assert_eq!(config["synthesis"]["segments"], 10);
    assert!(std::fs::read_to_string(out.join("report.md")).unwrap().contains("| method | A2V (%) | V2A (%)"));
    std::fs::remove_dir_all(&out).ok();
}

/// Writes a two-video AVE copy in the documented layout from benchmark frames and stems.
fn fake_ave(root: &Path) {
    let cfg = small_synth(2);
    let pool = build_pool(&cfg, &|| {}).unwrap();
    let assets = std::sync::Arc::new(av_align::data::bench::AssetPack::load_default().unwrap());
    let mut bench = cfg.bench.clone();
    bench.levels = vec![1];
    let generator = av_align::data::bench::Generator::new(assets, bench).unwrap();
    let mut lines = String::from("Category&VideoID&Quality&StartTime&EndTime\n");
    for (k, (id, start, end)) in [("vidA", 2u32, 6u32), ("vidB", 0, 3)].into_iter().enumerate() {
        let dir = root.join("frames").join(id);
        std::fs::create_dir_all(&dir).unwrap();
        for t in 0..10 {
            pool.frames[(k + t) % pool.frames.len()].save(dir.join(format!("{t:04}.jpg"))).unwrap();
        }
        let stem =
            generator.scene(av_align::data::Split::Test, k as u64).unwrap().audio.stems[0].waveform.clone();
        let mut samples = stem.clone();
        samples.extend(&stem);
        std::fs::create_dir_all(root.join("audio")).unwrap();
        write_wav_f32(root.join("audio").join(format!("{id}.wav")), &Audio { samples, sample_rate: 22_050 })
            .unwrap();
        lines.push_str(&format!("Violin&{id}&good&{start}&{end}\n"));
    }
    std::fs::write(root.join("Annotations.txt"), &lines).unwrap();
    std::fs::write(root.join("testSet.txt"), &lines).unwrap();
}

#[test]
fn ave_cross_modal_reads_a_real_ave_layout() {
    let device = Device::flex();
    let (plan, stage2, _) = load_checkpoint_with_plan(&tiny_run().join("model"), None, &device).unwrap();
    let root = tmp("ave-data");
    fake_ave(&root);
    let out = tmp("ave-real-out");
    let rows = [ScoredModel { name: "stage-2 align", model: &stage2, kind: ScoreKind::Align }];
    let report = run_real(
        &rows,
        &root,
        10,
        plan.data.image_size,
        serde_json::json!({}),
        "tiny",
        &RunContext::new(&out, device.clone(), false).unwrap(),
    )
    .unwrap();
    assert_eq!(report.evaluated_videos, 2);
    assert!((0.0..=1.0).contains(&report.rows[0].a2v));
    // Chance: event lengths 4 and 3 -> (1/7 + 1/8) / 2.
    assert!((report.chance - (1.0 / 7.0 + 1.0 / 8.0) / 2.0).abs() < 1e-12);
    let manifest = read_json(&out.join("manifest.json"));
    assert_eq!(manifest["videos"][0]["id"], "vidA");
    // A missing root is a clear error, not a panic.
    assert!(
        run_real(
            &rows,
            &root.join("nope"),
            10,
            64,
            serde_json::json!({}),
            "",
            &RunContext::new(&out, device.clone(), false).unwrap()
        )
        .is_err()
    );
    std::fs::remove_dir_all(&root).ok();
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn retrieval_runs_end_to_end_on_a_tiny_model() {
    let device = Device::flex();
    let (plan, model, _) = load_checkpoint_with_plan(&tiny_run().join("model"), None, &device).unwrap();
    let out = tmp("retrieval-out");
    let data = plan.data.clone().with_levels(vec![1]);
    let report = run_retrieval(
        &model,
        &data,
        12,
        2,
        6,
        serde_json::json!({}),
        "tiny",
        &RunContext::new(&out, device.clone(), false).unwrap(),
    )
    .unwrap();
    assert_eq!(report.scenes, 12);
    // Three embeddings and the random baseline, each under both relevances.
    assert_eq!(report.rows.len(), 8);
    for r in &report.rows {
        for d in [&r.scores.audio_to_image, &r.scores.image_to_audio] {
            let recalls: Vec<f64> = d.recall_at.iter().map(|x| x.1).collect();
            assert_eq!(d.recall_at.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 5, 10]);
            assert!(recalls.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(recalls.windows(2).all(|w| w[0] <= w[1]), "recall grows with k: {recalls:?}");
            assert!((0.0..=1.0).contains(&d.mean_average_precision));
            assert_eq!(d.queries, 12, "every query has its own pair as a relevant item");
        }
    }
    let metrics = read_json(&out.join("metrics.json"));
    assert_eq!(metrics["rows"].as_array().map(Vec::len), Some(8));
    let manifest = read_json(&out.join("manifest.json"));
    assert_eq!(manifest["ids"].as_array().map(Vec::len), Some(12));
    assert!(read_json(&out.join("config.json"))["data"]["image_size"] == 64);
    let img = image::open(&report.picture).unwrap();
    assert_eq!((img.width(), img.height()), (6 * 132 + 4, 2 * 132 + 4), "2 queries x (query + top-5)");
    assert!(std::fs::read_to_string(out.join("report.md")).unwrap().contains("A→I R@1"));
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn perfect_embeddings_retrieve_perfectly_and_random_ranking_does_not() {
    // 30 scenes of 3 classes; audio and image embeddings are the one-hot class (plus a per-scene
    // offset that keeps the own pair first).
    let labels: Vec<usize> = (0..30).map(|i| 1 << (i % 3)).collect();
    let rows = 30;
    let dim = 3 + rows;
    let mut audio = vec![0.0f32; rows * dim];
    for i in 0..rows {
        audio[i * dim + i % 3] = 1.0;
        audio[i * dim + 3 + i] = 0.1;
    }
    let e = SceneEmbeddings { kind: EmbeddingKind::ClassAligned, rows, dim, image: audio.clone(), audio };
    let res = evaluate_embeddings(&e, &labels, &[1, 5, 10]).unwrap();
    for r in &res {
        for d in [&r.scores.audio_to_image, &r.scores.image_to_audio] {
            assert_eq!(d.recall_at[0].1, 1.0, "{:?}", r.relevance);
            assert!((d.mean_average_precision - 1.0).abs() < 1e-12, "{:?}", r.relevance);
        }
    }
    let sim = e.similarity().unwrap();
    let top = top_k(&sim, rows, 4, 5);
    assert_eq!(top[0], 4);
    assert!(top.iter().all(|&g| g % 3 == 1), "the top-5 share the class: {top:?}");
    let random = random_baseline(&labels, &[1, 5, 10], 20, 3).unwrap();
    for r in &random {
        let d = &r.scores.audio_to_image;
        match r.relevance {
            // One relevant item among 30: expected R@1 = 1/30, R@10 = 1/3.
            RelevanceKind::SameScene => {
                assert!(d.recall_at[0].1 < 0.15 && (0.15..0.55).contains(&d.recall_at[2].1))
            }
            // 10 relevant among 30: expected R@1 = 1/3.
            RelevanceKind::SameSoundingSet => assert!((0.15..0.55).contains(&d.recall_at[0].1)),
        }
    }
    assert!(random_baseline(&labels, &[1], 0, 3).is_err());
}
