//! Kill and resume: both trainers (the two-stage localization trainer and the separation
//! trainer) are run as child processes, killed with SIGKILL at random points (inside steps and
//! while checkpoints are being written), restarted with the same command until they finish, and
//! compared with an uninterrupted run: the final models must compute exactly the same outputs
//! (localization) or scores (separation), with the same losses. After every kill, `latest` must name a complete checkpoint (or none). A failed
//! checkpoint write is a typed error that keeps the last good checkpoint.
//!
//! The child process is this test binary itself, re-run on the single test
//! `zz_child_process_trains_when_asked` with `AV_KILL_RESUME_CHILD=<mode>:<dir>` set; without
//! that variable that function returns at once. `tools/kill_resume.sh` runs the same test with
//! more kills (`AV_KILL_RESUME_KILLS`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use av_align::data::rng::SplitMix64;
use av_align::model::Stage;
use av_align::separation::GuidanceKind;
use av_align::train::{TrainConfig, Trainer};
use av_experiments::flickr::{FlickrPlan, load_run_model, train_plan};
use av_experiments::run::RunContext;
use av_experiments::separation::{Guide, SeparationPlan, TrainingSet, run_separation};
use av_testkit::tmp_dir as tmp;
use burn::tensor::Device;

const CHILD_ENV: &str = "AV_KILL_RESUME_CHILD";
const KILLS_ENV: &str = "AV_KILL_RESUME_KILLS";

/// The localization run: the tiny plan with batches of 2 (4 steps per epoch), 6 + 4 epochs, a
/// checkpoint after every step.
fn localization_plan() -> FlickrPlan {
    let mut plan = FlickrPlan::tiny();
    plan.stage1.epochs = 6;
    plan.stage2.epochs = 4;
    plan.stage1.batch_size = 2;
    plan.stage2.batch_size = 2;
    plan.stage1.checkpoint_every = 1;
    plan.stage2.checkpoint_every = 1;
    plan
}

/// The separation run: the tiny plan, one trained variant on one training set, 4 epochs, a
/// checkpoint after every step, guided by an untrained tiny model (seeded, so every process
/// builds the same guide).
fn separation_run(dir: &Path) {
    let device = Device::flex();
    device.seed(3);
    let guide_plan = FlickrPlan::tiny();
    let guide =
        Guide::from_model(guide_plan.model.init(&device).unwrap(), &guide_plan, "untrained tiny").unwrap();
    let plan = SeparationPlan {
        epochs: 4,
        variants: vec![GuidanceKind::Visual],
        training_sets: vec![TrainingSet::MultiSource],
        ..SeparationPlan::tiny()
    };
    run_separation(&plan, &guide, &RunContext::new(dir, device, false).unwrap()).unwrap();
}

/// Not a test of its own: the body of the child processes (see the module docs).
#[test]
fn zz_child_process_trains_when_asked() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (mode, dir) = spec.split_once(':').unwrap();
    match mode {
        "localization" => {
            train_plan(&localization_plan(), Path::new(dir), &Device::flex(), false).unwrap();
        }
        "separation" => separation_run(Path::new(dir)),
        other => panic!("unknown mode {other}"),
    }
}

