//! Metric benchmarks (`av-metrics`, pure Rust, no Burn backend: ids start with `cpu/`).
//!
//! `cargo bench --bench kernels -- metrics` (all ids are `metrics/cpu/...`, so the filter selects
//! only these). The Python references run on the same inputs with
//! `python tools/time_mir_eval.py` (mir_eval 0.8.2, MSSL's numpy scripts). Results:
//! `docs/performance.md`.
//!
//! Inputs (the formulas are repeated in `tools/time_mir_eval.py`):
//! * BSS-Eval: the 2 x 65 280 long case of `tools/reference/make_metrics_fixtures.py`
//!   (SplitMix64 noise + sines, float32), the Sound-of-Pixels clip length;
//! * cIoU: 250 maps of 256 x 256 uniform values (SplitMix64 seeds 1000 + i) and 3-box MSSL
//!   consensus ground truths, rule `map > 0.5`, then success rate and AUC;
//! * class-aware cIoU: 250 frames of 1-3 sounding classes (COCO boxes), one shared stack of
//!   15 class maps of 256 x 256, rule `> 0.1 max`, overall / per level / per class summaries.
use std::f64::consts::PI;
use std::hint::black_box;

use av_metrics::rng::SplitMix64;
use av_metrics::{
    AnnotatedObject, BoxConvention, BssEvalOptions, ClassAwareConfig, ClassAwareFrame, ClassMaps,
    ConsensusGt, ConsensusRule, NormalizedBox, PixelBox, PredictionRule, ScoreMap, bss_eval_sources,
    bss_eval_with_mixture, evaluate_class_aware, evaluate_localization,
};
use criterion::Criterion;

/// `make_metrics_fixtures.py::long_case()`: references, estimates, mixture.
fn long_case() -> (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<f32>) {
    let n = 65_280;
    let sr = 11_025.0;
    let u: Vec<Vec<f64>> = [1u64, 2, 3, 4]
        .iter()
        .map(|&seed| {
            let mut rng = SplitMix64::new(seed);
            (0..n).map(|_| 2.0 * rng.next_f64() - 1.0).collect()
        })
        .collect();
    let s0: Vec<f32> =
        (0..n).map(|k| (0.5 * (2.0 * PI * 440.0 * k as f64 / sr).sin() + 0.3 * u[0][k]) as f32).collect();
    let s1: Vec<f32> = (0..n)
        .map(|k| {
            let t = k as f64;
            (0.4 * (2.0 * PI * 1234.5 * t / sr + 0.3).sin() * (1.0 + 0.5 * (2.0 * PI * 3.0 * t / sr).sin())
                + 0.3 * u[1][k]) as f32
        })
        .collect();
    let (a, b) = (|k: usize| f64::from(s0[k]), |k: usize| f64::from(s1[k]));
    let e0 = (0..n).map(|k| (a(k) + 0.2 * b(k) + 0.05 * u[2][k]) as f32).collect();
    let e1 = (0..n).map(|k| (0.8 * b(k) + 0.3 * a(k) + 0.05 * u[3][k]) as f32).collect();
    let mix = (0..n).map(|k| (a(k) + b(k)) as f32).collect();
    (vec![s0, s1], vec![e0, e1], mix)
}

/// 250 uniform 256 x 256 maps and their 3-box consensus ground truths.
fn ciou_inputs() -> (Vec<Vec<f32>>, Vec<ConsensusGt>) {
    let mut maps = Vec::with_capacity(250);
    let mut gts = Vec::with_capacity(250);
    for i in 0..250i64 {
        let mut rng = SplitMix64::new(1000 + i as u64);
        maps.push((0..256 * 256).map(|_| rng.next_f64() as f32).collect());
        let (x0, y0) = (20 + (i * 7) % 100, 30 + (i * 13) % 90);
        let (x1, y1) = (x0 + 60 + i % 50, y0 + 50 + (i * 3) % 60);
        let boxes: Vec<PixelBox> = [(0, 0), (10, 5), (-8, 12)]
            .iter()
            .map(|&(dx, dy)| PixelBox::new(x0 + dx, y0 + dy, x1 + dx, y1 + dy))
            .collect();
        let gt =
            ConsensusGt::from_boxes(&boxes, 256, 256, BoxConvention::OneBasedMssl, ConsensusRule::HalfCapped)
                .expect("boxes inside the image");
        gts.push(gt);
    }
    (maps, gts)
}

/// One shared 15 x 256 x 256 map stack and 250 frames of 1-3 sounding classes.
fn class_inputs() -> (Vec<f32>, Vec<Vec<AnnotatedObject>>) {
    let mut rng = SplitMix64::new(77);
    let maps = (0..15 * 256 * 256).map(|_| (rng.next_f64() - 0.1) as f32).collect();
    let frames = (0..250usize)
        .map(|i| {
            (0..1 + i % 3)
                .map(|k| AnnotatedObject {
                    class: (i * 5 + k * 4) % 15,
                    bbox: NormalizedBox {
                        x: ((i * 37 + k * 11) % 60) as f64 / 100.0,
                        y: ((i * 53 + k * 17) % 60) as f64 / 100.0,
                        w: 0.2 + (i % 7) as f64 * 0.02,
                        h: 0.25 + (k % 3) as f64 * 0.05,
                    },
                    sounding: true,
                })
                .collect()
        })
        .collect();
    (maps, frames)
}

/// Registers the metric benchmarks.
pub fn benches(c: &mut Criterion) {
    let (refs, ests, mix) = long_case();
    // One group, "metrics": ids read `metrics/cpu/...` and the `-- metrics` filter selects them.
    let mut group = c.benchmark_group("metrics");
    group.sample_size(20);
    group.bench_function("cpu/bss_eval_sources/2x65280", |b| {
        b.iter(|| bss_eval_sources(black_box(&refs), black_box(&ests), &BssEvalOptions::default()))
    });
    group.bench_function("cpu/bss_eval_sources_with_mixture/2x65280", |b| {
        b.iter(|| {
            bss_eval_with_mixture(
                black_box(&refs),
                black_box(&ests),
                black_box(&mix),
                &BssEvalOptions::default(),
            )
        })
    });

    let (maps, gts) = ciou_inputs();
    group.bench_function("cpu/ciou/250maps_256x256", |b| {
        b.iter(|| {
            let views: Vec<ScoreMap<'_>> =
                maps.iter().map(|m| ScoreMap::new(m, 256, 256).expect("256x256 map")).collect();
            evaluate_localization(&views, black_box(&gts), PredictionRule::Absolute(0.5), 0.5)
        })
    });

    let (class_maps, frames) = class_inputs();
    group.bench_function("cpu/class_aware_ciou/250frames_15cls_256x256", |b| {
        b.iter(|| {
            let maps = ClassMaps::new(&class_maps, 15, 256, 256).expect("15x256x256 maps");
            let frames: Vec<ClassAwareFrame<'_>> =
                frames.iter().map(|objects| ClassAwareFrame { objects, maps }).collect();
            evaluate_class_aware(black_box(&frames), &ClassAwareConfig::default())
        })
    });
    group.finish();
}
