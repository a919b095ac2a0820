//! av-backbones against PyTorch 2.9 (torchvision topology, Sound-of-Pixels code), in eval mode
//! (BN running statistics, plain CPU device) and train mode (batch statistics, autodiff device).
//!
//! Fixtures: `tests/fixtures/*.safetensors`, written by
//! `python tools/reference/make_backbone_fixtures.py` (command and pins in its header).
//! Each holds the reference weights under PyTorch `state_dict` keys, which these tests write to
//! a temporary `.safetensors` file and import through the same code path a user's torchvision
//! file takes. Tolerance: max abs error <= 1e-4 x max |reference output|.

use crate::common::{TOL, fixture, weights_file};
use av_backbones::weights::{ResNetImport, ResNetNaming, load_pytorch_state_dict, load_torchvision_resnet};
use av_backbones::{
    AvcMlpConfig, ClassifierHeadConfig, ProjectionHeadConfig, ResNetConfig, SopVisualNetConfig, UnetConfig,
};
use burn::tensor::{Device, Tensor};

fn devices() -> [(&'static str, Device); 2] {
    [("eval", Device::flex()), ("train", Device::flex().autodiff())]
}

#[test]
fn visual_resnet_with_layer5_matches_pytorch() {
    let fx = fixture("resnet_visual");
    let file = weights_file(&fx);
    for (mode, device) in devices() {
        let net = ResNetConfig::visual().with_base_width(4).with_layer5(true).init(&device);
        let net = load_torchvision_resnet(net, &file, ResNetImport::default()).unwrap();
        let out = net.forward(fx.tensor("in.x", &device));
        fx.assert_tensor(&format!("{mode}.layer3"), out.layer3, TOL);
        fx.assert_tensor(&format!("{mode}.layer4"), out.layer4, TOL);
        fx.assert_tensor(&format!("{mode}.layer5"), out.layer5.unwrap(), TOL);
    }
}

#[test]
fn audio_resnet_with_mssl_naming_matches_pytorch() {
    let fx = fixture("resnet_audio");
    let file = weights_file(&fx);
    for (mode, device) in devices() {
        let net = ResNetConfig::audio().with_base_width(4).init(&device);
        let options = ResNetImport { naming: ResNetNaming::MsslAudio, ..Default::default() };
        let net = load_torchvision_resnet(net, &file, options).unwrap();
        fx.assert_tensor(&format!("{mode}.layer4"), net.forward(fx.tensor("in.x", &device)).layer4, TOL);
    }
}

#[test]
fn sound_of_pixels_visual_net_matches_pytorch() {
    let fx = fixture("sop_visual");
    let file = weights_file(&fx);
    let remaps = av_backbones::weights::RESNET_KEY_REMAPS;
    for (mode, device) in devices() {
        let net = SopVisualNetConfig::new().with_base_width(4).with_out_channels(8).init(&device);
        // The trunk's ImageNet `fc` is in the file but not in the network.
        let net = load_pytorch_state_dict(net, &file, &remaps, true).unwrap();
        let x: Tensor<4> = fx.tensor("in.x", &device);
        fx.assert_tensor(&format!("{mode}.map"), net.forward_map(x.clone()), TOL);
        let [n, c, h, w] = x.dims();
        fx.assert_tensor(&format!("{mode}.vector"), net.forward(x.reshape([n, 1, c, h, w])), TOL);
    }
}

#[test]
fn unet_matches_sound_of_pixels() {
    let fx = fixture("unet");
    let file = weights_file(&fx);
    for (mode, device) in devices() {
        let net = UnetConfig::new().with_ngf(4).with_num_downs(6).with_out_channels(4).init(&device);
        let net = load_pytorch_state_dict(net, &file, &[], false).unwrap();
        fx.assert_tensor(&format!("{mode}.y"), net.forward(fx.tensor("in.x", &device)), TOL);
    }
}

#[test]
fn heads_match_pytorch() {
    let fx = fixture("heads");
    let file = weights_file(&fx);
    let device = Device::flex();
    let cls = ClassifierHeadConfig::new(16, 5).init(&device);
    let cls = load_pytorch_state_dict(cls, &file, &[(r"^cls\.(.*)$", "$1")], true).unwrap();
    let avc = AvcMlpConfig::new().with_d_feature(16).with_d_hidden(8).init(&device);
    let avc = load_pytorch_state_dict(avc, &file, &[(r"^avc\.(.*)$", "$1")], true).unwrap();
    let proj = ProjectionHeadConfig::new().with_d_input(16).with_d_hidden(32).with_d_output(8).init(&device);
    let proj = load_pytorch_state_dict(proj, &file, &[(r"^proj\.(.*)$", "$1")], true).unwrap();

    let a: Tensor<2> = fx.tensor("in.a", &device);
    let v: Tensor<2> = fx.tensor("in.v", &device);
    let fmap: Tensor<4> = fx.tensor("in.fmap", &device);
    fx.assert_tensor("out.pairs", avc.forward_all_pairs(a.clone(), v), TOL);
    fx.assert_tensor("out.embedding", proj.forward(a), TOL);
    fx.assert_tensor("out.cam", cls.cam(fmap.clone()), TOL);
    fx.assert_tensor("out.logits", cls.forward(av_backbones::global_avg_pool(fmap)), TOL);
}
