//! The separation experiment (paper §4.4, Table 3) on tiny configurations: it runs end to end
//! with its outputs, every guidance variant gives masks of the separation grid, and the mask
//! path itself is sound (ideal masks through `Guidance::Mask` separate a benchmark pair).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use av_align::separation::{
    Guidance, GuidanceKind, GuidanceProjectionConfig, GuidedSeparatorConfig, Mixer, guidance_for,
    separate_inputs,
};
use av_experiments::flickr::FlickrPlan;
use av_experiments::run::RunContext;
use av_experiments::separation::{Guide, SeparationPlan, prepare_data, run_separation, score, separate_test};
use av_testkit::tmp_dir as tmp;
use burn::tensor::{Device, Tensor, TensorData};

/// An untrained guide of the tiny Flickr plan (its maps are arbitrary but well-formed).
fn untrained_guide(device: &Device) -> Guide {
    let plan = FlickrPlan::tiny();
    let model = plan.model.init(device).unwrap();
    Guide::from_model(model, &plan, "untrained tiny").unwrap()
}

#[test]
fn tiny_run_trains_evaluates_writes_and_resumes() {
    let device = Device::flex();
    let out = tmp("run");
    let guide = Guide::train(&FlickrPlan::tiny(), &out.join("guide"), &device, false).unwrap();
    // The trained guide is loadable the way the example loads a checkpoint.
    let reloaded = Guide::load(&out.join("guide").join("model"), &device).unwrap();
    assert_eq!(reloaded.image_size, guide.image_size);

    let plan = SeparationPlan::tiny();
    let outcome =
        run_separation(&plan, &guide, &RunContext::new(&out, device.clone(), false).unwrap()).unwrap();
    // Mixture, ideal masks, Grad-CAM x 2 columns, 3 trained variants x 2 training sets.
    assert_eq!(outcome.rows.len(), 2 + 2 + 6);
    for row in &outcome.rows {
        assert_eq!(row.evaluated + row.skipped, plan.test_pairs, "{}", row.method);
        assert!(row.sdr_mix.is_finite() && row.sar.is_finite(), "{row:?}");
        if row.kind.is_some_and(GuidanceKind::is_trained) {
            assert!(row.train_steps > 0 && row.final_loss.is_some_and(f32::is_finite), "{row:?}");
        }
    }
    let ideal = outcome.rows.iter().find(|r| r.method.starts_with("Ideal")).unwrap();
    assert!(ideal.nsdr > 5.0, "ideal masks: {ideal:?}");
    for f in ["config.json", "manifest.json", "metrics.json"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        let _: serde_json::Value = serde_json::from_str(&text).unwrap();
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["test"].as_array().unwrap().len(), plan.test_pairs);
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["rows"].as_array().unwrap().len(), outcome.rows.len());
    assert!(std::fs::read_to_string(out.join("table.md")).unwrap().contains("Ours Visual"));
    assert!(std::fs::read_to_string(out.join("table.csv")).unwrap().contains("\nOurs Visual,"));
    let pngs = outcome.files.iter().filter(|p| p.extension().is_some_and(|e| e == "png")).count();
    let wavs = outcome.files.iter().filter(|p| p.extension().is_some_and(|e| e == "wav")).count();
    assert_eq!(pngs, plan.examples);
    assert_eq!(wavs, plan.examples * (1 + 2 * 3)); // mixture + per source: truth, visual, whole frame
    for f in &outcome.files {
        assert!(f.is_file(), "{f:?}");
    }
    let picture = image::open(outcome.files.iter().find(|p| p.ends_with("masks.png")).unwrap()).unwrap();
    assert!(picture.width() >= 6 * 256 && picture.height() >= 2 * 256);

    // A second run loads the finished variants instead of training them again: same numbers.
    let again =
        run_separation(&plan, &guide, &RunContext::new(&out, device.clone(), false).unwrap()).unwrap();
    for (a, b) in outcome.rows.iter().zip(&again.rows) {
        assert_eq!(a.method, b.method);
        assert!((a.sdr - b.sdr).abs() < 1e-9 || (a.sdr.is_nan() && b.sdr.is_nan()), "{a:?} vs {b:?}");
    }
    // Another plan in the same folder is refused.
    let other = SeparationPlan { test_pairs: 2, ..SeparationPlan::tiny() };
    assert!(run_separation(&other, &guide, &RunContext::new(&out, device.clone(), false).unwrap()).is_err());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn every_guidance_variant_gives_masks_of_the_grid() {
    let device = Device::flex();
    let guide = untrained_guide(&device);
    let plan = SeparationPlan { train_pairs: 2, train_duets: 2, test_pairs: 2, ..SeparationPlan::tiny() };
    let data = prepare_data(&plan, &guide, &device, false).unwrap();
    assert_eq!(data.test.len(), 2);
    assert!(data.train.iter().any(|t| t.duet), "the tiny plan keeps a duet");
    let d = FlickrPlan::tiny().model.visual_channels();
    let config = GuidedSeparatorConfig::new(
        plan.net.clone(),
        GuidanceProjectionConfig::new(d).with_channels(plan.net.channels),
    );
    let model = config.init(&device).unwrap();
    let mixer = Mixer::sound_of_pixels().unwrap();
    for item in &data.test {
        assert_eq!(item.guidance.len(), 2);
        for g in &item.guidance {
            assert_eq!((g.visual.len(), g.audio.len(), g.whole_frame.len()), (d, d, d));
            let cam = g.cam_mask.as_ref().unwrap();
            assert_eq!(cam.dim(), (256, 256));
            assert!(cam.iter().all(|v| (0.0..=1.0).contains(v)));
            assert_eq!(g.localization.len(), g.loc_size[0] * g.loc_size[1]);
        }
    }
    for kind in GuidanceKind::ALL {
        let sources: Vec<_> = data.test.iter().map(|t| &t.guidance[0]).collect();
        let g = guidance_for(kind, &sources, Some(&model.projection), &device).unwrap();
        match (&g, kind) {
            (Guidance::Mask(m), GuidanceKind::GradCam) => assert_eq!(m.dims(), [2, 256, 256]),
            (Guidance::Vector(v), _) => assert_eq!(v.dims(), [2, plan.net.channels]),
            _ => panic!("{kind:?} gave the wrong guidance type"),
        }
        let output = separate_test(kind, Some(&model), &data.test, &mixer, &device).unwrap();
        assert_eq!(output.masks.len(), 2);
        for masks in &output.masks {
            assert_eq!(masks.len(), 2);
            assert!(masks.iter().all(|m| m.dim() == (256, 256) && m.iter().all(|v| v.is_finite())));
        }
        assert!(output.estimates.iter().flatten().all(|e| e.len() == mixer.config().output_len()));
    }
}

