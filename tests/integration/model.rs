//! The coarse-to-fine model: shapes, typed errors, Grad-CAM vs CAM, localization vs the official
//! code's formulas, checkpoints and exact resume.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use av_align::Error;
use av_align::model::{
    AvModel, AvModelConfig, Batch, CamSource, ClassCombine, ClassMixing, LocalizeConfig, MapSource, Method,
    ObjectiveConfig, Stage, alignment_maps, mix_classes,
};
use av_align::train::{
    BestEpoch, LrSchedule, OptimizerKind, TrainConfig, Trainer, load_model, load_model_for, save_model,
};
use av_testkit::tmp_dir as tmp;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

fn tiny(num_classes: usize) -> AvModelConfig {
    let mut c = AvModelConfig::compact(num_classes);
    c.visual = c.visual.with_base_width(4);
    c.audio = c.audio.with_base_width(4);
    c.with_projection_hidden(32).with_embedding_dim(16).with_avc_hidden(8)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn batch(n: usize, c: usize, device: &Device) -> Batch {
    Batch {
        frames: Tensor::random([n, 3, 64, 64], Distribution::Default, device),
        logmels: Tensor::random([n, 1, 32, 32], Distribution::Default, device),
        labels_a: Tensor::random([n, c], Distribution::Uniform(0.0, 1.0), device),
        labels_v: Tensor::random([n, c], Distribution::Uniform(0.0, 1.0), device),
    }
}

#[test]
fn forward_objective_and_localization_have_the_documented_shapes() {
    let device = Device::flex();
    let model = tiny(3).init(&device).unwrap();
    let b = batch(4, 3, &device);
    let f = model.features(b.frames.clone(), b.logmels.clone()).unwrap();
    assert_eq!(f.f_v.dims(), [4, 32, 4, 4]);
    assert_eq!(f.f_a.dims(), [4, 32, 2, 2]);
    assert_eq!(model.avc_logits(&f).dims(), [4, 4, 2]);
    let emb = model.class_embeddings(&f).unwrap();
    assert_eq!(emb.audio.dims(), [4, 3, 16]);
    for source in [
        MapSource::Alignment,
        MapSource::AlignmentCamGated,
        MapSource::AlignmentSoftmax,
        MapSource::AlignmentCentred,
        MapSource::VisualCam,
        MapSource::Correspondence,
    ] {
        let cfg = LocalizeConfig { source, output_size: Some([64, 64]), ..LocalizeConfig::default() };
        let loc = model.localize(&f, &cfg).unwrap();
        assert_eq!(loc.per_class.dims(), [4, 3, 64, 64]);
        assert_eq!(loc.agnostic.dims(), [4, 64, 64]);
        let a = to_vec(loc.agnostic);
        assert!(a.iter().all(|v| v.is_finite() && (0.0..=1.0 + 1e-6).contains(v)), "{source:?}");
    }
    let ad = device.autodiff();
    let model = tiny(3).init(&ad).unwrap();
    let b = batch(4, 3, &ad);
    for (method, stage) in
        [(Method::AvcOnly, Stage::One), (Method::MultiTask, Stage::One), (Method::CoarseToFine, Stage::Two)]
    {
        let obj = ObjectiveConfig { method, stage, ..ObjectiveConfig::default() };
        let (loss, values) = model.objective(&b, &obj).unwrap();
        assert!(values.total.is_finite() && values.total > 0.0);
        assert_eq!(method == Method::AvcOnly, values.cls_a == 0.0);
        let _ = loss.backward();
    }
    // The per-position term adds to stage 2 exactly its weighted value.
    let labels = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0], [4, 3]),
        &ad,
    );
    let b = Batch { labels_a: labels.clone(), labels_v: labels, ..b };
    let plain = ObjectiveConfig { stage: Stage::Two, ..ObjectiveConfig::default() };
    let with = ObjectiveConfig {
        position: Some(av_align::alignment::PositionLossConfig::default()),
        position_weight: 0.5,
        ..plain
    };
    let (_, v0) = model.objective(&b, &plain).unwrap();
    let (loss, v1) = model.objective(&b, &with).unwrap();
    assert_eq!(v0.position, 0.0);
    assert!(v1.position.is_finite() && v1.position > 0.0, "{}", v1.position);
    assert!(
        (v1.total - v0.total - 0.5 * v1.position).abs() < 1e-4,
        "{} {} {}",
        v1.total,
        v0.total,
        v1.position
    );
    let _ = loss.backward();
}

