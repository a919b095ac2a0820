//! The experiments behind the examples run end to end on tiny configurations, and the shipped
//! checkpoint reproduces the numbers recorded in docs/results.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use av_align::data::Split;
use av_align::metrics::PredictionRule;
use av_align::model::{ClassCombine, MapSource, Method};
use av_experiments::flickr::{
    DrawnMaps, FlickrPlan, evaluate_on_bench, load_run_model, train_plan, write_overlays,
};
use av_experiments::generate;
use av_experiments::multisource::{MultiSourcePlan, markdown_table2, run_multisource};
use av_experiments::run::RunContext;
use av_testkit::tmp_dir as tmp;
use burn::tensor::Device;

/// A plan whose stage 1 is AVC-only trains Table 2's one-stage AVC baseline: no stage 2, and
/// `model/` is the stage-1 model, ready for `audioset_multisource --avc`.
#[test]
fn an_avc_only_plan_trains_one_stage() {
    let device = Device::flex();
    let run = tmp("flickr-avc");
    let mut plan = FlickrPlan::tiny();
    plan.stage1.objective.method = Method::AvcOnly;
    let trained = train_plan(&plan, &run, &device, false).unwrap();
    assert_eq!(trained.history[0].len(), plan.stage1.epochs);
    assert!(trained.history[0][0].loss.cls_a == 0.0 && trained.history[0][0].loss.avc > 0.0);
    assert!(trained.history[1].is_empty());
    assert!(!run.join("stage2").exists(), "the AVC-only baseline has no stage 2");
    let weights = |dir: &str| std::fs::read(run.join(dir).join("model.bpk")).unwrap();
    assert_eq!(weights("model"), weights("model_stage1"));
    let model = load_run_model(&run.join("model"), &device).unwrap().1;
    let data = generate(&plan.data, Split::Test, 0..4, false).unwrap();
    let (report, _) =
        evaluate_on_bench(&model, &data, MapSource::Correspondence, PredictionRule::Absolute(0.5), &device)
            .unwrap();
    assert_eq!(report.scenes, 4);
    std::fs::remove_dir_all(&run).ok();
}

#[test]
fn flickr_plan_trains_resumes_and_evaluates_with_pictures() {
    let device = Device::flex();
    let run = tmp("flickr");
    let plan = FlickrPlan::tiny();
    let trained = train_plan(&plan, &run, &device, false).unwrap();
    assert_eq!(trained.history[0].len(), 1);
    assert!(trained.history[1][0].validation.is_some_and(|v| (0.0..=1.0).contains(&v)));
    for f in ["plan.json", "history.json", "model/model.bpk", "model/model.json", "model_stage1/model.bpk"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    // The model folder is self-contained: the one-call API and every experiment load it alone.
    for f in ["model/plan.json", "model/inputs.json", "model_stage1/plan.json", "model_stage1/inputs.json"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let localizer = av_align::Localizer::from_dir_on(run.join("model"), &device).unwrap();
    assert_eq!(localizer.inputs().class_names.len(), plan.model.num_classes);
    // A second call resumes from the finished checkpoints instead of retraining.
    let again = train_plan(&plan, &run, &device, false).unwrap();
    assert_eq!(again.history[1].len(), 1);
    // What the Localizer draws is not part of the run: a plan that differs only there resumes,
    // and the model folder names its choice.
    let choice = DrawnMaps { maps: MapSource::AlignmentCentred, combine: ClassCombine::PeakMax };
    let drawn = FlickrPlan { drawn: Some(choice), ..plan.clone() };
    assert_eq!(train_plan(&drawn, &run, &device, false).unwrap().history[1].len(), 1);
    let spec = av_align::InputSpec::load(run.join("model")).unwrap();
    assert_eq!((spec.maps, spec.combine), (MapSource::AlignmentCentred, ClassCombine::PeakMax));
    // Another plan in the same run directory is refused.
    let mut other = FlickrPlan::tiny();
    other.train_scenes = 12;
    assert!(train_plan(&other, &run, &device, false).is_err());
    // Evaluation, metrics JSON and overlays.
    let model = load_run_model(&run.join("model"), &device).unwrap().1;
    let data = generate(&plan.data, Split::Test, 0..6, false).unwrap();
    let (report, maps) =
        evaluate_on_bench(&model, &data, MapSource::Alignment, PredictionRule::Absolute(0.5), &device)
            .unwrap();
    assert_eq!(report.scenes, 6);
    for s in [&report.flickr.model, &report.flickr.whole_image, &report.flickr.center_box] {
        assert!((0.0..=1.0).contains(&s.auc) && (0.0..=1.0).contains(&s.success_rate));
    }
    let json = serde_json::to_string(&report).unwrap();
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(back["flickr"]["model"]["auc"].is_number());
    let pictures = write_overlays(&data, &maps, &run.join("overlays"), 2).unwrap();
    assert_eq!(pictures.len(), 2);
    let img = image::open(&pictures[0]).unwrap();
    assert!(img.width() >= 4 * 256);
    std::fs::remove_dir_all(&run).ok();
}

#[test]
fn multisource_table_has_three_methods_and_levels() {
    let device = Device::flex();
    let run = tmp("multisource");
    let report =
        run_multisource(&MultiSourcePlan::tiny(), &RunContext::new(&run, device.clone(), false).unwrap())
            .unwrap();
    assert_eq!(report.rows.len(), 3);
    for row in &report.rows {
        assert!(!row.levels.is_empty());
        for l in &row.levels {
            assert!((0.0..=1.0).contains(&l.success) && (0.0..=1.0).contains(&l.auc), "{l:?}");
            assert_eq!(l.threshold, if l.level == 3 { 0.3 } else { 0.5 });
        }
    }
    let table = markdown_table2(&report);
    assert!(table.contains("Ours") && table.contains("AVC"));
    assert!(run.join("metrics.json").is_file());
    assert!(std::fs::read_to_string(run.join("table.csv")).unwrap().starts_with("method,L1 cIoU@0.5,"));
    std::fs::remove_dir_all(&run).ok();
}

/// The numbers `flickr_localize` (no arguments) prints with the shipped checkpoint, recorded in
/// `assets/checkpoints/flickr_compact/demo_metrics.json` and docs/results.md.
#[test]
fn shipped_checkpoint_reproduces_the_recorded_demo_numbers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/checkpoints/flickr_compact");
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("demo_metrics.json")).unwrap()).unwrap();
    let device = Device::flex();
    let plan = FlickrPlan::load(&dir.join("plan.json")).unwrap();
    let model = load_run_model(&dir, &device).unwrap().1;
    let scenes = recorded["scenes"].as_u64().unwrap();
    let data = generate(&plan.data, Split::Test, 0..scenes, false).unwrap();
    let (report, _) =
        evaluate_on_bench(&model, &data, MapSource::Alignment, PredictionRule::Absolute(0.5), &device)
            .unwrap();
    // Tolerance: 1e-6 on the AUC / success rate (same code, same data; only summation order of
    // the CPU kernels could differ).
    let close = |got: f64, key: &str| {
        let want = recorded["flickr"]["model"][key].as_f64().unwrap();
        assert!((got - want).abs() < 1e-6, "{key}: {got} vs recorded {want}");
    };
    close(report.flickr.model.auc, "auc");
    close(report.flickr.model.success_rate, "success_rate");
}

