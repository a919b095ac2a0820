//! cIoU (four prediction rules), class-aware cIoU, AUC and retrieval against the reference
//! Python code (MSSL `new/cal_metric.py`, `gtscore.py`, `utils/evaluate.py`, LVS `test.py`,
//! `sklearn.metrics.auc`, `sklearn.metrics.average_precision_score`), transcribed in
//! `tools/reference/make_metrics_fixtures.py`.
//!
//! Fixtures: `python tools/reference/make_metrics_fixtures.py` (pins in its header). Run:
//! `cargo test -p av-metrics --test integration localization_reference:: -- --nocapture`.

use crate::common::Fixtures;
use av_metrics::class_aware::class_aware_ciou;
use av_metrics::retrieval::Embeddings;
use av_metrics::{
    AnnotatedObject, BoxConvention, ClassAwareConfig, ClassAwareFrame, ClassMaps, ConsensusGt, ConsensusRule,
    NormalizedBox, PixelBox, PredictionRule, Relevance, ScoreMap, ciou_auc, evaluate_class_aware,
    evaluate_localization, evaluate_retrieval, success_curve, success_rate, trapezoid_auc,
};

#[test]
fn auc_matches_sklearn() {
    let fx = Fixtures::load();
    let mut worst = 0.0f64;
    for k in 0..3 {
        let cious = fx.get(&format!("auc/list{k}/cious")).data;
        let curve = success_curve(&cious).expect("curve");
        assert_eq!(curve.to_vec(), fx.get(&format!("auc/list{k}/curve")).data, "list{k} curve");
        let auc = ciou_auc(&cious).expect("auc");
        let want = fx.get(&format!("auc/list{k}/auc")).data[0];
        worst = worst.max((auc - want).abs());
        assert!((auc - want).abs() < 1e-12, "list{k}: {auc} vs {want}");
        assert_eq!(success_rate(&cious, 0.5).expect("rate"), fx.get(&format!("auc/list{k}/success")).data[0]);
    }
    for k in 0..3 {
        let x = fx.get(&format!("auc/curve{k}/x")).data;
        let y = fx.get(&format!("auc/curve{k}/y")).data;
        let want = fx.get(&format!("auc/curve{k}/auc")).data[0];
        let auc = trapezoid_auc(&x, &y).expect("auc");
        worst = worst.max((auc - want).abs());
        assert!((auc - want).abs() < 1e-12, "curve{k}: {auc} vs {want}");
    }
    eprintln!("AUC: max |Δ| vs sklearn.metrics.auc = {worst:.3e}");
}

#[test]
fn ciou_rules_match_reference_scripts() {
    let fx = Fixtures::load();
    let maps = fx.get("ciou/maps");
    let (m, h, w) = (maps.shape[0], maps.shape[1], maps.shape[2]);
    let maps: Vec<f32> = maps.data.iter().map(|&v| v as f32).collect();
    let boxes = fx.get("ciou/boxes").data;
    let counts = fx.get("ciou/counts").data;
    let gt_want = fx.get_f32("ciou/gt");
    let mut gts = Vec::new();
    for i in 0..m {
        let bx: Vec<PixelBox> = (0..counts[i] as usize)
            .map(|j| {
                let b = &boxes[(i * 5 + j) * 4..(i * 5 + j + 1) * 4];
                PixelBox::new(b[0] as i64, b[1] as i64, b[2] as i64, b[3] as i64)
            })
            .collect();
        let gt = ConsensusGt::from_boxes(&bx, w, h, BoxConvention::OneBasedMssl, ConsensusRule::HalfCapped)
            .expect("gt");
        assert_eq!(gt.weights(), &gt_want[i * h * w..(i + 1) * h * w], "image {i}: consensus map");
        gts.push(gt);
    }
    let views: Vec<ScoreMap<'_>> =
        (0..m).map(|i| ScoreMap::new(&maps[i * h * w..(i + 1) * h * w], w, h).expect("map")).collect();
    let mut worst = 0.0f64;
    for (key, rule) in [
        ("absolute", PredictionRule::Absolute(0.5)),
        ("atleast", PredictionRule::AtLeast(0.1)),
        ("relative", PredictionRule::RelativeToMax(0.1)),
        ("lvs", PredictionRule::LvsMedian),
    ] {
        let want = fx.get(&format!("ciou/{key}")).data;
        let got = evaluate_localization(&views, &gts, rule, 0.5).expect("evaluate");
        for (i, (a, b)) in got.cious.iter().zip(&want).enumerate() {
            worst = worst.max((a - b).abs());
            assert!((a - b).abs() < 1e-12, "{key} image {i}: {a} vs {b}");
        }
    }
    eprintln!("cIoU: max |Δ| vs the reference scripts = {worst:.3e}");
}