#[test]
fn the_per_position_term_runs_in_stage_one_and_takes_cross_class_negatives() {
    use av_align::alignment::{CrossClassNegative, PositionLossConfig};
    let ad = Device::flex().autodiff();
    let model = tiny(3).init(&ad).unwrap();
    let labels = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0], [4, 3]),
        &ad,
    );
    let b = Batch { labels_a: labels.clone(), labels_v: labels, ..batch(4, 3, &ad) };
    let stage1 = ObjectiveConfig::default();
    let (_, plain) = model.objective(&b, &stage1).unwrap();
    let with = ObjectiveConfig { position: Some(PositionLossConfig::lvs()), ..stage1 };
    let (_, v) = model.objective(&b, &with).unwrap();
    assert_eq!((plain.position, v.align), (0.0, 0.0));
    assert!(v.position > 0.0 && (v.total - plain.total - v.position).abs() < 1e-4, "{v:?}");
    let cross =
        PositionLossConfig { cross_class: Some(CrossClassNegative::default()), ..PositionLossConfig::lvs() };
    let stage2 = ObjectiveConfig { stage: Stage::Two, position: Some(cross), ..stage1 };
    let (loss, v) = model.objective(&b, &stage2).unwrap();
    assert!(v.position.is_finite() && v.position > 0.0);
    let _ = loss.backward();
}

#[test]
fn centred_visual_positions_are_unit_and_match_the_test_time_centring() {
    let device = Device::flex();
    let plain = tiny(3).init(&device).unwrap();
    let centred = AvModel { centre_visual_positions: true, ..plain.clone() };
    let b = batch(2, 3, &device);
    let f = plain.features(b.frames, b.logmels).unwrap();
    let g = centred.visual_embedding_map(f.f_v.clone()); // [2, 16, 16]
    let norms = to_vec(g.clone().powi_scalar(2).sum_dim(2));
    assert!(norms.iter().all(|v| (v - 1.0).abs() < 1e-4), "{norms:?}");
    // Centred before the normalisation: the uncentred embeddings minus their mean are
    // parallel to the centred ones.
    let raw = plain.visual_embedding_map(f.f_v.clone());
    let diff = raw.clone() - raw.mean_dim(1);
    let cos = to_vec((diff.clone() * g).sum_dim(2) / diff.powi_scalar(2).sum_dim(2).sqrt());
    assert!(cos.iter().all(|v| (v - 1.0).abs() < 1e-4), "{cos:?}");
    // Eq. 8 of the centred model is the plain model's test-time centred Eq. 8.
    let maps = |m: &AvModel, source| to_vec(m.class_localization_maps(&f, source).unwrap());
    let (a, b) = (maps(&centred, MapSource::Alignment), maps(&plain, MapSource::AlignmentCentred));
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6));
    assert_eq!(maps(&centred, MapSource::AlignmentCentred), a);
    assert!(a.iter().zip(maps(&plain, MapSource::Alignment)).any(|(x, y)| (x - y).abs() > 1e-3));
}

