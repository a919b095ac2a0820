//! The per-position contrastive loss against a naive f64 re-implementation (plain loops over
//! anchors, clips and positions), a hand-computed case, gradients and typed errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use av_alignment::{
    AlignError, BackgroundNegative, CrossClassNegative, PositionLossConfig, PositionScore,
    position_contrastive_loss, position_contrastive_loss_with_cams,
};
use av_testkit::{assert_close, to_vec};
use burn::tensor::{Device, Tensor, TensorData};

const TOL: f32 = 1e-5;

/// A small xorshift generator, so the cases are fixed without a `rand` dependency.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// `rows` unit vectors of width `d`, flattened.
    fn unit_rows(&mut self, rows: usize, d: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows * d);
        for _ in 0..rows {
            let v: Vec<f32> = (0..d).map(|_| self.uniform()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            out.extend(v.iter().map(|x| x / norm));
        }
        out
    }
}

/// One problem: sizes, flattened row-major inputs.
#[derive(Clone)]
struct Case {
    n: usize,
    c: usize,
    p: usize,
    d: usize,
    ga: Vec<f32>,
    gv: Vec<f32>,
    audio: Vec<f32>,
    visual: Vec<f32>,
    /// Visual class activation maps `[N, C, P]` (some negative, as raw CAMs are).
    cams: Vec<f32>,
}

impl Case {
    fn random(seed: u64, n: usize, audio: Vec<f32>, visual: Vec<f32>) -> Self {
        let (c, p, d) = (3, 5, 4);
        assert_eq!((audio.len(), visual.len()), (n * c, n * c));
        let mut rng = Rng(seed);
        let ga = rng.unit_rows(n * c, d);
        let gv = rng.unit_rows(n * p, d);
        let cams = (0..n * c * p).map(|_| rng.uniform()).collect();
        Self { n, c, p, d, ga, gv, audio, visual, cams }
    }

    fn cams(&self, device: &Device) -> Tensor<3> {
        Tensor::<3>::from_data(TensorData::new(self.cams.clone(), [self.n, self.c, self.p]), device)
    }

