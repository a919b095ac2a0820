//! Convolution kernels alone: Burn flex's `conv2d` against av-kernels' (`av_kernels::conv2d`)
//! on the ResNet-18 layer shapes of the stage-2 step at batch 16 (256x256 frames, MSSL's
//! stride-1 `layer4`) and on depthwise layers of the pretrained visual trunk, forward, and forward + backward (input and weight gradients) on the
//! autodiff device. Ids: `conv/flex/{burn,av}/{layer}/{fwd,fwd_bwd}`; the throughput is in
//! multiply-accumulates x 2 (FLOP) of the forward (x3 for forward + backward).
// Without flex (a GPU-only build) nothing here is registered.
#![cfg_attr(not(feature = "flex"), allow(unused))]

use std::hint::black_box;
use std::time::Duration;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, Throughput};

/// (name, in, out, kernel, stride, pad, input size) at batch 16; `compact_` is the compact
/// preset's stem (width 8), where the lowering rather than the GEMM is the cost.
const LAYERS: [(&str, usize, usize, usize, usize, usize, usize); 7] = [
    ("stem_7x7_3to64_256", 3, 64, 7, 2, 3, 256),
    ("compact_stem_7x7_3to8_256", 3, 8, 7, 2, 3, 256),
    ("layer1_3x3_64_64", 64, 64, 3, 1, 1, 64),
    ("layer2_3x3_128_32", 128, 128, 3, 1, 1, 32),
    ("layer3_3x3_256_16", 256, 256, 3, 1, 1, 16),
    ("layer4_3x3_512_16", 512, 512, 3, 1, 1, 16),
    ("layer4_down_1x1_256to512_16", 256, 512, 1, 1, 0, 16),
];

/// (name, channels, kernel, stride, pad, input size) at batch 16: depthwise layers of the
/// pretrained visual trunk (EfficientNet-Lite0) on 256x256 frames; the stride-2 ones are padded
/// explicitly before the convolution (TensorFlow "same"), so they run unpadded here.
const DEPTHWISE: [(&str, usize, usize, usize, usize, usize); 5] = [
    ("dw_3x3_32_128", 32, 3, 1, 1, 128),
    ("dw_3x3_96_s2_129", 96, 3, 2, 0, 129),
    ("dw_5x5_144_s2_67", 144, 5, 2, 0, 67),
    ("dw_5x5_240_32", 240, 5, 1, 2, 32),
    ("dw_3x3_480_16", 480, 3, 1, 1, 16),
];

fn grouped_conv(
    inp: usize,
    out: usize,
    k: usize,
    s: usize,
    p: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([inp, out], [k, k])
        .with_groups(groups)
        .with_stride([s, s])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(false)
        .init(device)
}

/// Registers the convolution benchmarks (flex only).
pub fn benches(c: &mut Criterion) {
    #[cfg(feature = "flex")]
    {
        let mut group = c.benchmark_group("conv");
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(6));
        let device = Device::flex();
        let ad = device.clone().autodiff();
        let n = 16;
        let layers = LAYERS.iter().map(|&(name, inp, out, k, s, p, size)| (name, inp, out, k, s, p, size, 1));
        let depthwise = DEPTHWISE.iter().map(|&(name, c, k, s, p, size)| (name, c, c, k, s, p, size, c));
        for (name, inp, out, k, s, p, size, groups) in layers.chain(depthwise) {
            let o = (size + 2 * p - k) / s + 1;
            let flop = 2 * n * out * o * o * (inp / groups) * k * k;
            for (imp, fast) in [("burn", false), ("av", true)] {
                let run = |m: &Conv2d, x: Tensor<4>| {
                    if fast { av_kernels::conv2d_module(m, x) } else { m.forward(x) }
                };
                let m = grouped_conv(inp, out, k, s, p, groups, &device);
                let x = Tensor::<4>::random([n, inp, size, size], Distribution::Default, &device);
                group.throughput(Throughput::Elements(flop as u64));
                group.bench_function(format!("flex/{imp}/{name}/fwd"), |b| {
                    b.iter(|| black_box(run(&m, x.clone()).into_data()))
                });
                let m = grouped_conv(inp, out, k, s, p, groups, &ad);
                let x = Tensor::<4>::random([n, inp, size, size], Distribution::Default, &ad).require_grad();
                group.throughput(Throughput::Elements(3 * flop as u64));
                group.bench_function(format!("flex/{imp}/{name}/fwd_bwd"), |b| {
                    b.iter(|| {
                        let grads = run(&m, x.clone()).sum().backward();
                        black_box((
                            x.grad(&grads).map(|g| g.into_data()),
                            m.weight.grad(&grads).map(|g| g.into_data()),
                        ))
                    })
                });
            }
        }
        group.finish();
    }
    #[cfg(not(feature = "flex"))]
    let _ = c;
}