#[test]
fn bad_inputs_give_typed_errors() {
    let device = Device::flex();
    let model = tiny(3).init(&device).unwrap();
    let b = batch(4, 3, &device);
    // Mismatched batch sizes.
    let logmels = Tensor::random([3, 1, 32, 32], Distribution::Default, &device);
    assert!(matches!(model.features(b.frames.clone(), logmels), Err(Error::Shape { what: "log-mels", .. })));
    // Grey frames (1 channel) and too-small maps.
    let grey = Tensor::random([4, 1, 64, 64], Distribution::Default, &device);
    assert!(matches!(model.features(grey, b.logmels.clone()), Err(Error::Shape { what: "frames", .. })));
    let small = Tensor::random([4, 3, 8, 8], Distribution::Default, &device);
    assert!(matches!(model.features(small, b.logmels.clone()), Err(Error::Shape { .. })));
    // Empty batch.
    let empty = Tensor::<4>::zeros([0, 3, 64, 64], &device);
    assert!(matches!(model.features(empty, b.logmels.clone()), Err(Error::Shape { .. })));
    // Wrong number of classes in the labels.
    let wrong = Batch { labels_a: Tensor::zeros([4, 5], &device), ..b.clone() };
    assert!(matches!(
        model.objective(&wrong, &ObjectiveConfig::default()),
        Err(Error::Shape { what: "audio labels", .. })
    ));
    // NaN labels.
    let nan = Batch { labels_v: Tensor::full([4, 3], f32::NAN, &device), ..b.clone() };
    assert!(matches!(model.objective(&nan, &ObjectiveConfig::default()), Err(Error::Align(_))));
    // Stage 2 of a baseline.
    let obj = ObjectiveConfig { method: Method::MultiTask, stage: Stage::Two, ..ObjectiveConfig::default() };
    assert!(matches!(model.objective(&b, &obj), Err(Error::Config(_))));
    // Mismatched trunk widths.
    let mut bad = tiny(3);
    bad.audio = bad.audio.with_base_width(8);
    assert!(matches!(bad.init(&device), Err(Error::Config(_))));
}