    fn tensors(&self, device: &Device) -> (Tensor<3>, Tensor<3>, Tensor<2>, Tensor<2>) {
        let t3 = |v: &[f32], s: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v.to_vec(), s), device);
        let t2 = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [self.n, self.c]), device);
        (
            t3(&self.ga, [self.n, self.c, self.d]),
            t3(&self.gv, [self.n, self.p, self.d]),
            t2(&self.audio),
            t2(&self.visual),
        )
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The loss written out with loops in f64: `(loss, anchors, mean positive score)`. The soft
/// masks are computed from the similarities of `(mga, mgv)` (the same inputs for values; the
/// unperturbed ones for finite differences, since the masks are detached).
fn naive(
    case: &Case,
    ga: &[f64],
    gv: &[f64],
    mga: &[f64],
    mgv: &[f64],
    cfg: &PositionLossConfig,
) -> (f64, usize, f64) {
    let Case { n, c, p, d, .. } = *case;
    let sims = |a: &[f64], v: &[f64], i: usize, k: usize, j: usize| -> Vec<f64> {
        (0..p).map(|q| (0..d).map(|e| a[(i * c + k) * d + e] * v[(j * p + q) * d + e]).sum()).collect()
    };
    let masked_mean = |s: &[f64], mask: &[f64]| -> f64 {
        s.iter().zip(mask).map(|(x, m)| x * m).sum::<f64>() / mask.iter().sum::<f64>()
    };
    let score = |i: usize, k: usize, j: usize| -> f64 {
        let s = sims(ga, gv, i, k, j);
        match cfg.score {
            PositionScore::Max => s.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            PositionScore::SoftTriMap { eps_pos, soft } => {
                let mask: Vec<f64> = sims(mga, mgv, i, k, j)
                    .iter()
                    .map(|s0| sigmoid((s0 - eps_pos as f64) / soft as f64))
                    .collect();
                masked_mean(&s, &mask)
            }
        }
    };
    let t = cfg.temperature as f64;
    let (mut total, mut anchors, mut pos_sum) = (0.0, 0, 0.0);
    for i in 0..n {
        for k in 0..c {
            if case.audio[i * c + k] <= cfg.anchor_threshold {
                continue;
            }
            anchors += 1;
            let pos = score(i, k, i);
            pos_sum += pos;
            let mut logits = vec![pos / t];
            for j in 0..n {
                if j != i && case.visual[j * c + k] <= cfg.negative_threshold {
                    logits.push(score(i, k, j) / t);
                }
            }
            if let Some(bg) = cfg.background_negative {
                let mask: Vec<f64> = sims(mga, mgv, i, k, i)
                    .iter()
                    .map(|s0| 1.0 - sigmoid((s0 - bg.eps_neg as f64) / bg.soft as f64))
                    .collect();
                logits.push(masked_mean(&sims(ga, gv, i, k, i), &mask) / t);
            }
            if let Some(cross) = cfg.cross_class {
                for other in (0..c).filter(|&o| o != k && case.visual[i * c + o] > cfg.negative_threshold) {
                    let cam: Vec<f64> =
                        (0..p).map(|q| (case.cams[(i * c + other) * p + q] as f64).max(0.0)).collect();
                    let peak = cam.iter().copied().fold(0.0, f64::max);
                    if peak <= 0.0 {
                        continue;
                    }
                    let w: Vec<f64> =
                        cam.iter().map(|v| (v / peak - cross.cam_floor as f64).max(0.0)).collect();
                    if w.iter().sum::<f64>() > 0.0 {
                        logits.push(masked_mean(&sims(ga, gv, i, k, i), &w) / t);
                    }
                }
            }
            let sum: f64 = logits.iter().map(|l| l.exp()).sum();
            total += sum.ln() - logits[0];
        }
    }
    let denom = anchors.max(1) as f64;
    (total / denom, anchors, pos_sum / denom)
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Label patterns (N = 4, C = 3), including labels exactly at the thresholds (0.5 is neither an
/// anchor nor excluded from the negatives) and anchors without negatives.
fn label_patterns() -> Vec<(&'static str, usize, Vec<f32>, Vec<f32>)> {
    vec![
        (
            "soft",
            4,
            vec![0.9, 0.1, 0.6, 0.5, 1.0, 0.0, 0.2, 0.7, 0.8, 1.0, 1.0, 0.3],
            vec![0.8, 0.0, 0.7, 0.5, 0.9, 0.1, 0.0, 0.6, 0.55, 1.0, 0.2, 0.4],
        ),
        (
            // Class 0 is shown in every clip: anchor (0, 0) has no negative at all.
            "no negatives",
            4,
            vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            vec![1.0, 0.0, 1.0, 0.9, 1.0, 0.0, 0.6, 0.0, 0.0, 0.51, 0.0, 1.0],
        ),
        ("all anchors, all negatives", 4, vec![1.0; 12], vec![0.0; 12]),
        (
            "three clips",
            3,
            vec![1.0, 0.0, 0.7, 0.0, 0.9, 0.4, 0.6, 0.6, 0.6],
            vec![0.0, 1.0, 0.3, 0.7, 0.0, 0.5, 0.2, 0.8, 0.1],
        ),
    ]
}

fn configs() -> Vec<(&'static str, PositionLossConfig)> {
    let mut out = Vec::new();
    let scores = [
        ("max", PositionScore::Max),
        ("lvs tri-map", PositionScore::lvs()),
        ("soft tri-map", PositionScore::SoftTriMap { eps_pos: 0.2, soft: 0.25 }),
        // (1 + eps) / soft above 80: the masks take the log-domain path.
        ("sharp tri-map", PositionScore::SoftTriMap { eps_pos: 0.65, soft: 0.012 }),
    ];
    let backgrounds = [
        None,
        Some(BackgroundNegative::default()),
        Some(BackgroundNegative { eps_neg: 0.0, soft: 0.3 }),
        Some(BackgroundNegative { eps_neg: 0.4, soft: 0.01 }),
    ];
    for (name, score) in scores {
        for (b, background_negative) in backgrounds.iter().enumerate() {
            let temperature = if b == 2 { 0.2 } else { 0.07 };
            let cfg = PositionLossConfig {
                score,
                temperature,
                background_negative: *background_negative,
                ..Default::default()
            };
            out.push((name, cfg));
        }
    }
    for cam_floor in [0.0, 0.5] {
        let cross_class = Some(CrossClassNegative { cam_floor });
        out.push((
            "lvs tri-map + cross-class",
            PositionLossConfig { cross_class, ..PositionLossConfig::lvs() },
        ));
        out.push(("max + cross-class", PositionLossConfig { cross_class, ..PositionLossConfig::default() }));
    }
    out
}

#[test]
fn matches_a_naive_f64_implementation_for_all_scores_and_label_patterns() {
    let device = Device::flex();
    for (seed, (labels, n, audio, visual)) in label_patterns().into_iter().enumerate() {
        let case = Case::random(0x9E37_79B9_7F4A_7C15 ^ (seed as u64 + 1), n, audio, visual);
        let (ga, gv) = (f64s(&case.ga), f64s(&case.gv));
        for (name, cfg) in configs() {
            let (a, v, al, vl) = case.tensors(&device);
            let out =
                position_contrastive_loss_with_cams(a, v, al, vl, Some(case.cams(&device)), &cfg).unwrap();
            let (want, anchors, mean_pos) = naive(&case, &ga, &gv, &ga, &gv, &cfg);
            let what = format!(
                "{labels} / {name} / background {:?} / {:?}",
                cfg.background_negative, cfg.cross_class
            );
            assert_eq!(out.anchors, anchors, "{what}: anchors");
            assert_close(&format!("{what}: loss"), &to_vec(out.loss), &[want as f32], TOL);
            assert_close(&format!("{what}: mean positive"), &[out.mean_positive], &[mean_pos as f32], TOL);
        }
    }
}

#[test]
fn an_anchor_without_negatives_contributes_exactly_zero() {
    // One clip: the positive is the only logit, so -log softmax = 0 whatever the score.
    let case = Case::random(7, 1, vec![1.0, 0.0, 1.0], vec![1.0, 1.0, 0.0]);
    let (a, v, al, vl) = case.tensors(&Device::flex());
    let out = position_contrastive_loss(a, v, al, vl, &PositionLossConfig::default()).unwrap();
    assert_eq!(out.anchors, 2);
    assert_eq!(to_vec(out.loss), vec![0.0]);
}

#[test]
fn gradients_match_finite_differences_of_the_naive_loss() {
    // The masks are detached, so the finite differences of the naive loss keep them at the
    // unperturbed similarities.
    let device = Device::flex().autodiff();
    let (_, n, audio, visual) = label_patterns().swap_remove(0);
    let case = Case::random(0xDEAD_BEEF, n, audio, visual);
    let (ga, gv) = (f64s(&case.ga), f64s(&case.gv));
    let h = 1e-6;
    for (name, cfg) in configs() {
        let (a, v, al, vl) = case.tensors(&device);
        let (a, v) = (a.require_grad(), v.require_grad());
        let cams = Some(case.cams(&device));
        let out = position_contrastive_loss_with_cams(a.clone(), v.clone(), al, vl, cams, &cfg).unwrap();
        let grads = out.loss.backward();
        let fd = |which: usize, len: usize| -> Vec<f32> {
            (0..len)
                .map(|e| {
                    let eval = |delta: f64| {
                        let (mut pa, mut pv) = (ga.clone(), gv.clone());
                        if which == 0 {
                            pa[e] += delta
                        } else {
                            pv[e] += delta
                        }
                        naive(&case, &pa, &pv, &ga, &gv, &cfg).0
                    };
                    ((eval(h) - eval(-h)) / (2.0 * h)) as f32
                })
                .collect()
        };
        let what = format!("{name} / background {:?} / {:?}", cfg.background_negative, cfg.cross_class);
        assert_close(&format!("{what}: d/dg_a"), &to_vec(a.grad(&grads).unwrap()), &fd(0, ga.len()), 1e-4);
        assert_close(&format!("{what}: d/dg_v"), &to_vec(v.grad(&grads).unwrap()), &fd(1, gv.len()), 1e-4);
    }
}

#[test]
fn hand_computed_case_value_and_gradients() {
    // N = 2, C = 1, P = 2, D = 2, max score, τ = 0.5. Clip 0 is the one anchor (audio label 1),
    // clip 1 does not show the class (visual label 0), so it is the one negative.
    //   g_a[0] = (1, 0); g_v[0] = {(1, 0), (0, 1)}; g_v[1] = {(0.6, 0.8), (0.8, -0.6)}
    //   positive score max(1, 0) = 1, negative score max(0.6, 0.8) = 0.8 -> logits 2, 1.6
    //   loss = -log(e^2 / (e^2 + e^1.6)) = ln(1 + e^-0.4) = 0.51301525
    // With q = σ(-0.4) = 0.40131234 (softmax weight of the negative): dL/dlogit = (-q, q), so
    //   dL/dg_a[0] = (1/τ)(-q (1, 0) + q (0.8, -0.6)) = 2q (-0.2, -0.6) = (-0.16052494, -0.48157481)
    //   dL/dg_v[0, 0] = (1/τ)(-q) g_a[0] = (-0.80262468, 0), dL/dg_v[1, 1] = (0.80262468, 0),
    //   the positions that are not the maximum and the non-anchor g_a[1] get 0.
    let device = Device::flex().autodiff();
    let ga = Tensor::<3>::from_floats([[[1.0, 0.0]], [[0.0, 1.0]]], &device).require_grad();
    let gv = Tensor::<3>::from_floats([[[1.0, 0.0], [0.0, 1.0]], [[0.6, 0.8], [0.8, -0.6]]], &device)
        .require_grad();
    let audio = Tensor::<2>::from_floats([[1.0], [0.0]], &device);
    let visual = Tensor::<2>::from_floats([[1.0], [0.0]], &device);
    let cfg = PositionLossConfig { temperature: 0.5, ..Default::default() };
    let out = position_contrastive_loss(ga.clone(), gv.clone(), audio, visual, &cfg).unwrap();
    assert_eq!(out.anchors, 1);
    assert!((out.mean_positive - 1.0).abs() < 1e-6, "{}", out.mean_positive);
    // The closed forms above, evaluated in f64 (0.5130152, 0.4013123).
    let loss = (1.0 + (-0.4f64).exp()).ln() as f32;
    let q = 1.0 / (1.0 + 0.4f64.exp());
    let (ga_want, gv_want) =
        ([-0.4 * q, -1.2 * q, 0.0, 0.0], [-2.0 * q, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0 * q, 0.0]);
    assert!((loss - 0.513_015_3).abs() < 1e-7 && (q as f32 - 0.401_312_3).abs() < 1e-7);
    assert_close("loss", &to_vec(out.loss.clone()), &[loss], TOL);
    let grads = out.loss.backward();
    assert_close("d/dg_a", &to_vec(ga.grad(&grads).unwrap()), &ga_want.map(|x| x as f32), TOL);
    assert_close("d/dg_v", &to_vec(gv.grad(&grads).unwrap()), &gv_want.map(|x| x as f32), TOL);
}

#[test]
fn backward_gives_finite_gradients_with_the_lvs_settings() {
    let device = Device::flex().autodiff();
    let (_, n, audio, visual) = label_patterns().swap_remove(1);
    let case = Case::random(99, n, audio, visual);
    let (a, v, al, vl) = case.tensors(&device);
    let (a, v) = (a.require_grad(), v.require_grad());
    let out = position_contrastive_loss(a.clone(), v.clone(), al, vl, &PositionLossConfig::lvs()).unwrap();
    assert!(to_vec(out.loss.clone())[0].is_finite());
    let grads = out.loss.backward();
    for g in [to_vec(a.grad(&grads).unwrap()), to_vec(v.grad(&grads).unwrap())] {
        assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
        assert!(g.iter().any(|&x| x != 0.0), "all-zero gradient");
    }
}

#[test]
fn no_anchors_give_a_finite_zero_loss_and_zero_gradients() {
    let device = Device::flex().autodiff();
    // 0.5 is not above the anchor threshold.
    let case = Case::random(3, 4, vec![0.5; 12], vec![0.0; 12]);
    for cfg in [PositionLossConfig::default(), PositionLossConfig::lvs()] {
        let (a, v, al, vl) = case.tensors(&device);
        let (a, v) = (a.require_grad(), v.require_grad());
        let out = position_contrastive_loss(a.clone(), v.clone(), al, vl, &cfg).unwrap();
        assert_eq!(out.anchors, 0);
        assert_eq!(out.mean_positive, 0.0);
        assert_eq!(to_vec(out.loss.clone()), vec![0.0]);
        let grads = out.loss.backward();
        for g in [to_vec(a.grad(&grads).unwrap()), to_vec(v.grad(&grads).unwrap())] {
            assert!(g.iter().all(|&x| x == 0.0), "{g:?}");
        }
    }
}

fn z<const D: usize>(shape: [usize; D]) -> Tensor<D> {
    Tensor::zeros(shape, &Device::flex())
}

#[test]
fn bad_shapes_and_settings_give_typed_errors() {
    let cfg = PositionLossConfig::default();
    let shape_of = |r: Result<_, AlignError>| match r {
        Err(AlignError::Shape { what, .. }) => what,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted"),
    };
    let call =
        |a, v, al, vl, cfg: &PositionLossConfig| position_contrastive_loss(a, v, al, vl, cfg).map(|_| ());
    assert_eq!(
        shape_of(call(z([2, 3, 4]), z([3, 5, 4]), z([2, 3]), z([2, 3]), &cfg)),
        "visual position features"
    );
    assert_eq!(
        shape_of(call(z([2, 3, 4]), z([2, 5, 6]), z([2, 3]), z([2, 3]), &cfg)),
        "visual position features"
    );
    assert_eq!(shape_of(call(z([2, 3, 4]), z([2, 5, 4]), z([2, 4]), z([2, 3]), &cfg)), "audio labels");
    assert_eq!(shape_of(call(z([2, 3, 4]), z([2, 5, 4]), z([2, 3]), z([3, 3]), &cfg)), "visual labels");
    assert!(matches!(
        call(z([2, 3, 4]), z([2, 0, 4]), z([2, 3]), z([2, 3]), &cfg),
        Err(AlignError::Empty { what: "visual position features" })
    ));
    assert!(matches!(
        call(z([0, 3, 4]), z([0, 5, 4]), z([0, 3]), z([0, 3]), &cfg),
        Err(AlignError::Empty { .. })
    ));
    let nan = Tensor::<3>::full([2, 5, 4], f32::NAN, &Device::flex());
    assert!(matches!(
        call(z([2, 3, 4]), nan, z([2, 3]), z([2, 3]), &cfg),
        Err(AlignError::NonFinite { what: "visual position features" })
    ));
    let big = Tensor::<2>::full([2, 3], 1.5, &Device::flex());
    assert!(matches!(
        call(z([2, 3, 4]), z([2, 5, 4]), z([2, 3]), big, &cfg),
        Err(AlignError::LabelRange { what: "visual labels" })
    ));
    let bad = [
        PositionLossConfig { temperature: 0.0, ..cfg },
        PositionLossConfig { temperature: f32::NAN, ..cfg },
        PositionLossConfig { anchor_threshold: f32::INFINITY, ..cfg },
        PositionLossConfig { score: PositionScore::SoftTriMap { eps_pos: 0.65, soft: 0.0 }, ..cfg },
        PositionLossConfig {
            background_negative: Some(BackgroundNegative { eps_neg: f32::NAN, soft: 0.03 }),
            ..cfg
        },
        PositionLossConfig { cross_class: Some(CrossClassNegative { cam_floor: 1.0 }), ..cfg },
        // Cross-class negatives without the CAMs they need.
        PositionLossConfig { cross_class: Some(CrossClassNegative::default()), ..cfg },
    ];
    for b in bad {
        assert!(
            matches!(call(z([2, 3, 4]), z([2, 5, 4]), z([2, 3]), z([2, 3]), &b), Err(AlignError::Config(_))),
            "{b:?}"
        );
    }
}

#[test]
fn cross_class_negatives_check_their_cams() {
    let cfg = PositionLossConfig { cross_class: Some(CrossClassNegative::default()), ..Default::default() };
    let call = |cams: Tensor<3>| {
        position_contrastive_loss_with_cams(
            z([2, 3, 4]),
            z([2, 5, 4]),
            z([2, 3]),
            z([2, 3]),
            Some(cams),
            &cfg,
        )
        .map(|_| ())
    };
    assert!(matches!(call(z([2, 3, 4])), Err(AlignError::Shape { what: "visual CAMs", .. })));
    let nan = Tensor::<3>::full([2, 3, 5], f32::NAN, &Device::flex());
    assert!(matches!(call(nan), Err(AlignError::NonFinite { what: "visual CAMs" })));
    assert!(call(z([2, 3, 5])).is_ok());
}

#[test]
fn a_cross_class_negative_pushes_the_audio_away_from_the_other_instrument() {
    // One clip, two classes both shown; class 0 sounds. P = 2 positions: class 1's CAM is on
    // position 1. With the cross-class negative, the gradient on g_a[0, 0] points away from
    // g_v[0, 1] (the other instrument), so a descent step lowers their similarity.
    let device = Device::flex().autodiff();
    let t3 = |v: Vec<f32>, s: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v, s), &device);
    let ga = t3(vec![1.0, 0.0, 0.0, 1.0], [1, 2, 2]).require_grad();
    let gv = t3(vec![0.8, 0.6, 0.6, 0.8], [1, 2, 2]);
    let labels = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, 2]), &device);
    let cams = t3(vec![1.0, 0.0, 0.0, 1.0], [1, 2, 2]);
    let cfg = PositionLossConfig { cross_class: Some(CrossClassNegative::default()), ..Default::default() };
    let out = position_contrastive_loss_with_cams(
        ga.clone(),
        gv,
        labels(vec![1.0, 0.0]),
        labels(vec![1.0, 1.0]),
        Some(cams),
        &cfg,
    )
    .unwrap();
    assert!(to_vec(out.loss.clone())[0] > 0.0);
    let grad = to_vec(ga.grad(&out.loss.backward()).unwrap());
    // d loss / d g_a[0, 0] · g_v[0, 1] > 0: descent moves g_a[0, 0] away from position 1.
    assert!(grad[0] * 0.6 + grad[1] * 0.8 > 0.0, "{grad:?}");
}

#[test]
fn defaults_are_the_documented_ones() {
    let cfg = PositionLossConfig::default();
    assert_eq!(cfg.score, PositionScore::Max);
    assert_eq!((cfg.temperature, cfg.anchor_threshold, cfg.negative_threshold), (0.07, 0.5, 0.5));
    assert_eq!(cfg.background_negative, None);
    let lvs = PositionLossConfig::lvs();
    assert_eq!(lvs.score, PositionScore::SoftTriMap { eps_pos: 0.65, soft: 0.03 });
    assert_eq!(lvs.background_negative, Some(BackgroundNegative { eps_neg: 0.4, soft: 0.03 }));
}
