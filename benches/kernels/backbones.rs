//! Backbone benchmarks on every CPU backend compiled in (`flex` always; `ndarray` with
//! `--features ndarray`): ResNet-18 with MSSL's stride-1 `layer4` on 8 x 3 x 256 x 256 frames
//! (forward, and forward + backward on the autodiff device) and the audio trunk on
//! 8 x 1 x 251 x 64 log-mels (forward), and the pretrained visual trunk (EfficientNet-Lite0,
//! 12 blocks) on 16 x 3 x 256 x 256 frames (forward).
//!
//! FLOP counts (2 x multiply-accumulates of the convolutions, from the layer shapes): visual
//! trunk 3.979 GMAC per 256 x 256 frame = 63.7 GFLOP per forward of batch 8 (backward ~2x
//! that); audio trunk 0.966 GMAC per clip = 15.5 GFLOP per batch of 8.

use std::hint::black_box;
use std::time::Duration;

use av_align::backbones::{EfficientNetLiteConfig, ResNetConfig, global_avg_pool};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, Throughput};

/// The CPU backends compiled into this bench, with their names for the bench ids.
#[allow(clippy::vec_init_then_push)]
pub(crate) fn cpu_devices() -> Vec<(&'static str, Device)> {
    #[allow(unused_mut)]
    let mut devices = Vec::new();
    #[cfg(feature = "flex")]
    devices.push(("flex", Device::flex()));
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    devices.push(("ndarray", Device::ndarray()));
    devices
}

/// Registers the backbone benchmarks.
pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("backbones");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(20));
    for (name, device) in cpu_devices() {
        let visual = ResNetConfig::visual().init(&device);
        let frames = Tensor::<4>::random([8, 3, 256, 256], Distribution::Default, &device);
        group.throughput(Throughput::Elements(8));
        group.bench_function(format!("{name}/resnet18_s1_forward_8x3x256x256"), |b| {
            b.iter(|| black_box(visual.forward(frames.clone()).layer4.into_data()))
        });

        let ad = device.clone().autodiff();
        let visual_ad = ResNetConfig::visual().init(&ad);
        let frames_ad = Tensor::<4>::random([8, 3, 256, 256], Distribution::Default, &ad);
        group.bench_function(format!("{name}/resnet18_s1_forward_backward_8x3x256x256"), |b| {
            b.iter(|| {
                let loss = global_avg_pool(visual_ad.forward(frames_ad.clone()).layer4).sum();
                black_box(loss.backward())
            })
        });

        // The pretrained visual trunk as the shipped model runs it: EfficientNet-Lite0's first
        // 12 blocks, frozen (forward only), batch 16 at 256x256 (random weights: same work).
        let trunk = EfficientNetLiteConfig { blocks: 12, width_divisor: 1 }.init(&device);
        let frames16 = Tensor::<4>::random([16, 3, 256, 256], Distribution::Default, &device);
        group.throughput(Throughput::Elements(16));
        group.bench_function(format!("{name}/efficientnet_lite0_12_blocks_forward_16x3x256x256"), |b| {
            b.iter(|| black_box(trunk.forward(frames16.clone()).into_data()))
        });
        group.throughput(Throughput::Elements(8));

        let audio = ResNetConfig::audio().init(&device);
        let mels = Tensor::<4>::random([8, 1, 251, 64], Distribution::Default, &device);
        group.bench_function(format!("{name}/resnet18_audio_forward_8x1x251x64"), |b| {
            b.iter(|| black_box(audio.forward(mels.clone()).layer4.into_data()))
        });
    }
    group.finish();
}