#[test]
fn a_checkpoint_of_another_configuration_is_refused_by_name() {
    let device = Device::flex();
    let dir = tmp("other-config");
    let model = tiny(3).init(&device).unwrap();
    save_model(&model, &tiny(3), &dir).unwrap();
    let (loaded, cfg) = load_model(&dir, &device).unwrap();
    assert_eq!(cfg.num_classes, 3);
    let b = batch(2, 3, &device);
    let x = to_vec(model.features(b.frames.clone(), b.logmels.clone()).unwrap().logits_a);
    let y = to_vec(loaded.features(b.frames, b.logmels).unwrap().logits_a);
    assert_eq!(x, y);
    let err = load_model_for(&dir, &tiny(4), &device).unwrap_err();
    assert!(
        matches!(err, Error::Checkpoint { .. }) && err.to_string().contains("another model configuration"),
        "{err}"
    );
    assert!(load_model(&dir.join("missing"), &device).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn grad_cam_source_gives_the_same_embeddings_as_the_classifier_cam() {
    // GAP + bias-free linear heads: Grad-CAM = CAM / (HW), which Eq. 5's normalisation cancels.
    let device = Device::flex();
    let model = tiny(3).init(&device).unwrap();
    let b = batch(3, 3, &device);
    let f = model.features(b.frames, b.logmels).unwrap();
    let cam = model.class_embeddings(&f).unwrap();
    let mut gc_model = model.clone();
    gc_model.cam = CamSource::GradCam;
    let gc = gc_model.class_embeddings(&f).unwrap();
    let (x, y) = (to_vec(cam.audio), to_vec(gc.audio));
    let err = x.iter().zip(&y).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(err < 1e-5, "{err}");
}

#[test]
fn localization_maps_and_class_mixing_match_the_official_code() {
    // Fixture `loc.*` of tools/reference/make_alignment_fixtures.py (F.interpolate bilinear,
    // align_corners=False; single and double sigmoid mixing).
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/av-alignment/tests/fixtures/alignment.safetensors");
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let get = |k: &str| -> (Vec<usize>, Vec<f32>) {
        let v = st.tensor(k).unwrap();
        (
            v.shape().to_vec(),
            v.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        )
    };
    let device = Device::flex();
    let t = |k: &str| {
        let (s, v) = get(k);
        (s, v)
    };
    let (_, xa) = t("loc.xa"); // [5, 16]
    let (_, xv) = t("loc.xv"); // [16, 4, 4]
    let (_, logits) = t("loc.logits");
    let unit = |x: Tensor<3>| {
        let n = x.clone().powi_scalar(2).sum_dim(2).sqrt().clamp_min(1e-12);
        x / n
    };
    let g_a = unit(Tensor::<3>::from_data(TensorData::new(xa, [1, 5, 16]), &device));
    let g_v = Tensor::<3>::from_data(TensorData::new(xv, [1, 16, 16]), &device).swap_dims(1, 2); // [1, 16 pos, 16 d]
    let g_v = unit(g_v);
    let small = alignment_maps(g_a, g_v, [4, 4]);
    let close = |what: &str, got: Vec<f32>, want: &[f32]| {
        let err = got.iter().zip(want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-5, "{what}: {err}");
    };
    close("maps_small", to_vec(small.clone()), &get("loc.maps_small").1);
    let big = av_align::gradcam::upsample_bilinear(small, [16, 16]);
    close("maps", to_vec(big.clone()), &get("loc.maps").1);
    let logits = Tensor::<2>::from_data(TensorData::new(logits, [1, 5]), &device);
    let unused_v = Tensor::<2>::zeros([1, 5], &device);
    let (single, valid) = mix_classes(
        big.clone(),
        logits.clone(),
        unused_v.clone(),
        ClassMixing::Intended,
        ClassCombine::WeightedMean,
        0.3,
    );
    close("agnostic_single", to_vec(single), &get("loc.agnostic_single").1);
    assert_eq!(valid[0], vec![true, false, true, false, true]);
    let (double, valid) = mix_classes(
        big.clone(),
        logits.clone(),
        unused_v,
        ClassMixing::OfficialCode,
        ClassCombine::WeightedMean,
        0.3,
    );
    close("agnostic_double", to_vec(double), &get("loc.agnostic_double").1);
    assert!(valid[0].iter().all(|&v| v));
    // Heard and seen: a visual logit of +inf leaves the audio rule; -inf removes the class.
    let seen =
        Tensor::<2>::from_data(TensorData::new(vec![60.0f32, 60.0, 60.0, 60.0, 60.0], [1, 5]), &device);
    let (both, valid) = mix_classes(
        big.clone(),
        logits.clone(),
        seen,
        ClassMixing::AudioVisual,
        ClassCombine::WeightedMean,
        0.3,
    );
    close("agnostic_audio_visual_all_seen", to_vec(both), &get("loc.agnostic_single").1);
    assert_eq!(valid[0], vec![true, false, true, false, true]);
    let unseen_first =
        Tensor::<2>::from_data(TensorData::new(vec![-60.0f32, 60.0, 60.0, 60.0, 60.0], [1, 5]), &device);
    let (_, valid) =
        mix_classes(big, logits, unseen_first, ClassMixing::AudioVisual, ClassCombine::WeightedMean, 0.3);
    assert!(!valid[0][0], "a class the frame does not show is not mixed (unless it is the argmax)");
}

#[test]
fn peak_max_gives_every_heard_class_its_own_peak() {
    let device = Device::flex();
    // Class 0 is heard with low cosines, class 1 with high ones; class 2 is not heard but its
    // map is the highest everywhere.
    let maps = vec![0.2f32, 0.1, 0.0, 0.0, 0.0, 0.0, 0.8, 0.4, 0.9, 0.9, 0.9, 0.9];
    let per_class = Tensor::<4>::from_data(TensorData::new(maps, [1, 3, 2, 2]), &device);
    let logits = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 2.0, -4.0], [1, 3]), &device);
    let unused_v = Tensor::<2>::zeros([1, 3], &device);
    let mix = |combine| {
        let (m, valid) = mix_classes(
            per_class.clone(),
            logits.clone(),
            unused_v.clone(),
            ClassMixing::Intended,
            combine,
            0.3,
        );
        assert_eq!(valid[0], vec![true, true, false]);
        to_vec(m)
    };
    // Weighted mean (equal weights): (0.2, 0.1, 0.8, 0.4) / 2, over its max 0.4.
    let mean = mix(ClassCombine::WeightedMean);
    let want_mean = [0.25f32, 0.125, 1.0, 0.5];
    // Peak max: (1, 0.5, 0, 0) and (0, 0, 1, 0.5), their maximum; class 2 never enters.
    let peak = mix(ClassCombine::PeakMax);
    let want_peak = [1.0f32, 0.5, 1.0, 0.5];
    for (got, want) in [(mean, want_mean), (peak, want_peak)] {
        let err = got.iter().zip(want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-6, "{got:?} against {want:?}");
    }
}

