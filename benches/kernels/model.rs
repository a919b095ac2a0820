//! The coarse-to-fine model end to end: the MSSL `new/` stage-2 training step at batch 16
//! (256x256 frames, 251x64 log-mels, 7 classes, SGD momentum 0.9 + weight decay) and the
//! localization of one image + clip (both trunks, Eq. 8, upsampling to 256x256, class mixing),
//! the same work as `tools/peers/mssl_new_step.py` does in PyTorch. The compact preset's step is
//! timed too.

use std::hint::black_box;
use std::time::Duration;

use av_align::model::{AvModelConfig, Batch, LocalizeConfig, ObjectiveConfig, Stage};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, Throughput};

fn batch(n: usize, classes: usize, device: &Device) -> Batch {
    Batch {
        frames: Tensor::random([n, 3, 256, 256], Distribution::Default, device),
        logmels: Tensor::random([n, 1, 251, 64], Distribution::Default, device),
        labels_a: Tensor::random([n, classes], Distribution::Uniform(0.0, 1.0), device),
        labels_v: Tensor::random([n, classes], Distribution::Uniform(0.0, 1.0), device),
    }
}

fn step_bench(c: &mut Criterion, group_name: &str, config: AvModelConfig, device: &Device) {
    let objective = ObjectiveConfig { stage: Stage::Two, ..ObjectiveConfig::default() };
    step_bench_with(c, group_name, config, objective, device);
}