/// The table `flickr_localize` (no arguments) prints with the shipped broad checkpoint, in- and
/// out-of-family, recorded in `assets/checkpoints/flickr_broad/demo_metrics.json` and
/// docs/results.md §9: every row (the model's three map sources, its CAMs and the baselines)
/// within 1e-6.
#[test]
fn shipped_broad_checkpoint_reproduces_the_recorded_demo_table() {
    use av_experiments::flickr::{GeneralizationReport, evaluate_generalization};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/checkpoints/flickr_broad");
    let recorded: GeneralizationReport =
        serde_json::from_str(&std::fs::read_to_string(dir.join("demo_metrics.json")).unwrap()).unwrap();
    let device = Device::flex();
    let (plan, model) = load_run_model(&dir, &device).unwrap();
    let report =
        evaluate_generalization(&model, None, &plan, Split::Test, recorded.scenes, &device, false).unwrap();
    assert_eq!(report.rows.len(), recorded.rows.len());
    for (got, want) in report.rows.iter().zip(&recorded.rows) {
        assert_eq!(got.method, want.method);
        for (g, w, what) in [
            (&got.in_family, &want.in_family, "in-family"),
            (&got.out_of_family, &want.out_of_family, "out-of-family"),
        ] {
            assert!(
                (g.auc - w.auc).abs() < 1e-6,
                "{} {what} AUC {} vs recorded {}",
                got.method,
                g.auc,
                w.auc
            );
            assert!(
                (g.success_rate - w.success_rate).abs() < 1e-6,
                "{} {what} cIoU@0.5 {} vs recorded {}",
                got.method,
                g.success_rate,
                w.success_rate
            );
        }
    }
}