#[test]
fn training_resumes_after_an_interruption_with_the_same_result() {
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 8,
        lr: 0.01,
        checkpoint_every: 2,
        ..TrainConfig::mssl_new(Stage::Two)
    };
    resumes_with_the_same_result(cfg, "sgd");
}

#[test]
fn adamw_with_a_cosine_schedule_resumes_with_the_same_result() {
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 8,
        lr: 1e-3,
        checkpoint_every: 2,
        optimizer: OptimizerKind::AdamW { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
        schedule: LrSchedule::Cosine { final_fraction: 0.1 },
        ..TrainConfig::mssl_new(Stage::Two)
    };
    resumes_with_the_same_result(cfg, "adamw");
}

/// Trains `cfg` straight through and interrupted after 4 of 6 steps then resumed: the same
/// losses and weights; other settings in the interrupted run's directory are refused.
fn resumes_with_the_same_result(cfg: TrainConfig, name: &str) {
    let device = Device::flex();
    let data = common::dataset(3, 24);
    let model_cfg = tiny(2);
    // Straight through.
    let dir_a = tmp(&format!("resume-a-{name}"));
    let init = model_cfg.init(&device).unwrap();
    let a = Trainer::new(cfg.clone(), &dir_a).unwrap().fit(init.clone(), &model_cfg, &data, &device).unwrap();
    assert!(a.finished && a.resumed_from_step.is_none());
    // Interrupted after 4 of 6 steps (mid-epoch), then resumed from the checkpoint.
    let dir_b = tmp(&format!("resume-b-{name}"));
    let b1 = Trainer::new(cfg.clone(), &dir_b)
        .unwrap()
        .stop_after_steps(4)
        .fit(init.clone(), &model_cfg, &data, &device)
        .unwrap();
    assert!(!b1.finished);
    let fresh = model_cfg.init(&device).unwrap(); // other random weights: must be replaced by the checkpoint
    let b2 = Trainer::new(cfg.clone(), &dir_b).unwrap().fit(fresh, &model_cfg, &data, &device).unwrap();
    assert_eq!(b2.resumed_from_step, Some(4));
    assert_eq!(a.history.len(), 2);
    assert_eq!(b2.history.len(), 2);
    assert_eq!(a.history[1].loss.total, b2.history[1].loss.total, "epoch-2 loss differs after resume");
    let x = data.batch(&[0, 1], &[false, false], &device).unwrap();
    let fa = to_vec(a.model.features(x.frames.clone(), x.logmels.clone()).unwrap().logits_a);
    let fb = to_vec(b2.model.features(x.frames, x.logmels).unwrap().logits_a);
    assert_eq!(fa, fb, "weights differ after resume");
    // Other settings in the same run directory are refused.
    let other = TrainConfig { lr: cfg.lr * 2.0, ..cfg };
    let err = Trainer::new(other, &dir_b).unwrap().fit(init, &model_cfg, &data, &device).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    std::fs::remove_dir_all(&dir_a).ok();
    std::fs::remove_dir_all(&dir_b).ok();
}

#[test]
fn training_keeps_the_best_validated_epoch_across_a_resume() {
    let device = Device::flex();
    let data = common::dataset(3, 24); // 3 steps per epoch
    let model_cfg = tiny(2);
    let init = model_cfg.init(&device).unwrap();
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 8,
        lr: 0.01,
        keep_best_validation: true,
        ..TrainConfig::mssl_new(Stage::Two)
    };
    // Epoch 1 validates best; epoch 0 is NaN, which never counts as best.
    let hook = || -> av_align::train::ValidationHook<'static> {
        Box::new(|_: &AvModel, epoch: usize| Ok([f64::NAN, 0.9, 0.5][epoch]))
    };
    // The reference: the same run stopped after epoch 1, keeping its last epoch.
    let dir_ref = tmp("best-ref");
    let last = TrainConfig { epochs: 2, keep_best_validation: false, ..cfg.clone() };
    let reference =
        Trainer::new(last, &dir_ref).unwrap().fit(init.clone(), &model_cfg, &data, &device).unwrap();
    assert_eq!(reference.best, None, "no best epoch without keep_best_validation");
    // Interrupted in epoch 2 (after the best was saved), then resumed to the end.
    let dir = tmp("best-run");
    let first = Trainer::new(cfg.clone(), &dir)
        .unwrap()
        .with_validation(hook())
        .stop_after_steps(7)
        .fit(init.clone(), &model_cfg, &data, &device)
        .unwrap();
    assert!(!first.finished);
    let fresh = model_cfg.init(&device).unwrap();
    let done = Trainer::new(cfg.clone(), &dir)
        .unwrap()
        .with_validation(hook())
        .fit(fresh, &model_cfg, &data, &device)
        .unwrap();
    assert!(done.finished);
    assert_eq!(done.history.len(), 3, "every epoch still runs");
    assert_eq!(done.best, Some(BestEpoch { epoch: 1, validation: 0.9 }));
    assert_eq!(flat_weights(&done.model), flat_weights(&reference.model), "not the best epoch's weights");
    assert!(dir.join("best/model.json").is_file());
    // Without a validation hook the setting is refused, before any step.
    let err =
        Trainer::new(cfg, tmp("best-nohook")).unwrap().fit(init, &model_cfg, &data, &device).unwrap_err();
    assert!(matches!(err, Error::Config(ref m) if m.contains("validation hook")), "{err}");
    std::fs::remove_dir_all(&dir_ref).ok();
    std::fs::remove_dir_all(&dir).ok();
}

