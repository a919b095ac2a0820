//! Forward and backward parity of the networks on Burn's `wgpu` backend against `flex`.
//!
//! Run by CI on software Vulkan (llvmpipe) with `AV_ALIGN_WGPU_TEST=require`; elsewhere it is
//! skipped, with a message, when no Vulkan driver is installed. Tolerance: 1e-3 relative to the
//! reference's peak (f32 reductions run in another order on the GPU path; llvmpipe's own
//! rounding stays near 1e-6, well inside it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use av_align::alignment::PositionLossConfig;
use av_align::model::{AvModelConfig, Batch, Method, ObjectiveConfig, Stage};
use av_separation::{Guidance, SeparationNetConfig, loss::weighted_bce_with_logits};
use av_testkit::max_rel_err;
use burn::module::Module;
use burn::tensor::{Device, DeviceKind, Distribution, Tensor, TensorData};

/// Relative tolerance of every comparison (see the module doc).
const TOLERANCE: f32 = 1e-3;

/// Where Vulkan loaders look for installable client drivers.
const ICD_DIRS: [&str; 2] = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"];

/// The WGPU device, or `None` (test skipped) when the machine has no Vulkan driver and CI did not
/// require the test.
fn wgpu_device(test: &str) -> Option<Device> {
    let required = std::env::var("AV_ALIGN_WGPU_TEST").is_ok_and(|v| v == "require");
    let has_driver =
        ICD_DIRS.iter().any(|d| Path::new(d).read_dir().is_ok_and(|mut entries| entries.any(|e| e.is_ok())));
    if !has_driver && !required {
        eprintln!(
            "{test}: SKIPPED, no Vulkan driver in {ICD_DIRS:?} (install mesa-vulkan-drivers and libvulkan1, \
             or set AV_ALIGN_WGPU_TEST=require to make this a failure)"
        );
        return None;
    }
    assert!(
        std::env::var_os("XDG_RUNTIME_DIR").is_some(),
        "software Vulkan needs XDG_RUNTIME_DIR set to a writable folder (.ci/run sets it)"
    );
    Some(Device::wgpu(DeviceKind::DefaultDevice))
}

