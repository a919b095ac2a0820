//! av-kernels through Burn (the extension's routing, the autodiff backward) against Burn's own
//! flex convolution: outputs and the gradients of input, weight and bias, plus the cases that
//! must fall back to Burn (groups other than depthwise, `Same` padding, asymmetric padding). Needs the `flex`
//! feature (on in `cargo test --workspace` through the facade's default features).
#![cfg(feature = "flex")]

use av_testkit::max_rel_err;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Distribution, Tensor};

#[allow(clippy::too_many_arguments)]
fn conv(
    c: [usize; 2],
    k: usize,
    s: usize,
    pad: PaddingConfig2d,
    d: usize,
    groups: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(c, [k, k])
        .with_stride([s, s])
        .with_padding(pad)
        .with_dilation([d, d])
        .with_groups(groups)
        .with_bias(bias)
        .init(device)
}

fn cases() -> Vec<(Conv2d, [usize; 4])> {
    let device = Device::flex().autodiff();
    let e = |p| PaddingConfig2d::Explicit(p, p, p, p);
    vec![
        (conv([3, 8], 7, 2, e(3), 1, 1, false, &device), [2, 3, 33, 30]),
        (conv([8, 16], 3, 1, e(1), 1, 1, true, &device), [4, 8, 12, 12]),
        (conv([8, 16], 3, 2, e(1), 1, 1, false, &device), [3, 8, 13, 11]),
        (conv([16, 8], 1, 1, e(0), 1, 1, true, &device), [2, 16, 9, 9]),
        (conv([16, 8], 1, 2, e(0), 1, 1, false, &device), [1, 16, 9, 9]),
        (conv([4, 6], 3, 1, e(2), 2, 1, false, &device), [2, 4, 10, 10]),
        (conv([4, 6], 3, 1, PaddingConfig2d::Valid, 1, 1, true, &device), [2, 4, 10, 10]),
        // Depthwise (groups = channels; the forward pass by Burn, the gradients by av-kernels):
        // EfficientNet's 3x3 and 5x5 layers at stride 1 and 2.
        (conv([16, 16], 3, 1, e(1), 1, 16, false, &device), [2, 16, 12, 12]),
        (conv([8, 8], 3, 2, e(0), 1, 8, true, &device), [3, 8, 13, 11]),
        (conv([6, 6], 5, 2, e(2), 1, 6, false, &device), [2, 6, 15, 16]),
        (conv([5, 5], 5, 1, e(2), 2, 5, true, &device), [1, 5, 14, 14]),
        // Fallbacks to Burn: other groups, `Same`, asymmetric padding.
        (conv([4, 6], 3, 1, e(1), 1, 2, false, &device), [2, 4, 8, 8]),
        (conv([4, 6], 3, 1, PaddingConfig2d::Same, 1, 1, false, &device), [2, 4, 8, 8]),
        (conv([4, 6], 3, 1, PaddingConfig2d::Explicit(1, 0, 2, 1), 1, 1, false, &device), [2, 4, 8, 8]),
    ]
}

#[test]
fn forward_and_gradients_match_burn_flex() {
    for (m, shape) in cases() {
        let device = m.weight.device();
        let x = Tensor::<4>::random(shape, Distribution::Default, &device).require_grad();
        let probe = Tensor::<4>::random(m.forward(x.clone()).dims(), Distribution::Default, &device);

        let ours = av_kernels::conv2d_module(&m, x.clone());
        let theirs = m.forward(x.clone());
        assert_eq!(ours.dims(), theirs.dims());
        let fwd = max_rel_err(ours.clone().inner(), theirs.clone().inner());
        assert!(fwd < 1e-5, "{shape:?} {:?}: forward rel err {fwd}", m.weight.dims());

        let g_ours = (ours * probe.clone()).sum().backward();
        let g_theirs = (theirs * probe).sum().backward();
        let dx = max_rel_err(x.grad(&g_ours).expect("dx"), x.grad(&g_theirs).expect("dx"));
        let dw = max_rel_err(m.weight.grad(&g_ours).expect("dw"), m.weight.grad(&g_theirs).expect("dw"));
        assert!(dx < 1e-5 && dw < 1e-5, "{shape:?}: dx {dx}, dw {dw}");
        if let Some(b) = &m.bias {
            let db = max_rel_err(b.grad(&g_ours).expect("db"), b.grad(&g_theirs).expect("db"));
            assert!(db < 1e-5, "{shape:?}: db {db}");
        }
    }
}

/// A frozen input (no `require_grad`) still gives the weight gradient, and a frozen weight the
/// input gradient; on a plain (non-autodiff) device the op runs forward only.
#[test]
fn untracked_inputs_and_inference() {
    let device = Device::flex().autodiff();
    let m = conv([3, 4], 3, 1, PaddingConfig2d::Explicit(1, 1, 1, 1), 1, 1, false, &device);
    let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Default, &device);
    let grads = av_kernels::conv2d_module(&m, x.clone()).sum().backward();
    let want = m.forward(x).sum().backward();
    let dw = max_rel_err(m.weight.grad(&grads).expect("dw"), m.weight.grad(&want).expect("dw"));
    assert!(dw < 1e-5, "dw {dw}");

    let plain = Device::flex();
    let m = conv([3, 4], 3, 2, PaddingConfig2d::Explicit(1, 1, 1, 1), 1, 1, true, &plain);
    let x = Tensor::<4>::random([1, 3, 9, 9], Distribution::Default, &plain);
    let err = max_rel_err(av_kernels::conv2d_module(&m, x.clone()), m.forward(x));
    assert!(err < 1e-5, "inference rel err {err}");
}