/// Weights of a model as one flat vector (every parameter, in module order).
fn flat_weights(model: &av_align::model::AvModel) -> Vec<f32> {
    use burn::module::{Module, ModuleVisitor, Param};
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(to_vec(param.val()));
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// One training step from `init` in a fresh temporary run directory (removed afterwards).
fn one_step_in(
    name: &str,
    cfg: TrainConfig,
    init: &av_align::model::AvModel,
    model_cfg: &AvModelConfig,
    data: &av_align::train::InMemoryDataset,
    device: &Device,
) -> Result<av_align::train::TrainOutcome, Error> {
    let dir = tmp(name);
    let out = Trainer::new(cfg, &dir)
        .and_then(|t| t.stop_after_steps(1).fit(init.clone(), model_cfg, data, device));
    std::fs::remove_dir_all(&dir).ok();
    out
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// One SGD step of the trainer's settings, done by hand: the objective on each shard of the
/// batch, its gradient weighted by the shard's share, summed (plain gradient accumulation on
/// one device, no thread, no device transfer).
fn accumulated_step(
    init: &av_align::model::AvModel,
    cfg: &TrainConfig,
    data: &av_align::train::InMemoryDataset,
    shards: &[std::ops::Range<usize>],
    device: &Device,
) -> av_align::model::AvModel {
    use burn::module::Module;
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::momentum::MomentumConfig;
    use burn::optim::{GradientsAccumulator, GradientsParams, SgdConfig};
    let ad = device.clone().autodiff();
    let model = init.clone().fork(&ad).train();
    let order = av_align::train::epoch_order(cfg.seed, 0, data.len());
    let indices = &order[..cfg.batch_size];
    let mut acc = GradientsAccumulator::new();
    for r in shards {
        let batch = data.batch(&indices[r.clone()], &vec![false; r.len()], &ad).unwrap();
        let (loss, _) = model.objective(&batch, &cfg.objective).unwrap();
        let w = r.len() as f32 / cfg.batch_size as f32;
        acc.accumulate(&model, GradientsParams::from_grads(loss.mul_scalar(w).backward(), &model));
    }
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_momentum(cfg.momentum).with_dampening(0.0)))
        .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)))
        .init();
    optim.step(cfg.lr, model, acc.grads()).valid()
}

