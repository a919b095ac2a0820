//! Values and gradients against a PyTorch re-implementation of the official formulas
//! (`tools/reference/make_alignment_fixtures.py`, float64 reference stored as f32).
//! Tolerance: 1e-5 relative to the reference's scale (f32 arithmetic).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use av_alignment::{
    AlignmentLossConfig, PoolNormalization, alignment_loss, avc_all_pairs_loss, avc_pairs_loss,
    class_aware_pool, multilabel_bce,
};
use av_testkit::{Fixture, assert_close, to_vec};
use burn::tensor::{Device, Tensor};

/// The committed reference of `tests/fixtures/alignment.safetensors`.
fn fixture() -> Fixture {
    Fixture::load(env!("CARGO_MANIFEST_DIR"), "alignment")
}

const TOL: f32 = 1e-5;

fn ad() -> Device {
    Device::flex().autodiff()
}

fn unit(x: Tensor<3>) -> Tensor<3> {
    let norm = x.clone().powi_scalar(2).sum_dim(2).sqrt().clamp_min(1e-12);
    x / norm
}

#[test]
fn class_aware_pooling_matches_eq5_and_the_code_with_gradients() {
    let fx = fixture();
    let device = ad();
    let features = fx.tensor::<4>("pool.features", &device).require_grad();
    let weights = fx.tensor::<4>("pool.weights", &device);
    let pooled =
        class_aware_pool(features.clone(), weights.clone(), PoolNormalization::WeightedMean).unwrap();
    let code = class_aware_pool(features.clone().detach(), weights, PoolNormalization::OfficialCode).unwrap();
    assert_close("pool.sum", &to_vec(pooled.clone()), fx.values("pool.sum"), TOL);
    assert_close("pool.mean_code", &to_vec(code), fx.values("pool.mean_code"), TOL);
    // The zero-weight class (clip 1, class 2) gives exactly the zero vector.
    let v = to_vec(pooled.clone());
    assert!(v[(4 + 2) * 6..(4 + 3) * 6].iter().all(|&x| x == 0.0));
    let r = fx.tensor::<3>("pool.r", &device);
    let grads = (pooled * r).sum().backward();
    assert_close(
        "pool.grad_features",
        &to_vec(features.grad(&grads).unwrap()),
        fx.values("pool.grad_features"),
        TOL,
    );
}

#[test]
fn multilabel_bce_matches_bceloss() {
    let fx = fixture();
    let device = ad();
    let logits = fx.tensor::<2>("bce.logits", &device).require_grad();
    let loss = multilabel_bce(logits.clone(), fx.tensor("bce.labels", &device)).unwrap();
    assert_close("bce.loss", &to_vec(loss.clone()), fx.values("bce.loss"), TOL);
    let grads = loss.backward();
    assert_close("bce.grad", &to_vec(logits.grad(&grads).unwrap()), fx.values("bce.grad_logits"), TOL);
}

#[test]
fn avc_losses_match_the_balanced_and_the_pairwise_cross_entropy() {
    let fx = fixture();
    let device = ad();
    let logits = fx.tensor::<3>("avc.logits", &device).require_grad();
    let loss = avc_all_pairs_loss(logits.clone()).unwrap();
    assert_close("avc.loss", &to_vec(loss.clone()), fx.values("avc.loss"), TOL);
    let grads = loss.backward();
    assert_close("avc.grad", &to_vec(logits.grad(&grads).unwrap()), fx.values("avc.grad_logits"), TOL);

    let pos = fx.tensor::<2>("avc_pairs.pos", &device).require_grad();
    let neg = fx.tensor::<2>("avc_pairs.neg", &device).require_grad();
    let loss = avc_pairs_loss(pos.clone(), neg.clone()).unwrap();
    assert_close("avc_pairs.loss", &to_vec(loss.clone()), fx.values("avc_pairs.loss"), TOL);
    let grads = loss.backward();
    assert_close(
        "avc_pairs.grad_pos",
        &to_vec(pos.grad(&grads).unwrap()),
        fx.values("avc_pairs.grad_pos"),
        TOL,
    );
    assert_close(
        "avc_pairs.grad_neg",
        &to_vec(neg.grad(&grads).unwrap()),
        fx.values("avc_pairs.grad_neg"),
        TOL,
    );
}

/// Eq. 7 as MSSL `new/`: the embeddings are normalised here (as the projection head does) and
/// the gradient is compared with respect to the unit vectors g.
fn check_alignment(case: &str, config: AlignmentLossConfig, normalise: bool, abs_floor: f32) {
    let fx = fixture();
    let device = ad();
    let xa = fx.tensor::<3>(&format!("{case}.xa"), &device);
    let xv = fx.tensor::<3>(&format!("{case}.xv"), &device);
    let (ga, gv) = if normalise { (unit(xa), unit(xv)) } else { (xa, xv) };
    let ga = ga.detach().require_grad();
    let gv = gv.detach().require_grad();
    let out = alignment_loss(
        ga.clone(),
        gv.clone(),
        fx.tensor(&format!("{case}.logits_a"), &device),
        fx.tensor(&format!("{case}.logits_v"), &device),
        &config,
    )
    .unwrap();
    let loss = to_vec(out.loss.clone())[0];
    let want = fx.values(&format!("{case}.loss"))[0];
    assert!((loss - want).abs() <= TOL * want.abs().max(1.0) + abs_floor, "{case}.loss {loss} vs {want}");
    if let Some(p) = fx.try_get(&format!("{case}.pos")) {
        let got = to_vec(out.positive.clone())[0];
        assert!(
            (got - p.1[0]).abs() <= TOL * p.1[0].abs().max(1.0) + abs_floor,
            "{case}.pos {got} vs {}",
            p.1[0]
        );
        let n = fx.values(&format!("{case}.neg"))[0];
        let got = to_vec(out.negative.clone())[0];
        assert!((got - n).abs() <= TOL * n.abs().max(1.0) + abs_floor, "{case}.neg {got} vs {n}");
    }
    let grads = out.loss.backward();
    let suffix = if normalise { ("grad_ga", "grad_gv") } else { ("grad_xa", "grad_xv") };
    let tol = TOL.max(abs_floor);
    assert_close(
        &format!("{case}.{}", suffix.0),
        &to_vec(ga.grad(&grads).unwrap()),
        fx.values(&format!("{case}.{}", suffix.0)),
        tol,
    );
    assert_close(
        &format!("{case}.{}", suffix.1),
        &to_vec(gv.grad(&grads).unwrap()),
        fx.values(&format!("{case}.{}", suffix.1)),
        tol,
    );
}

#[test]
fn alignment_loss_matches_the_official_formula() {
    check_alignment("align", AlignmentLossConfig::mssl_new(), true, 0.0);
}

#[test]
fn alignment_loss_without_valid_classes_is_zero_with_zero_gradients() {
    check_alignment("align_novalid", AlignmentLossConfig::mssl_new(), true, 0.0);
}

#[test]
fn alignment_loss_is_finite_when_positives_coincide() {
    // D² = 0 on the positives: sqrt is guarded, the f32 positive term is ~1e-7 instead of 1e-16.
    check_alignment("align_dup", AlignmentLossConfig::mssl_new(), true, 2e-6);
}

#[test]
fn original_mean_squared_variant_matches() {
    check_alignment("align_orig", AlignmentLossConfig::original(), false, 0.0);
}