fn child(mode: &str, dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_resume::zz_child_process_trains_when_asked", "--test-threads", "1"])
        .env(CHILD_ENV, format!("{mode}:{}", dir.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Every `latest` under `dir` names a checkpoint folder that holds its marker file.
fn assert_latest_complete(dir: &Path) {
    for entry in walk(dir) {
        if entry.file_name().is_some_and(|n| n == "latest") {
            let name = std::fs::read_to_string(&entry).unwrap();
            let target = entry.parent().unwrap().join(name.trim());
            assert!(
                target.join("state.json").is_file() && target.join("model.bpk").is_file(),
                "{} names an incomplete checkpoint {}",
                entry.display(),
                target.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// What a finished run computed, for comparison. Localization: the final model's outputs on
/// fixed inputs (audio and visual logits, visual features), both stages' per-epoch losses.
/// Separation: the trained variant's per-epoch losses and every score of `metrics.json` (wall
/// times removed). Weight files are not compared byte for byte: burnpack stores parameter ids,
/// which are new in every process.
fn outcome(mode: &str, dir: &Path) -> serde_json::Value {
    if mode == "localization" {
        let device = Device::flex();
        let (plan, model) = load_run_model(&dir.join("model"), &device).unwrap();
        let data = av_experiments::generate(&plan.data, av_align::data::Split::Val, 0..2, false).unwrap();
        let batch = data.dataset.batch(&[0, 1], &[false, false], &device).unwrap();
        let f = model.features(batch.frames, batch.logmels).unwrap();
        let v = |t: burn::tensor::Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let pooled = f.f_v.clone().mean_dim(3).mean_dim(2).flatten::<2>(1, 3);
        return serde_json::json!({
            "logits_a": v(f.logits_a), "logits_v": v(f.logits_v), "visual": v(pooled), "losses": losses(dir),
        });
    }
    let mut metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    strip_seconds(&mut metrics);
    let states: Vec<serde_json::Value> = walk(dir)
        .into_iter()
        .filter(|p| p.ends_with("model/state.json"))
        .map(|p| {
            let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            s["epoch_losses"].clone()
        })
        .collect();
    assert!(!states.is_empty(), "no trained variant in {}", dir.display());
    serde_json::json!({ "metrics": metrics, "losses": states })
}

fn strip_seconds(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !k.contains("seconds"));
            map.values_mut().for_each(strip_seconds);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_seconds),
        _ => {}
    }
}

/// Runs `mode` in `dir` to the end, killing it up to `kills` times at random moments once it
/// trains (`span`: the length of an uninterrupted run); returns how many kills landed before
/// the run finished.
fn run_with_kills(mode: &str, dir: &Path, kills: usize, span: Duration, seed: u64) -> usize {
    let mut rng = SplitMix64::new(seed);
    let mut landed = 0;
    for attempt in 0..kills + 1 {
        let mut process = child(mode, dir);
        if attempt < kills {
            // Wait until this attempt trains (a checkpoint exists), then kill at a random moment
            // within half the run's length: inside a step or while a checkpoint is written.
            let started = Instant::now();
            while !walk(dir).iter().any(|p| p.ends_with("checkpoints/latest")) && started.elapsed() < span {
                std::thread::sleep(Duration::from_millis(5));
            }
            let wait = Duration::from_millis(rng.below((span.as_millis() / 2).max(2) as usize) as u64);
            std::thread::sleep(wait);
            if process.try_wait().unwrap().is_none() {
                process.kill().unwrap(); // SIGKILL on Unix
                process.wait().unwrap();
                landed += 1;
                assert_latest_complete(dir);
                continue;
            }
        }
        let status = process.wait().unwrap();
        assert!(status.success(), "{mode}: attempt {attempt} failed: {status}");
        return landed;
    }
    landed
}

fn kills() -> usize {
    std::env::var(KILLS_ENV).ok().and_then(|k| k.parse().ok()).unwrap_or(4)
}

/// The per-epoch total losses of a localization run's `history.json` (both stages).
fn losses(dir: &Path) -> Vec<f64> {
    let h: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("history.json")).unwrap()).unwrap();
    h.as_array()
        .unwrap()
        .iter()
        .flat_map(|stage| stage.as_array().unwrap().iter().map(|e| e["loss"]["total"].as_f64().unwrap()))
        .collect()
}

fn check_mode(mode: &str, seed: u64) {
    let root = tmp(&format!("kill-{mode}"));
    let (a, b) = (root.join("straight"), root.join("killed"));
    let started = Instant::now();
    let status = child(mode, &a).wait().unwrap();
    assert!(status.success(), "uninterrupted {mode} run failed");
    let span = started.elapsed();
    let landed = run_with_kills(mode, &b, kills(), span, seed);
    assert!(landed >= 1, "{mode}: no kill landed before the run finished");
    let (x, y) = (outcome(mode, &a), outcome(mode, &b));
    assert!(
        x == y,
        "{mode}: results differ after {landed} kills:\n  straight: {x:.200}\n  killed:   {y:.200}"
    );
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn localization_training_killed_at_random_points_resumes_to_identical_weights_and_losses() {
    check_mode("localization", 11);
}

#[test]
fn separation_training_killed_at_random_points_resumes_to_identical_weights() {
    check_mode("separation", 12);
}

#[test]
fn a_failed_checkpoint_write_is_a_typed_error_and_keeps_the_last_good_checkpoint() {
    let device = Device::flex();
    let plan = FlickrPlan::tiny();
    let data = av_experiments::generate(&plan.data, av_align::data::Split::Train, 0..8, false).unwrap();
    let cfg =
        TrainConfig { epochs: 2, batch_size: 4, checkpoint_every: 1, ..TrainConfig::mssl_new(Stage::One) };
    let run = tmp("write-failure");
    let init = plan.model.init(&device).unwrap();
    let first = Trainer::new(cfg.clone(), &run)
        .unwrap()
        .stop_after_steps(2)
        .fit(init.clone(), &plan.model, &data.dataset, &device)
        .unwrap();
    assert!(!first.finished);
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    // A file where the next checkpoint's folder must go: the write fails as on a full or
    // read-only disk (permission bits do not stop root, who runs CI).
    std::fs::write(run.join("checkpoints/step-00000003.tmp"), b"in the way").unwrap();
    let err = Trainer::new(cfg, &run).unwrap().fit(init, &plan.model, &data.dataset, &device).unwrap_err();
    assert!(matches!(err, av_align::Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("step-00000003.tmp"), "{err}");
    assert_eq!(std::fs::read_to_string(run.join("checkpoints/latest")).unwrap(), latest);
    assert_latest_complete(&run);
    std::fs::remove_dir_all(&run).ok();
}