#[test]
fn data_parallel_training_equals_accumulating_the_shards_gradients() {
    let device = Device::flex();
    let data = common::dataset(5, 10);
    let model_cfg = tiny(2);
    let init = model_cfg.init(&device).unwrap();
    // One step of batch 5 (3 + 2 samples on two devices, weights 3/5 and 2/5), no flips.
    let cfg =
        TrainConfig { epochs: 1, batch_size: 5, lr: 0.05, hflip: false, ..TrainConfig::mssl_new(Stage::Two) };
    let run = |cfg: TrainConfig, name: &str| {
        flat_weights(&one_step_in(name, cfg, &init, &model_cfg, &data, &device).unwrap().model)
    };
    let single = run(cfg.clone(), "dp-single");
    let one = run(cfg.clone().with_devices(vec!["flex".into()]), "dp-one");
    let two = run(cfg.clone().with_devices(vec!["flex".into(), "cpu".into()]), "dp-two");
    // One listed device is the plain single-device step (the loss scaled by 1.0).
    let d_one = max_abs_diff(&single, &one);
    assert!(d_one <= 1e-7, "one-device data parallel moved the weights by {d_one}");
    // Two devices: the weights of gradient accumulation over the same shards, by hand.
    let want = flat_weights(&accumulated_step(&init, &cfg, &data, &[0..3, 3..5], &device));
    let d_two = max_abs_diff(&two, &want);
    assert!(d_two <= 1e-6, "two-device step differs from accumulation over its shards by {d_two}");
    // And the split is real: BatchNorm and the in-batch negatives see 3 + 2 samples, not 5.
    let d_split = max_abs_diff(&two, &single);
    assert!(d_split > 1e-6, "the two-device step equals the unsplit one ({d_split}): no sharding happened");
}

#[test]
fn data_parallel_rejects_shards_too_small_and_unknown_devices() {
    let device = Device::flex();
    let data = common::dataset(5, 10);
    let model_cfg = tiny(2);
    let init = model_cfg.init(&device).unwrap();
    let base = TrainConfig { epochs: 1, batch_size: 3, ..TrainConfig::mssl_new(Stage::Two) };
    for devices in [vec!["flex".to_string(), "flex".into()], vec!["tpu:0".to_string()]] {
        let err = one_step_in(
            "dp-bad",
            base.clone().with_devices(devices.clone()),
            &init,
            &model_cfg,
            &data,
            &device,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{devices:?}: {err}");
    }
}

/// A source that fails every batch holding sample `bad` (a corrupt file on disk, say).
struct FailingSource<'a> {
    inner: &'a av_align::train::InMemoryDataset,
    bad: usize,
}

impl av_align::train::BatchSource for FailingSource<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }
    fn host_batch(&self, indices: &[usize], flips: &[bool]) -> Result<av_align::train::HostBatch, Error> {
        if indices.contains(&self.bad) {
            return Err(Error::Io {
                path: format!("sample-{}.jpg", self.bad).into(),
                detail: "corrupt".into(),
            });
        }
        self.inner.host_batch(indices, flips)
    }
}

#[test]
fn prefetched_batches_are_the_inline_ones_and_errors_end_the_sequence() {
    use av_align::train::{BatchPlan, BatchSource, Prefetcher, with_prefetch};
    let device = Device::flex();
    let data = common::dataset(5, 12);
    let plan: Vec<BatchPlan> = (0..4)
        .map(|s| {
            BatchPlan::new(
                vec![(5 * s) % 12, (5 * s + 1) % 12, (5 * s + 7) % 12],
                vec![s % 2 == 0, true, false],
            )
        })
        .collect();
    let inline: Vec<_> = Prefetcher::inline(&data, plan.clone()).map(Result::unwrap).collect();
    for depth in [0, 1, 3] {
        let got: Vec<_> =
            with_prefetch(&data, plan.clone(), depth, |b| b.map(Result::unwrap).collect::<Vec<_>>());
        assert_eq!(got, inline, "depth {depth}");
    }
    // The host batch is the tensor batch, and a shard is its rows.
    let b = data.batch(&plan[1].indices, &plan[1].flips, &device).unwrap();
    let h = &inline[1];
    assert_eq!((h.len(), h.frame_hw, h.logmel_tf, h.num_classes), (3, (64, 64), (32, 32), 2));
    assert_eq!(to_vec(b.frames), h.frames);
    assert_eq!(to_vec(b.logmels), h.logmels);
    assert_eq!(to_vec(b.labels_v), h.labels_v);
    let shard = h.slice(1..3).unwrap();
    let alone = data.host_batch(&plan[1].indices[1..3], &plan[1].flips[1..3]).unwrap();
    assert_eq!(shard, alone);
    assert!(h.slice(2..4).is_err() && h.slice(1..1).is_err());
    // A failing batch is yielded as an error and ends the sequence, inline or in the background.
    let bad = FailingSource { inner: &data, bad: plan[2].indices[0] };
    for depth in [0, 2] {
        let got: Vec<_> = with_prefetch(&bad, plan.clone(), depth, |b| b.collect::<Vec<_>>());
        assert_eq!(got.len(), 3, "depth {depth}");
        assert!(got[0].is_ok() && got[1].is_ok());
        assert!(matches!(&got[2], Err(Error::Io { .. })), "depth {depth}");
    }
    // A consumer that stops early does not wait for the rest of the plan.
    let long: Vec<BatchPlan> = (0..1000).map(|_| plan[0].clone()).collect();
    let first = with_prefetch(&data, long, 1, |b| b.next().map(|r| r.unwrap().len()));
    assert_eq!(first, Some(3));
}

