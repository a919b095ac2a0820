//! `av_kernels::soft_masked_mean` (one fused operation with a hand-written backward) against
//! the same soft-masked mean written with ordinary Burn tensor operations (the body
//! `av-alignment`'s per-position loss used before, copied below) on flex: the forward value and
//! the gradient with respect to the similarities, within 1e-5 absolute, for both mask regimes
//! (plain sigmoid: soft 0.03 with eps 0.65 / 0.4; log domain: soft 0.001), the mask and its
//! complement, random similarities in [-1, 1], on a plain and an autodiff device; plus the f64
//! tensors that the fast path leaves to Burn's primitives. Needs the `flex` feature.
#![cfg(feature = "flex")]

use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::{Device, Distribution, FloatDType, Tensor};

/// Largest absolute difference allowed between the fused operation and the reference, for
/// values and gradients (both are in similarity units, `|s| <= 1`, weights summing to 1).
const TOL: f32 = 1e-5;

/// `SIGMOID_SAFE` of the reference (`av_kernels::masked_mean::SIGMOID_SAFE`).
const SIGMOID_SAFE: f32 = 80.0;

/// The reference: `soft_masked_mean` of `crates/av-alignment/src/position.rs` before it called
/// the fused operation, verbatim.
fn reference(sim: Tensor<3>, eps: f32, soft: f32, complement: bool) -> Tensor<2> {
    let [m, n, _] = sim.dims();
    let z = sim.clone().detach().sub_scalar(eps).div_scalar(soft);
    let z = if complement { z.neg() } else { z };
    let w = if (1.0 + eps.abs()) / soft <= SIGMOID_SAFE {
        let s = sigmoid(z.clamp(-SIGMOID_SAFE, SIGMOID_SAFE));
        s.clone() / s.max_dim(2)
    } else {
        let log_w = log_sigmoid(z);
        (log_w.clone() - log_w.max_dim(2)).exp()
    };
    ((sim * w.clone()).sum_dim(2) / w.sum_dim(2)).reshape([m, n])
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32")
}

fn worst(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, |w, d| if d.is_nan() { f32::NAN } else { w.max(d) })
}

/// The settings: both regimes, mask and complement.
const SETTINGS: [(f32, f32, bool); 6] = [
    (0.65, 0.03, false),
    (0.4, 0.03, true),
    (0.65, 0.001, false),
    (0.4, 0.001, true),
    (0.0, 0.3, false),
    (0.0, 0.3, true),
];

/// Forward on a plain and an autodiff device, and the gradient of `Σ out * probe`.
fn check(shape: [usize; 3], eps: f32, soft: f32, complement: bool) {
    let what = format!("{shape:?} eps {eps} soft {soft} complement {complement}");
    let plain = Device::flex();
    let sim = Tensor::<3>::random(shape, Distribution::Uniform(-1.0, 1.0), &plain);
    let fused = values(av_kernels::soft_masked_mean(sim.clone(), eps, soft, complement));
    let d = worst(&fused, &values(reference(sim.clone(), eps, soft, complement)));
    assert!(d < TOL, "{what}: inference value differs by {d}");

    let device = plain.autodiff();
    let sim = Tensor::<3>::from_data(sim.into_data(), &device).require_grad();
    let ours = av_kernels::soft_masked_mean(sim.clone(), eps, soft, complement);
    let theirs = reference(sim.clone(), eps, soft, complement);
    // The inner (non-autodiff) call and the tracked one compute the same sums.
    assert_eq!(values(ours.clone().inner()), fused, "{what}: training value != inference value");
    let d = worst(&values(ours.clone().inner()), &values(theirs.clone().inner()));
    assert!(d < TOL, "{what}: training value differs by {d}");

    // Away from 0, so that every row's largest weight gives a gradient of at least 0.5 / P.
    let probe = Tensor::<2>::random(ours.dims(), Distribution::Uniform(0.5, 1.5), &device);
    let g_ours = (ours * probe.clone()).sum().backward();
    let g_theirs = (theirs * probe).sum().backward();
    let ds_ours = values(sim.grad(&g_ours).expect("d sim"));
    let ds_theirs = values(sim.grad(&g_theirs).expect("d sim"));
    let d = worst(&ds_ours, &ds_theirs);
    assert!(d < TOL, "{what}: gradient differs by {d}");
    // A gradient of zeros would match a reference that is also wrong in the same way.
    assert!(ds_ours.iter().any(|g| g.abs() > 1e-3), "{what}: gradient is all (near) zero");
}

#[test]
fn fused_soft_masked_mean_matches_tensor_ops_forward_and_gradient() {
    for (eps, soft, complement) in SETTINGS {
        check([7, 5, 9], eps, soft, complement);
        check([1, 1, 1], eps, soft, complement);
        check([3, 1, 64], eps, soft, complement);
    }
}

/// The sizes of av-align's per-position loss: 240 anchor rows, 16 clips, 8 x 8 positions.
#[test]
fn fused_soft_masked_mean_matches_tensor_ops_at_training_size() {
    for (eps, soft, complement) in SETTINGS.into_iter().take(4) {
        check([240, 16, 64], eps, soft, complement);
    }
}

/// The mask and its complement weigh different positions: the outputs must differ (so the
/// parity checks above could not pass with the flag ignored).
#[test]
fn complement_changes_the_score() {
    let device = Device::flex();
    let sim = Tensor::<3>::random([4, 3, 16], Distribution::Uniform(-1.0, 1.0), &device);
    let fore = values(av_kernels::soft_masked_mean(sim.clone(), 0.4, 0.03, false));
    let back = values(av_kernels::soft_masked_mean(sim, 0.4, 0.03, true));
    assert!(fore.iter().zip(&back).all(|(f, b)| f > b), "{fore:?} vs {back:?}");
}

/// f64 similarities are not taken by the fast path: Burn's primitives compute them (the default
/// bodies that WGPU, CUDA and ndarray run), with the same values and gradient.
#[test]
fn burn_primitives_route_matches_the_reference() {
    let device = Device::flex().autodiff();
    for (eps, soft, complement) in SETTINGS {
        let sim = Tensor::<3>::random([5, 4, 11], Distribution::Uniform(-1.0, 1.0), &device)
            .cast(FloatDType::F64)
            .require_grad();
        let ours = av_kernels::soft_masked_mean(sim.clone(), eps, soft, complement);
        let theirs = reference(sim.clone(), eps, soft, complement);
        let d = worst(&values(ours.clone().inner()), &values(theirs.clone().inner()));
        assert!(d < TOL, "f64 eps {eps} soft {soft} {complement}: value differs by {d}");
        let probe = Tensor::<2>::random(ours.dims(), Distribution::Default, &device).cast(FloatDType::F64);
        let g_ours = (ours * probe.clone()).sum().backward();
        let g_theirs = (theirs * probe).sum().backward();
        let d =
            worst(&values(sim.grad(&g_ours).expect("d sim")), &values(sim.grad(&g_theirs).expect("d sim")));
        assert!(d < TOL, "f64 eps {eps} soft {soft} {complement}: gradient differs by {d}");
    }
}

/// Without positions the mean is undefined: NaN, not a panic.
#[test]
fn no_positions_give_nan() {
    let sim = Tensor::<3>::zeros([2, 3, 0], &Device::flex());
    let out = values(av_kernels::soft_masked_mean(sim, 0.4, 0.03, false));
    assert_eq!(out.len(), 6);
    assert!(out.iter().all(|v| v.is_nan()));
}
