//! The frozen pretrained visual stream: shapes, a frozen trunk under training, the trunk
//! cache, checkpoints, and the typed error when the weights are not cached.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use av_align::Error;
use av_align::model::{AvModelConfig, Batch, ObjectiveConfig, Stage, pretrained_weights_in};
use av_align::train::{load_model, save_model};
use av_testkit::tmp_dir as tmp;
use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};

fn config(cache_mb: usize) -> AvModelConfig {
    let mut c = AvModelConfig::compact(3).with_pretrained_visual_trunk();
    c.audio = c.audio.with_base_width(4);
    if let Some(p) = c.pretrained_visual.as_mut() {
        p.cache_mb = cache_mb;
    }
    c.with_projection_hidden(32).with_embedding_dim(16).with_avc_hidden(8)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// The gradients of one stage-2 objective on three random frames and clips (3 classes).
fn stage_two_gradients(model: &av_align::model::AvModel, device: &Device) -> burn::tensor::Gradients {
    let batch = Batch {
        frames: Tensor::random([3, 3, 64, 64], Distribution::Default, device),
        logmels: Tensor::random([3, 1, 32, 32], Distribution::Default, device),
        labels_a: Tensor::from_floats([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]], device),
        labels_v: Tensor::from_floats([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]], device),
    };
    let objective = ObjectiveConfig { stage: Stage::Two, ..ObjectiveConfig::default() };
    let (loss, _) = model.objective(&batch, &objective).unwrap();
    loss.backward()
}

#[test]
fn the_pretrained_stream_maps_at_stride_32_with_the_audio_width_and_no_resnet() {
    let device = Device::flex();
    let c = config(64);
    assert_eq!(c.visual_channels(), 32);
    let model = c.init(&device).unwrap();
    assert!(model.visual.is_none() && model.pretrained_visual.is_some());
    let frames = Tensor::<4>::random([2, 3, 96, 64], Distribution::Default, &device);
    let logmels = Tensor::<4>::random([2, 1, 32, 32], Distribution::Default, &device);
    let f = model.features(frames, logmels).unwrap();
    assert_eq!(f.f_v.dims(), [2, 32, 3, 2]);
    assert!(values(f.f_v).iter().all(|v| v.is_finite() && *v >= 0.0), "post-ReLU map");
}

#[test]
fn training_moves_the_neck_and_heads_but_never_the_trunk() {
    let device = Device::flex().autodiff();
    let model = config(64).init(&device).unwrap();
    let grads = stage_two_gradients(&model, &device);
    let p = model.pretrained_visual.as_ref().unwrap();
    assert!(p.trunk.conv_stem.weight.grad(&grads).is_none(), "the trunk is frozen");
    assert!(p.trunk.blocks[5].project_conv.weight.grad(&grads).is_none());
    let neck = p.neck_conv.weight.grad(&grads).expect("the neck trains");
    assert!(values(neck).iter().any(|g| *g != 0.0));
}

#[test]
fn the_trunk_cache_gives_what_the_trunk_computes_and_follows_new_weights() {
    let device = Device::flex();
    let frames = Tensor::<4>::random([3, 3, 64, 64], Distribution::Default, &device);
    let cached = config(64).init(&device).unwrap().pretrained_visual.unwrap();
    let uncached = cached.clone();
    let uncached =
        av_align::model::PretrainedVisual { cache: av_align::model::TrunkCache::new(0), ..uncached };
    let first = values(cached.forward(frames.clone()));
    assert_eq!(cached.cache.len(), 3);
    // A batch mixing a cached frame and a new one.
    let mixed = Tensor::cat(
        vec![frames.clone().slice(1..2), Tensor::random([1, 3, 64, 64], Distribution::Default, &device)],
        0,
    );
    let again = values(cached.forward(frames.clone()));
    assert_eq!(first, again, "cache hit");
    let mixed_cached = values(cached.forward(mixed.clone()));
    assert_eq!(cached.cache.len(), 4);
    let mixed_fresh = values(uncached.forward(mixed));
    let err = mixed_cached.iter().zip(&mixed_fresh).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(err < 1e-5, "cached and computed maps differ by {err}");
    // New trunk weights (another initialisation): the old entries are not read.
    let other = config(64).init(&device).unwrap().pretrained_visual.unwrap();
    let renewed = av_align::model::PretrainedVisual { trunk: other.trunk.clone(), ..cached.clone() };
    let after = values(renewed.forward(frames.clone()));
    let expected = values(
        av_align::model::PretrainedVisual { cache: av_align::model::TrunkCache::new(0), ..renewed.clone() }
            .forward(frames),
    );
    assert_ne!(after, first);
    let err = after.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(err < 1e-5, "{err}");
}

#[test]
fn a_pretrained_model_checkpoint_round_trips_without_the_weight_file() {
    let device = Device::flex();
    let c = config(0);
    let model = c.init(&device).unwrap();
    let dir = tmp("pretrained_ckpt");
    save_model(&model, &c, &dir).unwrap();
    let (loaded, loaded_config) = load_model(&dir, &device).unwrap();
    assert_eq!(loaded_config.pretrained_visual, c.pretrained_visual);
    let frames = Tensor::<4>::random([2, 3, 64, 64], Distribution::Default, &device);
    let a = values(model.visual_map(frames.clone()).unwrap());
    let b = values(loaded.visual_map(frames).unwrap());
    assert_eq!(a, b);
    assert_eq!(loaded.num_params(), model.num_params());
}

#[test]
fn missing_pretrained_weights_are_a_typed_error_naming_the_fetch_script() {
    let dir = tmp("no_pretrained_cache");
    match pretrained_weights_in(&dir) {
        Err(Error::Config(m)) => assert!(m.contains("fetch_pretrained.sh"), "{m}"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn a_two_layer_neck_trains_both_layers_and_round_trips() {
    let mut c = config(0);
    if let Some(p) = c.pretrained_visual.as_mut() {
        p.neck_hidden = Some(24);
    }
    let device = Device::flex().autodiff();
    let model = c.init(&device).unwrap();
    let p = model.pretrained_visual.as_ref().unwrap();
    let hidden = p.neck_hidden.as_ref().expect("the hidden layer is built");
    assert_eq!(hidden.conv.weight.dims(), [24, 192, 1, 1]);
    assert_eq!(p.neck_conv.weight.dims(), [32, 24, 1, 1]);
    let grads = stage_two_gradients(&model, &device);
    assert!(p.trunk.conv_stem.weight.grad(&grads).is_none(), "the trunk stays frozen");
    let g = hidden.conv.weight.grad(&grads).expect("the hidden layer trains");
    assert!(values(g).iter().any(|v| *v != 0.0));
    // Saved and loaded on the inner device, the maps agree.
    let device = Device::flex();
    let model = c.init(&device).unwrap();
    let dir = tmp("pretrained_neck_hidden");
    save_model(&model, &c, &dir).unwrap();
    let (loaded, loaded_config) = load_model(&dir, &device).unwrap();
    assert_eq!(loaded_config.pretrained_visual.as_ref().and_then(|p| p.neck_hidden), Some(24));
    let frames = Tensor::<4>::random([2, 3, 64, 64], Distribution::Default, &device);
    assert_eq!(values(model.visual_map(frames.clone()).unwrap()), values(loaded.visual_map(frames).unwrap()));
    // A zero-width hidden layer is refused.
    if let Some(p) = c.pretrained_visual.as_mut() {
        p.neck_hidden = Some(0);
    }
    assert!(matches!(c.validate(), Err(Error::Config(_))));
}