#[test]
fn training_with_prefetch_equals_training_without_and_reports_source_errors() {
    let device = Device::flex();
    let data = common::dataset(6, 16);
    let cfg = TrainConfig { epochs: 1, batch_size: 4, lr: 0.01, ..TrainConfig::mssl_new(Stage::Two) };
    let model_cfg = tiny(2);
    let init = model_cfg.init(&device).unwrap();
    let fit = |depth: usize, name: &str| {
        let dir = tmp(name);
        let out = Trainer::new(cfg.clone(), &dir)
            .unwrap()
            .with_prefetch(depth)
            .fit(init.clone(), &model_cfg, &data, &device)
            .unwrap();
        std::fs::remove_dir_all(&dir).ok();
        out
    };
    let (a, b) = (fit(0, "prefetch-0"), fit(3, "prefetch-3"));
    assert_eq!(a.history[0].loss.total, b.history[0].loss.total);
    assert_eq!(flat_weights(&a.model), flat_weights(&b.model), "weights differ with prefetch");
    // A source error in the third batch stops training with that error (no hang, no panic).
    let order = av_align::train::epoch_order(cfg.seed, 0, data.len());
    let bad = FailingSource { inner: &data, bad: order[9] };
    for depth in [0, 2] {
        let dir = tmp(&format!("prefetch-bad-{depth}"));
        let err = Trainer::new(cfg.clone(), &dir)
            .unwrap()
            .with_prefetch(depth)
            .fit(init.clone(), &model_cfg, &bad, &device)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Io { path, .. } if path.to_string_lossy().contains("sample-")),
            "depth {depth}: {err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
    // Unset, the depth follows the device: inline on the CPU.
    assert_eq!(av_align::train::default_prefetch(&device), 0);
}

/// With `unlabelled_clips_are_negatives`, a clip without audio labels changes only the AVC term
/// (its own pair becomes a negative); with it off, or with every clip labelled, the loss is the
/// plain one.
#[test]
fn unlabelled_clips_are_avc_negatives_only_when_asked() {
    let device = Device::flex();
    device.seed(3);
    let model = AvModelConfig::compact(4).init(&device).unwrap();
    let n = 4;
    let frames = Tensor::<4>::random([n, 3, 64, 64], burn::tensor::Distribution::Default, &device);
    let logmels = Tensor::<4>::random([n, 1, 64, 64], burn::tensor::Distribution::Default, &device);
    let labels = |rows: [[f32; 4]; 4]| {
        Tensor::<2>::from_data(burn::tensor::TensorData::new(rows.concat(), [n, 4]), &device)
    };
    let all = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
    let mut one_silent = all;
    one_silent[1] = [0.0; 4];
    let batch = |a| Batch {
        frames: frames.clone(),
        logmels: logmels.clone(),
        labels_a: labels(a),
        labels_v: labels(all),
    };
    let plain = ObjectiveConfig::default();
    let asked = ObjectiveConfig { unlabelled_clips_are_negatives: true, ..plain };
    let values = |b: &Batch, o: &ObjectiveConfig| model.objective(b, o).unwrap().1;
    assert_eq!(values(&batch(all), &plain), values(&batch(all), &asked));
    let (off, on) = (values(&batch(one_silent), &plain), values(&batch(one_silent), &asked));
    assert_eq!((off.cls_a, off.cls_v), (on.cls_a, on.cls_v));
    assert_ne!(off.avc, on.avc);
}