/// The real-data paths read the documented SoundNet-Flickr layouts; the benchmark writer
/// produces exactly those layouts, so a written copy stands in for the real dataset.
#[test]
fn real_flickr_training_layout_trains_through_the_same_code() {
    use av_align::data::bench::{AssetPack, BenchConfig, DatasetWriter, Generator, Layout, WriteOptions};
    use av_align::train::load_flickr_train;
    use av_experiments::flickr::train_plan_on;
    use std::sync::Arc;
    let root = tmp("real-layout");
    let generator =
        Generator::new(Arc::new(AssetPack::load_default().unwrap()), BenchConfig::localization(5)).unwrap();
    let writer =
        DatasetWriter::new(&root, Layout::Flickr, generator.config().clone(), WriteOptions::default())
            .unwrap();
    let scenes = generator.scenes(Split::Train, 0..8).unwrap();
    let records = scenes.iter().map(|s| writer.write_scene(s)).collect::<Result<Vec<_>, _>>().unwrap();
    writer.finish(records, generator.assets().fingerprint()).unwrap();
    let (data, report) = load_flickr_train(&root.join("train"), 64).unwrap();
    assert_eq!(data.len(), 8, "{}", report.summary());
    assert_eq!(data.num_classes(), 15);
    let run = root.join("run");
    let trained = train_plan_on(&FlickrPlan::tiny(), &data, &run, &Device::flex(), false).unwrap();
    assert_eq!(trained.history[1].len(), 1);
    assert!(run.join("model/model.bpk").is_file());
    // A layout without labels is refused with a message naming the directory.
    let err = load_flickr_train(&root.join("nowhere"), 64).unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
    // Streamed from disk batch by batch: the same batches as the in-memory copy.
    use av_align::train::BatchSource;
    let (stream, _) = av_align::train::StreamingFlickr::open(&root.join("train"), 64).unwrap();
    assert_eq!((stream.len(), stream.num_classes()), (8, 15));
    for (idx, flips) in [(vec![0, 3, 5], vec![false, true, false]), (vec![7, 1], vec![true, true])] {
        assert_eq!(stream.host_batch(&idx, &flips).unwrap(), data.host_batch(&idx, &flips).unwrap());
    }
    // A pair whose frame is corrupt fails its batch, naming the file; the others still load.
    let bad = stream.pairs()[2].frame.clone();
    std::fs::write(&bad, b"not a jpeg").unwrap();
    let err = stream.host_batch(&[1, 2], &[]).unwrap_err();
    let name = bad.file_name().unwrap().to_string_lossy().to_string();
    assert!(err.to_string().contains(&name), "{err}");
    assert!(stream.host_batch(&[0, 1], &[]).is_ok());
    assert!(matches!(stream.host_batch(&[8], &[]), Err(av_align::Error::Config(_))));
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn multisource_runs_on_an_audioset_layout() {
    use av_align::data::bench::{AssetPack, BenchConfig, DatasetWriter, Generator, Layout, WriteOptions};
    use av_align::data::layouts::audioset::AudioSetLayout;
    use av_experiments::multisource::{evaluate_multisource, load_audioset_split, run_multisource_on};
    use std::sync::Arc;
    let root = tmp("audioset-layout");
    let generator =
        Generator::new(Arc::new(AssetPack::load_default().unwrap()), BenchConfig::localization(9)).unwrap();
    let writer =
        DatasetWriter::new(&root, Layout::AudioSet, generator.config().clone(), WriteOptions::default())
            .unwrap();
    let mut scenes = generator.scenes(Split::Train, 0..8).unwrap();
    scenes.extend(generator.scenes(Split::Test, 0..6).unwrap());
    let records = scenes.iter().map(|s| writer.write_scene(s)).collect::<Result<Vec<_>, _>>().unwrap();
    writer.finish(records, generator.assets().fingerprint()).unwrap();
    let (train, r1) = load_audioset_split(&AudioSetLayout::split(&root, "train"), 64).unwrap();
    let (test, r2) = load_audioset_split(&AudioSetLayout::split(&root, "test"), 64).unwrap();
    assert!(train.dataset.len() >= 8, "{}", r1.summary());
    assert!(
        !test.truths.is_empty() && test.truths.iter().all(|t| t.objects.iter().any(|o| o.sounding)),
        "{}",
        r2.summary()
    );
    let report = run_multisource_on(
        &MultiSourcePlan::tiny(),
        &train.dataset,
        &test,
        &RunContext::new(root.join("run"), Device::flex(), false).unwrap(),
    )
    .unwrap();
    assert_eq!(report.rows.len(), 3);
    // Scoring the trained folders again without training gives the same table.
    let again = evaluate_multisource(
        &RunContext::new(root.join("eval"), Device::flex(), false).unwrap(),
        &root.join("run/ours/model"),
        Some(&root.join("run/avc/model")),
        &test,
    )
    .unwrap();
    assert_eq!(again.rows, report.rows);
    // A model of other classes is refused by name.
    let mut renamed = test.clone();
    renamed.class_names[0] = "Kazoo".into();
    let err = evaluate_multisource(
        &RunContext::new(root.join("eval2"), Device::flex(), false).unwrap(),
        &root.join("run/ours/model"),
        None,
        &renamed,
    )
    .unwrap_err();
    assert!(err.to_string().contains("Kazoo"), "{err}");
    // An item whose audio cannot be decoded is left out and reported with its reason, never
    // dropped silently.
    let (split, _) = AudioSetLayout::split(&root, "test").load(av_align::data::SkipPolicy::Skip).unwrap();
    let broken = &split.clips[0];
    std::fs::write(&broken.audio, b"not audio").unwrap();
    let (fewer, r3) = load_audioset_split(&AudioSetLayout::split(&root, "test"), 64).unwrap();
    let newly_skipped = r3.skipped.len() - r2.skipped.len();
    assert!(newly_skipped >= 1, "{}", r3.summary());
    assert_eq!(fewer.truths.len() + newly_skipped, test.truths.len(), "{}", r3.summary());
    assert!(r3.skipped.iter().any(|s| s.reason == av_align::data::SkipReason::UnreadableAudio));
    std::fs::remove_dir_all(&root).ok();
}

/// `flickr_localize eval --data`: a SoundNet-Flickr test layout (written by the benchmark, the
/// files of the real one) scored through the one-call API with the whole-clip protocol; every
/// item is scored, beside the whole-image and centre-box baselines.
#[test]
fn real_flickr_test_layout_is_scored_through_the_localizer() {
    use av_align::data::bench::{AssetPack, BenchConfig, DatasetWriter, Generator, Layout, WriteOptions};
    use av_experiments::flickr::run_real_test_set;
    use std::sync::Arc;
    let root = tmp("real-test-layout");
    let generator =
        Generator::new(Arc::new(AssetPack::load_default().unwrap()), BenchConfig::localization(5)).unwrap();
    let writer =
        DatasetWriter::new(&root, Layout::Flickr, generator.config().clone(), WriteOptions::default())
            .unwrap();
    let scenes = generator.scenes(Split::Test, 0..6).unwrap();
    let records = scenes.iter().map(|s| writer.write_scene(s)).collect::<Result<Vec<_>, _>>().unwrap();
    writer.finish(records, generator.assets().fingerprint()).unwrap();
    let ctx = RunContext::new(root.join("run"), Device::flex(), false).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/checkpoints/flickr_compact");
    let report = run_real_test_set(&ctx, &shipped, &root.join("test"), 0.5).unwrap();
    assert_eq!(report.items, 6, "{}", report.loaded);
    for s in [&report.model, &report.whole_image, &report.center_box] {
        assert_eq!(s.cious.len(), 6);
        assert!((0.0..=1.0).contains(&s.auc) && (0.0..=1.0).contains(&s.success_rate));
    }
    let table = report.table();
    assert!(table.starts_with("| method | cIoU@0.5 | AUC |\n|---|---|---|\n| ours |"), "{table}");
    assert!(ctx.path("metrics.json").is_file());
    // A folder that is not a test layout is refused with an error, not an empty score.
    assert!(run_real_test_set(&ctx, &shipped, &root.join("nowhere"), 0.5).is_err());
}

/// "Silence is an answer": the rule is chosen on validation clips, measured on test clips and
/// written into the model folder; digital silence is always rejected by the level gate, and a
/// silent clip then gets no map from the one-call API.
#[test]
fn silence_rule_is_calibrated_on_validation_clips_and_stored() {
    use av_align::Localizer;
    use av_experiments::flickr::calibrate_silence;
    use av_experiments::run::RunContext;
    let root = tmp("silence");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/checkpoints/flickr_compact");
    let folder = root.join("model");
    std::fs::create_dir_all(&folder).unwrap();
    for f in ["model.bpk", "model.json", "inputs.json", "plan.json"] {
        std::fs::copy(shipped.join(f), folder.join(f)).unwrap();
    }
    let ctx = RunContext::new(root.join("run"), Device::flex(), false).unwrap();
    let calibration = calibrate_silence(&ctx, &folder, 6, true).unwrap();
    for s in [&calibration.validation, &calibration.test] {
        assert_eq!((s.sounding, s.noise + s.silence), (6, 6));
        assert_eq!(s.silence_rejected, 1.0, "{s:?}");
        assert!((0.0..=1.0).contains(&s.sounding_kept) && (0.0..=1.0).contains(&s.noise_rejected));
    }
    assert!((0.0..=1.0 + f32::EPSILON).contains(&calibration.rule.min_confidence));
    assert!(ctx.path("silence.json").is_file());
    let localizer = Localizer::from_dir_on(&folder, &Device::flex()).unwrap();
    assert_eq!(localizer.inputs().silence, calibration.rule);
    let image = image::RgbImage::from_pixel(64, 48, image::Rgb([10, 20, 30]));
    let heard = localizer.localize(&image, &vec![0.0; 22_050], 22_050).unwrap().hearing;
    assert!(!heard.sounding && heard.level_dbfs == Some(f32::NEG_INFINITY), "{heard:?}");
    assert!(calibrate_silence(&ctx, &folder, 0, false).is_err());
}