#[test]
fn class_aware_matches_mssl_evaluate() {
    let fx = Fixtures::load();
    let maps = fx.get("class/maps");
    let (f, c, h, w) = (maps.shape[0], maps.shape[1], maps.shape[2], maps.shape[3]);
    let maps: Vec<f32> = maps.data.iter().map(|&v| v as f32).collect();
    let ann = fx.rows("class/annotations");
    let objects: Vec<Vec<AnnotatedObject>> = (0..f)
        .map(|fr| {
            ann.iter()
                .filter(|r| r[0] as usize == fr)
                .map(|r| AnnotatedObject {
                    class: r[1] as usize,
                    bbox: NormalizedBox { x: r[2], y: r[3], w: r[4], h: r[5] },
                    sounding: r[6] == 1.0,
                })
                .collect()
        })
        .collect();
    let n = c * h * w;
    let frames: Vec<ClassAwareFrame<'_>> = (0..f)
        .map(|fr| ClassAwareFrame {
            objects: &objects[fr],
            maps: ClassMaps::new(&maps[fr * n..(fr + 1) * n], c, w, h).expect("maps"),
        })
        .collect();
    let scores = fx.get("class/scores").data;
    let levels = fx.get("class/levels").data;
    let per_class = fx.rows("class/per_class");
    let mut worst = 0.0f64;
    for fr in 0..f {
        let s = class_aware_ciou(&frames[fr], PredictionRule::RelativeToMax(0.1)).expect("score");
        worst = worst.max((s.score - scores[fr]).abs());
        assert!((s.score - scores[fr]).abs() < 1e-12, "frame {fr}: {} vs {}", s.score, scores[fr]);
        assert_eq!(s.level, levels[fr] as usize);
        for &(cl, v) in &s.per_class {
            assert!((v - per_class[fr][cl]).abs() < 1e-12, "frame {fr} class {cl}");
        }
    }
    eprintln!("class-aware cIoU: max |Δ| vs MSSL utils/evaluate.py = {worst:.3e}");
    let summary = evaluate_class_aware(&frames, &ClassAwareConfig::default()).expect("summary");
    let auc = fx.get("class/auc").data[0];
    assert!((summary.overall.auc - auc).abs() < 1e-12);
    let present: Vec<usize> = summary.by_level.iter().map(|l| l.level).collect();
    assert_eq!(present, vec![1, 2, 3]);
    // Level 3 succeeds at 0.3 (paper Table 2).
    let l3: Vec<f64> = (0..f).filter(|&i| levels[i] == 3.0).map(|i| scores[i]).collect();
    let want = l3.iter().filter(|&&s| s >= 0.3).count() as f64 / l3.len() as f64;
    assert_eq!(summary.by_level[2].summary.success_rate, want);
}

#[test]
fn retrieval_matches_sklearn() {
    let fx = Fixtures::load();
    let audio = fx.get_f32("retrieval/audio");
    let image = fx.get_f32("retrieval/image");
    let la: Vec<usize> = fx.get("retrieval/audio_labels").data.iter().map(|&v| v as usize).collect();
    let li: Vec<usize> = fx.get("retrieval/image_labels").data.iter().map(|&v| v as usize).collect();
    let ea = Embeddings::new(&audio, 12, 8).expect("audio");
    let ei = Embeddings::new(&image, 12, 8).expect("image");
    let mut worst = 0.0f64;
    for (name, rel) in
        [("index", Relevance::SameIndex), ("label", Relevance::SameLabel { audio: &la, image: &li })]
    {
        let got = evaluate_retrieval(&ea, &ei, rel, &[1, 5]).expect("retrieval");
        for (dir, s) in [("a2i", &got.audio_to_image), ("i2a", &got.image_to_audio)] {
            let want = fx.get(&format!("retrieval/{name}/{dir}")).data;
            assert_eq!(s.recall_at[0].1, want[0], "{name} {dir} R@1");
            assert_eq!(s.recall_at[1].1, want[1], "{name} {dir} R@5");
            worst = worst.max((s.mean_average_precision - want[2]).abs());
            assert!((s.mean_average_precision - want[2]).abs() < 1e-12, "{name} {dir} mAP");
            assert_eq!(s.queries, want[3] as usize, "{name} {dir} queries");
        }
    }
    eprintln!("retrieval mAP: max |Δ| vs sklearn average_precision_score = {worst:.3e}");
}