/// The seed of a test's random model and inputs: `AV_WGPU_PARITY_SEED`, else 1. Unseeded draws
/// failed about one run in ten, mostly because the two tests drew from the device's shared random
/// generator at once; the tests now hold [`SERIAL`] while they run, so the seed decides every
/// draw. Of seeds 1-30, one (19) puts a pre-activation of the U-Net on a kink, which
/// [`gradients_away_from_kinks`] handles.
fn parity_seed() -> u64 {
    std::env::var("AV_WGPU_PARITY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1)
}

/// Held by each test for its whole run (see [`parity_seed`]).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A tensor of `device` with the values of `t` (any device).
fn copy_to<const D: usize>(t: &Tensor<D>, device: &Device) -> Tensor<D> {
    Tensor::from_data(t.to_data(), device)
}

/// `max_rel_err` of a WGPU result against the flex reference, computed on flex.
fn rel_err<const D: usize>(wgpu: Tensor<D>, flex: Tensor<D>) -> f32 {
    let device = flex.device();
    max_rel_err(copy_to(&wgpu, &device), flex)
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

#[test]
fn coarse_to_fine_model_forward_and_backward_match_flex() {
    let Some(gpu) = wgpu_device("coarse_to_fine_model_forward_and_backward_match_flex") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (cpu, gpu) = (Device::flex().autodiff(), gpu.autodiff());
    cpu.seed(parity_seed());
    let mut config = AvModelConfig::compact(3);
    config.visual = config.visual.with_base_width(4);
    config.audio = config.audio.with_base_width(4);
    let config = config.with_projection_hidden(32).with_embedding_dim(16).with_avc_hidden(8);
    let model = config.init(&cpu).unwrap();
    let model_gpu = model.clone().fork(&gpu);

    let labels = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0], [4, 3]),
        &cpu,
    );
    let batch = Batch {
        frames: Tensor::random([4, 3, 64, 64], Distribution::Default, &cpu),
        logmels: Tensor::random([4, 1, 32, 32], Distribution::Default, &cpu),
        labels_a: labels.clone(),
        labels_v: labels,
    };
    let batch_gpu = Batch {
        frames: copy_to(&batch.frames, &gpu),
        logmels: copy_to(&batch.logmels, &gpu),
        labels_a: copy_to(&batch.labels_a, &gpu),
        labels_v: copy_to(&batch.labels_v, &gpu),
    };

    // Forward: the features both stages start from.
    let f = model.features(batch.frames.clone(), batch.logmels.clone()).unwrap();
    let f_gpu = model_gpu.features(batch_gpu.frames.clone(), batch_gpu.logmels.clone()).unwrap();
    let (ev, ea) = (rel_err(f_gpu.f_v, f.f_v), rel_err(f_gpu.f_a, f.f_a));
    assert!(ev < TOLERANCE && ea < TOLERANCE, "features: visual {ev:.2e}, audio {ea:.2e}");

    for (method, stage, position) in [
        (Method::MultiTask, Stage::One, None),
        (Method::CoarseToFine, Stage::Two, Some(PositionLossConfig::lvs())),
    ] {
        let objective =
            ObjectiveConfig { method, stage, position, position_weight: 1.0, ..ObjectiveConfig::default() };
        // The frames are the input nudged away from kinks; the log-mels stay as drawn.
        let gradients_at = |frames: &Tensor<4>| -> Result<String, String> {
            let batch = Batch { frames: frames.clone(), ..batch.clone() };
            let batch_gpu = Batch { frames: copy_to(frames, &gpu), ..batch_gpu.clone() };
            let (loss, _) = model.objective(&batch, &objective).unwrap();
            let (loss_gpu, _) = model_gpu.objective(&batch_gpu, &objective).unwrap();
            let (l, l_gpu) = (scalar(loss.clone()), scalar(loss_gpu.clone()));
            assert!(
                ((l - l_gpu) / l.abs().max(1e-6)).abs() < TOLERANCE,
                "{stage:?} loss: flex {l}, wgpu {l_gpu}"
            );
            // Backward: gradients of the first visual and audio convolutions and a head.
            let (g, g_gpu) = (loss.backward(), loss_gpu.backward());
            let pairs = [
                (
                    "visual.conv1",
                    &model.visual.as_ref().expect("a ResNet model").conv1.weight,
                    &model_gpu.visual.as_ref().expect("a ResNet model").conv1.weight,
                ),
                ("audio.conv1", &model.audio.conv1.weight, &model_gpu.audio.conv1.weight),
            ];
            let mut report = format!("loss flex {l} wgpu {l_gpu}");
            let mut worst = 0.0f32;
            for (name, p, p_gpu) in pairs {
                let e = rel_err(p_gpu.grad(&g_gpu).expect("wgpu grad"), p.grad(&g).expect("flex grad"));
                report.push_str(&format!("; d{name} {e:.1e}"));
                worst = worst.max(e);
            }
            let (head, head_gpu) = (&model.class_v.fc.weight, &model_gpu.class_v.fc.weight);
            let e = rel_err(head_gpu.grad(&g_gpu).expect("wgpu grad"), head.grad(&g).expect("flex grad"));
            report.push_str(&format!("; dclass_v {e:.1e}"));
            if worst.max(e) < TOLERANCE { Ok(report) } else { Err(report) }
        };
        let report = gradients_away_from_kinks(&cpu, &batch.frames, gradients_at);
        eprintln!("{stage:?}: features {ev:.1e} / {ea:.1e}; {report}");
    }
}

#[test]
fn separation_unet_forward_and_backward_match_flex() {
    let Some(gpu) = wgpu_device("separation_unet_forward_and_backward_match_flex") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (cpu, gpu) = (Device::flex().autodiff(), gpu.autodiff());
    cpu.seed(parity_seed());
    // The compact U-Net at depth 5 on a 64 x 64 grid: every layer kind of the paper's U-Net-7.
    let net = SeparationNetConfig::compact().with_num_downs(5).init(&cpu).unwrap();
    let net_gpu = net.clone().fork(&gpu);
    let x = Tensor::<4>::random([2, 1, 64, 64], Distribution::Default, &cpu);
    let v = Tensor::<2>::random([2, net.channels()], Distribution::Uniform(0.0, 1.0), &cpu);
    let target = Tensor::<4>::random([2, 1, 64, 64], Distribution::Uniform(0.0, 1.0), &cpu).round();
    let weight = Tensor::<4>::random([2, 1, 64, 64], Distribution::Uniform(0.1, 2.0), &cpu);

    let gradients_at = |x: &Tensor<4>| -> Result<String, String> {
        let out = net.forward(x.clone(), &[Guidance::Vector(v.clone())]).unwrap().remove(0);
        let out_gpu =
            net_gpu.forward(copy_to(x, &gpu), &[Guidance::Vector(copy_to(&v, &gpu))]).unwrap().remove(0);
        let e = rel_err(out_gpu.mask.clone(), out.mask.clone());
        // Forward results are continuous in the inputs: a mismatch is never a kink.
        assert!(e < TOLERANCE, "mask: {e:.2e}");
        let loss = weighted_bce_with_logits(out.logits.unwrap(), target.clone(), weight.clone());
        let loss_gpu =
            weighted_bce_with_logits(out_gpu.logits.unwrap(), copy_to(&target, &gpu), copy_to(&weight, &gpu));
        let (l, l_gpu) = (scalar(loss.clone()), scalar(loss_gpu.clone()));
        assert!(((l - l_gpu) / l.abs().max(1e-6)).abs() < TOLERANCE, "loss: flex {l}, wgpu {l_gpu}");
        let (g, g_gpu) = (loss.backward(), loss_gpu.backward());
        let outer = (&net.unet.levels[0].down_conv.weight, &net_gpu.unet.levels[0].down_conv.weight);
        let inner = (&net.unet.levels[4].up_conv.weight, &net_gpu.unet.levels[4].up_conv.weight);
        let scale = (&net.synthesizer.scale, &net_gpu.synthesizer.scale);
        let mut report = format!("loss flex {l} wgpu {l_gpu}");
        let mut worst = 0.0f32;
        for (name, (p, p_gpu)) in [("outermost down conv", outer), ("innermost up conv", inner)] {
            let e = rel_err(p_gpu.grad(&g_gpu).expect("wgpu grad"), p.grad(&g).expect("flex grad"));
            report.push_str(&format!("; d({name}) {e:.1e}"));
            worst = worst.max(e);
        }
        let e = rel_err(scale.1.grad(&g_gpu).expect("wgpu grad"), scale.0.grad(&g).expect("flex grad"));
        report.push_str(&format!("; d(synthesizer scale) {e:.1e}"));
        if worst.max(e) < TOLERANCE { Ok(report) } else { Err(report) }
    };
    let report = gradients_away_from_kinks(&cpu, &x, gradients_at);
    eprintln!("U-Net: {report}");
}

