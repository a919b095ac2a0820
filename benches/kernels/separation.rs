//! Separation benchmarks on every CPU backend compiled in: one 6-second mixture (65 535 samples
//! at 11 025 Hz), one source, end to end (STFT, warp, U-Net, synthesizer, unwarp, iSTFT) with
//! the streamed preset's network (U-Net-7, ngf 8, K 16, ratio masks; issue 23 asks for at most
//! 100 ms); and one training step of that preset (batch 8 mixtures of 2 sources, forward +
//! backward + Adam, tensors prepared beforehand); and the shipped audio-guided model end to end
//! (its MUSIC-11 guide's forward pass on the frame and the mixture, the projection, then the
//! same separation).

use std::hint::black_box;
use std::time::Duration;

use av_align::separation::{
    Guidance, MaskKind, MixConfig, Mixer, SeparationBatch, SeparationNetConfig, forward_loss, separate,
};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use criterion::{BatchSize, Criterion, Throughput};

use crate::backbones::cpu_devices;

/// A two-tone test signal of `len` samples.
fn tone(f0: f32, len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| {
            let t = n as f32 / 11_025.0;
            (1..5).map(|h| (std::f32::consts::TAU * f0 * h as f32 * t).sin() / h as f32).sum::<f32>() * 0.2
        })
        .collect()
}

fn one_hot(batch: usize, k: usize, class: usize, device: &Device) -> Guidance {
    let mut v = vec![0.0f32; batch * k];
    for b in 0..batch {
        v[b * k + class] = 1.0;
    }
    Guidance::Vector(Tensor::from_data(burn::tensor::TensorData::new(v, [batch, k]), device))
}

/// Registers the separation benchmarks.
pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("separation");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(10));
    let config = SeparationNetConfig::compact().with_channels(16).with_mask(MaskKind::Ratio);
    let mixer = Mixer::new(MixConfig::sound_of_pixels().with_mask(MaskKind::Ratio)).expect("mixer");
    let len = mixer.config().clip_len;
    let (a, b) = (tone(220.0, len), tone(1250.0, len));
    let mixture: Vec<f32> = a.iter().zip(&b).map(|(x, y)| 0.5 * (x + y)).collect();
    for (name, device) in cpu_devices() {
        let net = config.init(&device).expect("net");
        let guidance = [one_hot(1, 16, 3, &device)];
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{name}/one_source_6s_mixture_stream_preset"), |bench| {
            bench.iter(|| {
                black_box(separate(&net, &mixer, &mixture, 11_025, &guidance, &device).expect("separate"))
            })
        });

        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/checkpoints/separation_audio_guided");
        let guided =
            av_align::inference::SeparationModel::from_dir_on(shipped, &device).expect("guided model");
        let frame =
            image::RgbImage::from_fn(256, 256, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        group.bench_function(format!("{name}/one_source_6s_mixture_audio_guided_shipped"), |bench| {
            bench.iter(|| black_box(guided.separate_guided(&mixture, &frame, 3).expect("separate")))
        });

        let ad = device.clone().autodiff();
        let example = mixer.mix(&[a.clone(), b.clone()], 11_025).expect("mix");
        let examples: Vec<_> = (0..8).map(|_| &example).collect();
        let batch = SeparationBatch::from_examples(&examples, &ad).expect("batch");
        let guidance = [one_hot(8, 16, 3, &ad), one_hot(8, 16, 5, &ad)];
        let mut optim = AdamConfig::new().init();
        let mut model = Some(config.init(&device).expect("net").fork(&ad).train());
        group.throughput(Throughput::Elements(8));
        group.bench_function(format!("{name}/stream_preset_train_step_batch8"), |bench| {
            bench.iter_batched(
                || (),
                |()| {
                    let m = model.take().expect("model");
                    let out = forward_loss(&m, &batch, &guidance).expect("loss");
                    let grads = GradientsParams::from_grads(out.loss.backward(), &m);
                    model = Some(optim.step(1e-3, m, grads));
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}