/// The model and stage-2 objective of a localization plan in `tools/plans/`: `broad_pretrained_best`
/// (frozen EfficientNet-Lite0 trunk behind a trunk cache, 1x1 neck, compact audio ResNet, 15
/// classes, the per-position term; the shipped localizer's plan until 2026-12-08) or
/// `broad_pretrained_best_neck_timgm` (the same with a two-layer neck: the shipped plan since).
fn localization_plan(name: &str) -> (AvModelConfig, ObjectiveConfig) {
    #[derive(serde::Deserialize)]
    struct Stage2 {
        objective: ObjectiveConfig,
    }
    #[derive(serde::Deserialize)]
    struct Plan {
        model: AvModelConfig,
        stage2: Stage2,
    }
    let path = format!("{}/tools/plans/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("a plan of tools/plans");
    let plan: Plan = serde_json::from_str(&text).expect("a valid plan");
    (plan.model, plan.stage2.objective)
}

fn step_bench_with(
    c: &mut Criterion,
    group_name: &str,
    config: AvModelConfig,
    objective: ObjectiveConfig,
    device: &Device,
) {
    let mut group = c.benchmark_group("model");
    group.sample_size(10).warm_up_time(Duration::from_secs(5)).measurement_time(Duration::from_secs(40));
    group.throughput(Throughput::Elements(16));
    // Built on the first call, so a filtered-out bench costs nothing and a profile of one
    // bench (`--profile-time`) holds its steps, not the others' set-up.
    let mut state = None;
    group.bench_function(group_name, |bencher| {
        let (ad, model, b, optim) = state.get_or_insert_with(|| {
            let ad = device.clone().autodiff();
            let model = Some(config.init(&ad).expect("valid config"));
            let b = batch(16, config.num_classes, &ad);
            let optim = SgdConfig::new()
                .with_momentum(Some(MomentumConfig::new().with_momentum(0.9).with_dampening(0.0)))
                .with_weight_decay(Some(WeightDecayConfig::new(5e-4)))
                .init();
            (ad, model, b, optim)
        });
        bencher.iter(|| {
            let m = model.take().expect("model");
            let (loss, _) = m.objective(b, &objective).expect("objective");
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            *model = Some(black_box(optim.step(1e-4, m, grads)));
            // Accelerators run asynchronously: wait for the step to finish inside the timing.
            ad.sync().expect("device sync");
        })
    });
    group.finish();
}

/// The shipped plan's per-position term alone (LVS tri-map positive and background negative),
/// forward and backward at the step's shapes: 16 clips, 15 classes, 64-d unit embeddings, 8x8
/// positions (`[240, 16, 64]` similarities).
fn position_loss_bench(c: &mut Criterion, label: &str, objective: ObjectiveConfig, device: &Device) {
    use av_align::alignment::position_contrastive_loss;
    let Some(config) = objective.position else { return };
    let ad = device.clone().autodiff();
    let unit = |dims: [usize; 3]| {
        let t = Tensor::<3>::random(dims, Distribution::Normal(0.0, 1.0), &ad);
        let norm = t.clone().powf_scalar(2.0).sum_dim(2).sqrt();
        (t / norm).detach().require_grad()
    };
    let (g_a, g_v) = (unit([16, 15, 64]), unit([16, 64, 64]));
    let labels = |p: f64| Tensor::<2>::random([16, 15], Distribution::Bernoulli(p), &ad);
    let (labels_a, labels_v) = (labels(0.15), labels(0.2));
    let mut group = c.benchmark_group("model");
    group.sample_size(20).warm_up_time(Duration::from_secs(3)).measurement_time(Duration::from_secs(10));
    group.bench_function(format!("{label}/position_loss_shipped_b16"), |bencher| {
        bencher.iter(|| {
            let loss = position_contrastive_loss(
                g_a.clone(),
                g_v.clone(),
                labels_a.clone(),
                labels_v.clone(),
                &config,
            )
            .expect("valid inputs")
            .loss;
            let grads = loss.backward();
            black_box(g_v.grad(&grads).map(|g| g.into_data()))
        })
    });
    group.finish();
}

/// Localization of one image + clip end to end from decoded data: a 5-s mono clip at 22 050 Hz
/// and a 320x240 RGB frame (what `symphonia` / `image` hand over) go through the paper log-mel,
/// the reference bilinear resize to 256x256, ImageNet normalisation, both trunks, Eq. 8 maps,
/// bilinear upsampling to 256x256 and class mixing.
fn localize_bench(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    label: &str,
    name: &str,
    config: AvModelConfig,
    device: &Device,
) {
    use av_align::audio::{LogMelConfig, LogMelExtractor};
    use av_align::data::image_io::resize_bilinear;
    use av_align::preprocess::{frame_tensor, logmel_tensor};

    let model = config.init(device).expect("valid config");
    let extractor = LogMelExtractor::new(LogMelConfig::paper()).expect("paper log-mel");
    let mut state = 0x2545_f491_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let wave: Vec<f32> = (0..5 * 22_050).map(|_| (next() as f32 / u32::MAX as f32 - 0.5) * 0.2).collect();
    let image = image::RgbImage::from_fn(320, 240, |_, _| {
        let v = next().to_le_bytes();
        image::Rgb([v[0], v[1], v[2]])
    });
    let options = LocalizeConfig { output_size: Some([256, 256]), ..LocalizeConfig::default() };
    group.bench_function(format!("{label}/localize_{name}_e2e_5s_320x240"), |bencher| {
        bencher.iter(|| {
            let logmel = extractor.compute(&wave).expect("log-mel");
            let frame = frame_tensor(&resize_bilinear(&image, 256, 256), device);
            let mel = logmel_tensor(&logmel, device).expect("finite log-mel");
            let f = model.features(frame, mel).expect("features");
            black_box(model.localize(&f, &options).expect("localize").agnostic.into_data())
        })
    });
}

/// The device the model benchmarks run on and its label in the bench ids: `AV_ALIGN_DEVICE`
/// when set (e.g. `cuda`, `wgpu`), else the most capable compiled backend (flex in a default
/// build). `None` when no backend is compiled in.
fn bench_device() -> Option<(&'static str, Device)> {
    use av_align::device::{DEVICE_ENV_VAR, DeviceRequest};
    let request = match std::env::var(DEVICE_ENV_VAR) {
        Ok(value) if !value.trim().is_empty() => {
            DeviceRequest::parse(&value).unwrap_or_else(|e| panic!("{DEVICE_ENV_VAR}: {e}"))
        }
        _ => DeviceRequest::best_compiled().ok()?,
    };
    let device = request.create().unwrap_or_else(|e| panic!("{DEVICE_ENV_VAR}: {e}"));
    Some((request.feature(), device))
}

/// Registers the model benchmarks on the device [`bench_device`] picks (flex by default: the
/// peer comparison is on the CPU; `AV_ALIGN_DEVICE=cuda` or `wgpu` times the same work on a GPU).
pub fn benches(c: &mut Criterion) {
    let Some((label, device)) = bench_device() else { return };
    step_bench(c, &format!("{label}/stage2_step_paper_b16"), AvModelConfig::paper(7), &device);
    step_bench(c, &format!("{label}/stage2_step_compact_b16"), AvModelConfig::compact(7), &device);
    // The preset the shipped localizer trains (random trunk weights: the same work). The frames
    // are the same every step, so after the warm-up every step reads the trunk cache, as
    // training does from its second epoch on; the `_nopos` variant leaves out the per-position
    // term, which is the work `tools/peers/pretrained_step.py` does in PyTorch.
    let (shipped, objective) = localization_plan("broad_pretrained_best");
    step_bench_with(c, &format!("{label}/stage2_step_shipped_b16"), shipped.clone(), objective, &device);
    let nopos = ObjectiveConfig { position: None, ..objective };
    step_bench_with(c, &format!("{label}/stage2_step_shipped_nopos_b16"), shipped, nopos, &device);
    let (neck, neck_objective) = localization_plan("broad_pretrained_best_neck_timgm");
    step_bench_with(c, &format!("{label}/stage2_step_shipped_neck_b16"), neck, neck_objective, &device);
    position_loss_bench(c, label, objective, &device);

    let mut group = c.benchmark_group("model");
    group.sample_size(20).warm_up_time(Duration::from_secs(3)).measurement_time(Duration::from_secs(15));
    for (name, config) in [("paper", AvModelConfig::paper(7)), ("compact", AvModelConfig::compact(7))] {
        localize_bench(&mut group, label, name, config, &device);
    }
    group.finish();
}

/// The data pipeline alone: reading a SoundNet-Flickr training layout (JPEG decode + resize,
/// WAV decode + 5-s log-mel, labels; parallel over the pairs) and assembling a batch of 16
/// (ImageNet normalisation, flips, tensors) on the CPU device.
pub fn loader_benches(c: &mut Criterion) {
    use std::sync::Arc;

    use av_align::data::Split;
    use av_align::data::bench::{AssetPack, BenchConfig, DatasetWriter, Generator, Layout, WriteOptions};
    use av_align::train::load_flickr_train;

    let root = std::env::temp_dir().join(format!("av-align-loader-bench-{}", std::process::id()));
    let generator =
        Generator::new(Arc::new(AssetPack::load_default().expect("assets")), BenchConfig::localization(3))
            .expect("generator");
    let writer =
        DatasetWriter::new(&root, Layout::Flickr, generator.config().clone(), WriteOptions::default())
            .expect("writer");
    let scenes = generator.scenes(Split::Train, 0..64).expect("scenes");
    let records = scenes.iter().map(|s| writer.write_scene(s)).collect::<Result<Vec<_>, _>>().expect("write");
    writer.finish(records, generator.assets().fingerprint()).expect("finish");

    let mut group = c.benchmark_group("loader");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(64));
    group.bench_function("cpu/flickr_train_layout_64_pairs_256px", |b| {
        b.iter(|| black_box(load_flickr_train(&root.join("train"), 256).expect("load").0.len()))
    });
    // The streaming path training uses with `--stream`: one epoch of 4 batches of 16, each batch
    // decoded from disk by the background worker (depth 2) while the caller moves the previous
    // one to the device.
    if let Some((label, device)) = bench_device() {
        use av_align::train::StreamingFlickr;
        use av_align::train::{BatchPlan, with_prefetch};
        let (stream, _) = StreamingFlickr::open(&root.join("train"), 256).expect("open");
        let plan = || -> Vec<BatchPlan> {
            (0..4).map(|b| BatchPlan::new((b * 16..b * 16 + 16).collect(), vec![b % 2 == 0; 16])).collect()
        };
        group.throughput(Throughput::Elements(64));
        for depth in [0usize, 2] {
            group.bench_function(format!("{label}/streaming_epoch_64_pairs_256px_prefetch{depth}"), |b| {
                b.iter(|| {
                    with_prefetch(&stream, plan(), depth, |batches| {
                        let mut n = 0;
                        for batch in batches {
                            n += black_box(batch.expect("batch").into_device(&device).frames.dims()[0]);
                        }
                        n
                    })
                })
            });
        }
    }
    // One stage-2 epoch of the compact model (4 steps of 16) on the streaming source: with
    // prefetch 0 every batch is decoded on the training thread between steps, with 2 the worker
    // decodes the next batches while the step runs (on 2 cores they compete for the same cores).
    if let Some((label, device)) = bench_device() {
        use av_align::train::StreamingFlickr;
        use av_align::train::{BatchSource, TrainConfig, Trainer};
        let (stream, _) = StreamingFlickr::open(&root.join("train"), 256).expect("open");
        let model_cfg = AvModelConfig::compact(stream.num_classes());
        let init = model_cfg.init(&device).expect("model");
        let cfg = TrainConfig { epochs: 1, batch_size: 16, ..TrainConfig::mssl_new(Stage::Two) };
        group.throughput(Throughput::Elements(64));
        for depth in [0usize, 2] {
            let run = root.join(format!("run-{depth}"));
            group.bench_function(
                format!("{label}/stage2_compact_epoch_streaming_64_pairs_prefetch{depth}"),
                |b| {
                    b.iter(|| {
                        let _ = std::fs::remove_dir_all(&run);
                        let out = Trainer::new(cfg.clone(), &run)
                            .expect("trainer")
                            .with_resume(false)
                            .with_prefetch(depth)
                            .fit(init.clone(), &model_cfg, &stream, &device)
                            .expect("fit");
                        black_box(out.history.len())
                    })
                },
            );
        }
    }
    if let Some((label, device)) = bench_device() {
        let (data, _) = load_flickr_train(&root.join("train"), 256).expect("load");
        let idx: Vec<usize> = (0..16).collect();
        let flips = vec![true; 16];
        group.throughput(Throughput::Elements(16));
        group.bench_function(format!("{label}/batch_assembly_16x256"), |b| {
            b.iter(|| black_box(data.batch(&idx, &flips, &device).expect("batch").frames.dims()))
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&root);
}