/// How far the nearby points of [`gradients_away_from_kinks`] lie from the drawn input, relative
/// to its scale (the inputs are standard normal).
const NEARBY: f64 = 1e-3;
/// How many nearby points [`gradients_away_from_kinks`] tries.
const NEARBY_POINTS: u64 = 3;

/// Runs `check` (forward asserts inside, gradients compared in the `Result`) at `x`; if the
/// gradients disagree there, at [`NEARBY_POINTS`] points within [`NEARBY`] of `x`, and passes when
/// one of them agrees. Returns the report of the point that passed.
///
/// Why: ReLU, LeakyReLU and max-pooling make the loss piecewise smooth. Where a pre-activation
/// lies within float rounding of a kink (|z| about 1e-7), the two backends, which sum in different
/// orders, can take different sides and both be right: their gradients then differ by that
/// element's whole contribution, which in the small test nets (batch statistics over a few
/// elements at 2 x 2) reaches 1e-2 to 7e-2 of the peak. Seen at `AV_WGPU_PARITY_SEED=19`: d(outermost
/// down conv) 2.7e-2 at the drawn point, 1.2e-6 at the first point within 1e-3 of it. Such points have measure
/// zero, so a point 1e-3 away almost surely has no kink in reach, while a real error in a
/// backend's gradient (a wrong kernel) shows at every point. Forward results are never retried.
fn gradients_away_from_kinks(
    cpu: &Device,
    x: &Tensor<4>,
    check: impl Fn(&Tensor<4>) -> Result<String, String>,
) -> String {
    let first = match check(x) {
        Ok(report) => return report,
        Err(report) => report,
    };
    let mut tried = vec![format!("drawn point: {first}")];
    for k in 0..NEARBY_POINTS {
        cpu.seed(parity_seed().wrapping_mul(1000).wrapping_add(k + 1));
        let nudge = Tensor::<4>::random(x.dims(), Distribution::Normal(0.0, NEARBY), cpu);
        match check(&(x.clone() + nudge)) {
            Ok(report) => {
                return format!(
                    "gradients differed at the drawn point ({first}), a kink; agree at nearby point {k}: {report}"
                );
            }
            Err(report) => tried.push(format!("nearby point {k}: {report}")),
        }
    }
    panic!(
        "gradients differ beyond {TOLERANCE:.0e} at the drawn point and every nearby one:\n{}",
        tried.join("\n")
    );
}

/// The trunk cache's frame keys on WGPU (no in-place path there: the frames are read back and
/// hashed on the host) equal those flex computes in its own buffer.
#[test]
fn image_keys_match_flex() {
    let Some(gpu) = wgpu_device("image_keys_match_flex") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let frames = Tensor::<4>::random([3, 3, 8, 8], Distribution::Default, &Device::flex());
    let on_gpu = copy_to(&frames, &gpu);
    let flex_keys = av_kernels::image_keys(frames, 11).expect("flex keys");
    assert_eq!(av_kernels::image_keys(on_gpu.clone(), 11).expect("wgpu keys"), flex_keys);
    assert_eq!(av_kernels::image_keys(on_gpu.autodiff(), 11).expect("wgpu keys"), flex_keys);
}
