//! The original code's CRNN (`mobilecrnn_v2`) and Fig. 3 AVC head (`DiscrimHead`) against
//! PyTorch 2.9, in eval mode (BN running statistics, plain CPU device) and train mode (BN batch
//! statistics, autodiff device; the GRU has no BN and no dropout, so it is the same in both).
//!
//! Fixtures: `tests/fixtures/{crnn,discrim_head}.safetensors`, written by
//! `/work/venv-torch/bin/python tools/reference/make_crnn_fixtures.py` (command and pins in its
//! header). Each holds the reference weights under the PyTorch `state_dict` keys (the CRNN's GRU
//! already split into Burn's per-gate naming by the script's `gru_to_burn`), which these tests
//! write to a temporary `.safetensors` file and import with the crate's key remap tables.
//! Tolerance: max abs error <= 1e-4 x max |reference output|.

use crate::common::{TOL, fixture, weights_file};
use av_backbones::weights::load_pytorch_state_dict;
use av_backbones::{
    AudioPooling, BackboneError, CrnnConfig, DISCRIM_HEAD_KEY_REMAPS, DiscrimHeadConfig,
    MOBILECRNN_KEY_REMAPS,
};
use burn::tensor::{Device, Distribution, Tensor};

fn devices() -> [(&'static str, Device); 2] {
    [("eval", Device::flex()), ("train", Device::flex().autodiff())]
}

#[test]
fn crnn_matches_mobilecrnn_v2() {
    let fx = fixture("crnn");
    let file = weights_file(&fx);
    for (mode, device) in devices() {
        // Reduced-width twin: base width 4 (F_a 32 channels), GRU hidden 16, C = 5.
        let net = CrnnConfig::new(5).with_base_width(4).with_gru_hidden(16).init(&device);
        let net = load_pytorch_state_dict(net, &file, &MOBILECRNN_KEY_REMAPS, false).unwrap();
        let x: Tensor<4> = fx.tensor("in.x", &device);
        let features = net.forward_features(x.clone());
        fx.assert_tensor(&format!("{mode}.features"), features.clone(), TOL);
        let out = net.forward_head(features);
        fx.assert_tensor(&format!("{mode}.frame_probs"), out.frame_probs, TOL);
        fx.assert_tensor(&format!("{mode}.clip_probs"), out.clip_probs, TOL);
        // `forward` is `forward_head(forward_features(..))`.
        fx.assert_tensor(&format!("{mode}.clip_probs"), net.forward(x).clip_probs, TOL);
    }
}

#[test]
fn discrim_head_matches_pytorch() {
    let fx = fixture("discrim_head");
    let file = weights_file(&fx);
    for (mode, device) in devices() {
        let config = DiscrimHeadConfig::new().with_channels(16).with_d_hidden(8);
        // The reference's `transform_a/v` (each Linear, ReLU, Linear, BN1d: 8 tensors) are in the
        // file and unused by the head: a strict import names them, the lenient one skips them.
        let strict = load_pytorch_state_dict(config.init(&device), &file, &DISCRIM_HEAD_KEY_REMAPS, false);
        match strict {
            Err(BackboneError::UnusedKeys { count: 16, example, .. }) => {
                assert!(example.starts_with("transform_"))
            }
            other => panic!("expected the 16 transform_a/v tensors as unused, got {other:?}"),
        }
        let head =
            load_pytorch_state_dict(config.init(&device), &file, &DISCRIM_HEAD_KEY_REMAPS, true).unwrap();
        let f_a: Tensor<4> = fx.tensor("in.f_a", &device);

        // Flickr, frames = 1: matched pairs and the neighbour negatives.
        let out = head.forward(f_a.clone(), fx.tensor("in.e_v1", &device), 1).unwrap();
        fx.assert_tensor(&format!("{mode}.e_a"), out.audio_map, TOL);
        fx.assert_tensor(&format!("{mode}.audio1"), out.audio.clone(), TOL);
        fx.assert_tensor(&format!("{mode}.visual1"), out.visual.clone(), TOL);
        fx.assert_tensor(&format!("{mode}.common1"), out.logits, TOL);
        fx.assert_tensor(
            &format!("{mode}.differ1"),
            head.neighbour_negatives(out.audio, out.visual).unwrap(),
            TOL,
        );

        // Several frames: adaptive bins over E_a's 6 steps (3 disjoint bins, 4 overlapping ones).
        let out3 = head.forward(f_a.clone(), fx.tensor("in.e_v3", &device), 3).unwrap();
        fx.assert_tensor(&format!("{mode}.common3"), out3.logits, TOL);
        let out4 = head.forward(f_a.clone(), fx.tensor("in.e_v4", &device), 4).unwrap();
        fx.assert_tensor(&format!("{mode}.common4"), out4.logits, TOL);

        // AudioSet: global audio max pool repeated over the frames.
        let config = config.with_audio_pooling(AudioPooling::GlobalRepeated);
        let head =
            load_pytorch_state_dict(config.init(&device), &file, &DISCRIM_HEAD_KEY_REMAPS, true).unwrap();
        let out = head.forward(f_a, fx.tensor("in.e_v3", &device), 3).unwrap();
        fx.assert_tensor(&format!("{mode}.common_audioset"), out.logits, TOL);
    }
}

/// The full-size networks give the shapes of the tables in docs/reference_implementation.md §3.1 and §3.3 for a 5-s clip.
#[test]
fn full_size_shapes_follow_the_spec() {
    let device = Device::flex();
    let config = CrnnConfig::new(7);
    let crnn = config.init(&device);
    let x = Tensor::<4>::random([1, 1, 251, 64], Distribution::Default, &device);
    let f_a = crnn.forward_features(x);
    assert_eq!(f_a.dims(), [1, 512, 63, 2]);
    assert_eq!([config.out_channels(), CrnnConfig::out_frames(251), config.out_freq()], [512, 63, 2]);
    let out = crnn.forward_head(f_a.clone());
    assert_eq!(out.frame_probs.dims(), [1, 63, 7]);
    assert_eq!(out.clip_probs.dims(), [1, 7]);

    let head = DiscrimHeadConfig::new().init(&device);
    let e_v = Tensor::<4>::random([1, 512, 16, 16], Distribution::Default, &device);
    let out = head.forward(f_a, e_v, 1).unwrap();
    assert_eq!(out.audio_map.dims(), [1, 512, 15, 1]);
    assert_eq!(out.logits.dims(), [1, 1, 2]);
}

#[test]
fn discrim_head_rejects_bad_batches_with_typed_errors() {
    use av_backbones::{BackboneError, DiscrimHead};
    let device = Device::flex();
    let odd = Tensor::<3>::zeros([3, 1, 16], &device);
    let head = av_backbones::DiscrimHeadConfig::new().with_channels(16).with_d_hidden(8).init(&device);
    assert!(matches!(head.neighbour_negatives(odd.clone(), odd), Err(BackboneError::BatchShape { .. })));
    let e_v = Tensor::<4>::zeros([5, 16, 2, 2], &device);
    assert!(matches!(DiscrimHead::pool_visual(e_v, 2), Err(BackboneError::BatchShape { .. })));
}