#[test]
fn ideal_masks_through_the_mask_path_separate_a_benchmark_pair() {
    let device = Device::flex();
    let guide = untrained_guide(&device);
    let plan = SeparationPlan { train_pairs: 1, train_duets: 0, test_pairs: 2, ..SeparationPlan::tiny() };
    let data = prepare_data(&plan, &guide, &device, false).unwrap();
    let mixer = Mixer::sound_of_pixels().unwrap();
    let net = plan.net.init(&device).unwrap();
    // The oracle: each source's ideal binary mask given as Guidance::Mask.
    let mut estimates = Vec::new();
    for item in &data.test {
        let guidance: Vec<Guidance> = item
            .example
            .targets
            .iter()
            .map(|t| {
                let values: Vec<f32> = t.iter().copied().collect();
                Guidance::Mask(Tensor::from_data(TensorData::new(values, [1, 256, 256]), &device))
            })
            .collect();
        let sep = separate_inputs(&net, &mixer, &[&item.example.input], &guidance, &device).unwrap();
        estimates.push(sep.into_iter().next().unwrap().sources);
    }
    let report = score(&mixer, "oracle", &data.test, &estimates).unwrap();
    println!(
        "oracle on {} benchmark pairs: SDR {:.2} SIR {:.2} SAR {:.2} (mixture {:.2})",
        report.evaluated, report.sdr, report.sir, report.sar, report.sdr_mix
    );
    assert_eq!(report.evaluated, 2);
    assert!(report.sdr > 12.0 && report.sdr - report.sdr_mix > 10.0, "{report:?}");
}

/// `--data`: a MUSIC layout (here written by the benchmark, the same files as the real one)
/// goes through the same pipeline; its solos make the pairs.
#[test]
fn a_music_layout_runs_through_the_same_pipeline() {
    use av_align::data::bench::{AssetPack, BenchConfig, DatasetWriter, Generator, Layout, WriteOptions};
    use std::sync::Arc;
    let device = Device::flex();
    let root = tmp("music-layout");
    let generator =
        Generator::new(Arc::new(AssetPack::load_default().unwrap()), BenchConfig::separation(4)).unwrap();
    let writer = DatasetWriter::new(
        root.join("data"),
        Layout::Music,
        generator.config().clone(),
        WriteOptions::default(),
    )
    .unwrap();
    let mut scenes = generator.scenes(av_align::data::Split::Train, 0..24).unwrap();
    scenes.extend(generator.scenes(av_align::data::Split::Test, 0..16).unwrap());
    let records = scenes.iter().map(|s| writer.write_scene(s)).collect::<Result<Vec<_>, _>>().unwrap();
    writer.finish(records, generator.assets().fingerprint()).unwrap();
    let guide = Guide::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/checkpoints/flickr_compact"),
        &device,
    )
    .unwrap();
    let plan = SeparationPlan { data_root: Some(root.join("data")), test_pairs: 2, ..SeparationPlan::tiny() };
    let outcome =
        run_separation(&plan, &guide, &RunContext::new(root.join("run"), device.clone(), false).unwrap())
            .unwrap();
    assert!(outcome.rows.iter().any(|r| r.method.starts_with("Ideal") && r.evaluated > 0));
    let missing = SeparationPlan { data_root: Some(root.join("nowhere")), ..SeparationPlan::tiny() };
    assert!(
        run_separation(&missing, &guide, &RunContext::new(root.join("run2"), device.clone(), false).unwrap())
            .is_err()
    );
    std::fs::remove_dir_all(&root).ok();
}
