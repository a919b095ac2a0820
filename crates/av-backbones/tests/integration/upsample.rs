//! The gather form of the U-Net's x2 bilinear upsampling (used on CubeCL backends, which have no
//! bilinear interpolate backward) equals Burn's `interpolate` on flex, forward and backward.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use av_backbones::upsample::{native_bilinear_backward, upsample2x_aligned, upsample2x_aligned_gather};
use av_testkit::max_rel_err;
use burn::tensor::{Device, Distribution, Tensor};

#[test]
fn gather_upsampling_matches_interpolate_forward_and_backward() {
    let device = Device::flex().autodiff();
    assert!(native_bilinear_backward(&device), "flex keeps Burn's interpolate");
    for shape in [[2, 3, 8, 8], [1, 2, 5, 7], [1, 1, 1, 4], [2, 4, 16, 2]] {
        let x = Tensor::<4>::random(shape, Distribution::Default, &device).require_grad();
        let native = upsample2x_aligned(x.clone());
        let gather = upsample2x_aligned_gather(x.clone());
        assert_eq!(gather.dims(), [shape[0], shape[1], 2 * shape[2], 2 * shape[3]]);
        let e = max_rel_err(gather.clone(), native.clone());
        assert!(e < 1e-6, "{shape:?} forward: {e}");
        let probe = Tensor::<4>::random(native.dims(), Distribution::Default, &device);
        let g_native = (native * probe.clone()).sum().backward();
        let g_gather = (gather * probe).sum().backward();
        let e = max_rel_err(x.grad(&g_gather).expect("grad"), x.grad(&g_native).expect("grad"));
        assert!(e < 1e-5, "{shape:?} backward: {e}");
    }
}
