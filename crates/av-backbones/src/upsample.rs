//! x2 bilinear upsampling with aligned corners (PyTorch `nn.Upsample(scale_factor=2,
//! mode='bilinear', align_corners=True)`), the U-Net's up path, on every backend.
//!
//! Burn 0.22.1's CubeCL backends (wgpu, CUDA, ...) implement bilinear `interpolate` forward but
//! not its backward ("Bilinear interpolation backward is not supported by JIT backend", a
//! panic), so a U-Net could not be trained there. [`upsample2x_aligned`] therefore computes the
//! same map from two gathers and a blend per axis (`select`, whose backward every backend has)
//! on those backends, and keeps Burn's `interpolate` on the CPU backends, where it is one pass.

use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Whether Burn's bilinear `interpolate` has a backward on `device` (the CPU backends: Flex,
/// NdArray, LibTorch); CubeCL devices do not.
pub fn native_bilinear_backward(device: &Device) -> bool {
    let name = format!("{:?}", device.clone().without_autodiff());
    ["Flex", "NdArray", "LibTorch"].iter().any(|b| name.contains(b))
}

/// `[N, C, H, W]` -> `[N, C, 2H, 2W]`, bilinear with aligned corners.
pub fn upsample2x_aligned(x: Tensor<4>) -> Tensor<4> {
    if native_bilinear_backward(&x.device()) {
        let options = InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(true)
            .with_scale_factor([2.0, 2.0]);
        return interpolate(x, options);
    }
    upsample2x_aligned_gather(x)
}

/// [`upsample2x_aligned`] from gathers and blends only (any backend).
pub fn upsample2x_aligned_gather(x: Tensor<4>) -> Tensor<4> {
    let x = blend_axis(x, 2);
    blend_axis(x, 3)
}

/// Doubles axis `dim` (2 or 3): output `o` reads source position `o (n - 1) / (2n - 1)`.
fn blend_axis(x: Tensor<4>, dim: usize) -> Tensor<4> {
    let device = x.device();
    let n = x.dims()[dim];
    let out = 2 * n;
    let (mut lo, mut hi, mut w) = (Vec::with_capacity(out), Vec::with_capacity(out), Vec::with_capacity(out));
    for o in 0..out {
        let src = if out > 1 { o as f64 * (n - 1) as f64 / (out - 1) as f64 } else { 0.0 };
        let i0 = (src.floor() as usize).min(n - 1);
        lo.push(i0 as i64);
        hi.push((i0 + 1).min(n - 1) as i64);
        w.push((src - i0 as f64) as f32);
    }
    let index = |v: Vec<i64>| Tensor::<1, Int>::from_data(TensorData::new(v, [out]), &device);
    let mut shape = [1usize; 4];
    shape[dim] = out;
    let w = Tensor::<1>::from_data(TensorData::new(w, [out]), &device).reshape(shape);
    let a = x.clone().select(dim, index(lo));
    let b = x.select(dim, index(hi));
    a.clone().add(b.sub(a).mul(w))
}
