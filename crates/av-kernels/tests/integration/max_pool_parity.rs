//! `av_kernels::max_pool2d_module` against Burn's own `MaxPool2d::forward` on flex: the same
//! values (exactly: a maximum is one of the inputs) and the same input gradient, on inputs
//! full of ties (a ReLU's zeros and coarse values), on a plain and an autodiff device; pools
//! the kernels do not take (dilation, ceil mode) go to Burn. Needs the `flex` feature.
#![cfg(feature = "flex")]

use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::{Device, Distribution, Tensor};

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32")
}

/// Coarse values after a ReLU: many exact ties, a third of them zero.
fn tied_input(shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::<4>::random(shape, Distribution::Uniform(-2.0, 5.0), device).round().clamp_min(0.0)
}

fn check(pool: &MaxPool2d, shape: [usize; 4]) {
    let plain = Device::flex();
    let x = tied_input(shape, &plain);
    assert_eq!(
        values(av_kernels::max_pool2d_module(pool, x.clone())),
        values(pool.forward(x.clone())),
        "{shape:?}: inference values"
    );

    let device = plain.autodiff();
    let x = Tensor::<4>::from_data(x.into_data(), &device).require_grad();
    let ours = av_kernels::max_pool2d_module(pool, x.clone());
    let theirs = pool.forward(x.clone());
    assert_eq!(values(ours.clone().inner()), values(theirs.clone().inner()), "{shape:?}: training values");
    let probe = Tensor::<4>::random(ours.dims(), Distribution::Default, &device);
    let g_ours = (ours * probe.clone()).sum().backward();
    let g_theirs = (theirs * probe).sum().backward();
    let dx_ours = values(x.grad(&g_ours).expect("dx"));
    let dx_theirs = values(x.grad(&g_theirs).expect("dx"));
    // Each input gathers the same output gradients; only the order of the sum may differ.
    let worst = dx_ours.iter().zip(&dx_theirs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "{shape:?}: input gradient differs by {worst}");
}

#[test]
fn max_pool_matches_burn_forward_and_gradient() {
    let resnet_stem = MaxPool2dConfig::new([3, 3])
        .with_strides([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init();
    check(&resnet_stem, [4, 8, 126, 32]);
    check(&resnet_stem, [2, 3, 9, 7]);
    check(&MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(), [2, 5, 8, 6]);
    check(&MaxPool2dConfig::new([3, 2]).with_strides([1, 3]).init(), [1, 2, 7, 11]);
    // Overlapping windows share inputs: the gradient of an input is a sum.
    check(
        &MaxPool2dConfig::new([3, 3])
            .with_strides([1, 1])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(),
        [2, 2, 6, 5],
    );
    // Not taken by the kernels: Burn computes them, with the same result as Burn.
    check(&MaxPool2dConfig::new([2, 2]).with_dilation([2, 2]).init(), [1, 2, 9, 9]);
    check(&MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_ceil_mode(true).init(), [1, 2, 8, 8]);
}
