//! Weight import and checkpoints: clear typed errors for wrong files (missing file, not a weight
//! file, missing key, shape mismatch, unexpected tensors), the `.pth` path, and checkpoint
//! round trips.

use crate::common::fixture;
use av_backbones::checkpoint::{load_checkpoint_config, load_checkpoint_weights, save_checkpoint};
use av_backbones::weights::{ResNetImport, load_pytorch_state_dict, load_torchvision_resnet};
use av_backbones::{BackboneError, ProjectionHeadConfig, ResNetConfig};
use av_testkit::{tmp_dir, write_safetensors};
use burn::tensor::{Device, Distribution, Tensor};

fn visual_weights() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let fx = fixture("resnet_visual");
    let mut out: Vec<_> = fx
        .f32_tensors()
        .into_iter()
        .filter_map(|(k, s, v)| Some((k.strip_prefix("w.")?.to_string(), s.to_vec(), v.to_vec())))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn small_resnet(device: &Device) -> av_backbones::ResNet {
    ResNetConfig::visual().with_base_width(4).init(device)
}

#[test]
fn missing_and_unreadable_files_are_typed_errors() {
    let device = Device::flex();
    let err = load_torchvision_resnet(
        small_resnet(&device),
        "/no/such/resnet18.safetensors",
        ResNetImport::default(),
    );
    assert!(matches!(err, Err(BackboneError::Io { .. })), "{err:?}");
    let garbage = tmp_dir("weights").join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a safetensors file at all").unwrap();
    let err = load_torchvision_resnet(small_resnet(&device), &garbage, ResNetImport::default());
    assert!(matches!(err, Err(BackboneError::Format { .. })), "{err:?}");
}

#[test]
fn a_missing_tensor_is_named() {
    let path = tmp_dir("weights").join("missing.safetensors");
    let tensors: Vec<_> =
        visual_weights().into_iter().filter(|(k, _, _)| k != "layer4.1.conv2.weight").collect();
    write_safetensors(&path, &tensors);
    match load_torchvision_resnet(small_resnet(&Device::flex()), &path, ResNetImport::default()) {
        Err(BackboneError::MissingKey { key, more, .. }) => {
            assert_eq!(key, "layer4.1.conv2.weight");
            assert_eq!(more, 0);
        }
        other => panic!("expected MissingKey, got {other:?}"),
    }
}

#[test]
fn a_shape_mismatch_names_the_tensor_and_both_shapes() {
    let path = tmp_dir("weights").join("width4.safetensors");
    write_safetensors(&path, &visual_weights());
    // Width-8 network, width-4 file.
    let net = ResNetConfig::visual().with_base_width(8).init(&Device::flex());
    match load_torchvision_resnet(net, &path, ResNetImport::default()) {
        Err(BackboneError::ShapeMismatch { key, expected, found, .. }) => {
            assert_ne!(expected, found, "{key}");
            let msg = format!(
                "{}",
                BackboneError::ShapeMismatch { path: path.clone(), key: key.clone(), expected, found }
            );
            assert!(msg.contains(&key) && msg.contains("expects"), "{msg}");
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    // An RGB stem into a 1-channel audio trunk: a mismatch, unless the stem is skipped.
    let audio = ResNetConfig::audio().with_base_width(4).init(&Device::flex());
    assert!(matches!(
        load_torchvision_resnet(audio, &path, ResNetImport::default()),
        Err(BackboneError::ShapeMismatch { ref key, .. }) if key == "conv1.weight"
    ));
    let audio = ResNetConfig::audio().with_base_width(4).init(&Device::flex());
    let options = ResNetImport { skip_stem: true, ..Default::default() };
    assert!(load_torchvision_resnet(audio, &path, options).is_ok());
}

#[test]
fn unexpected_tensors_fail_in_strict_mode_only() {
    let path = tmp_dir("weights").join("extra.safetensors");
    let mut tensors = visual_weights();
    tensors.push(("extra_head.weight".into(), vec![2, 2], vec![0.0; 4]));
    write_safetensors(&path, &tensors);
    let err = load_torchvision_resnet(small_resnet(&Device::flex()), &path, ResNetImport::default());
    assert!(matches!(err, Err(BackboneError::UnusedKeys { count: 1, .. })), "{err:?}");
    let lenient = ResNetImport { strict_unused: false, ..Default::default() };
    assert!(load_torchvision_resnet(small_resnet(&Device::flex()), &path, lenient).is_ok());
}

#[test]
fn pth_pickles_load_like_safetensors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let device = Device::flex();
    let config = ProjectionHeadConfig::new().with_d_input(16).with_d_hidden(32).with_d_output(8);
    let remap = [(r"^proj\.(.*)$", "$1")];
    let from_pth =
        load_pytorch_state_dict(config.init(&device), dir.join("heads.pth"), &remap, true).unwrap();
    let from_st = load_pytorch_state_dict(
        config.init(&device),
        dir.join("heads.safetensors"),
        &[(r"^w\.proj\.(.*)$", "$1")],
        true,
    )
    .unwrap();
    let x = Tensor::<2>::random([3, 16], Distribution::Default, &device);
    let diff = (from_pth.forward(x.clone()) - from_st.forward(x)).abs().max().into_scalar::<f32>();
    assert_eq!(diff, 0.0);
}

#[test]
fn checkpoints_round_trip_with_their_config() {
    let device = Device::flex();
    let config = ResNetConfig::audio().with_base_width(4);
    let net = config.init(&device);
    let dir = tmp_dir("ckpt");
    let paths = save_checkpoint(&net, &config, &dir, "audio_trunk").unwrap();
    assert!(paths.weights.is_file() && paths.config.is_file());
    assert!(!dir.join("audio_trunk.bpk.tmp").exists(), "temporary file left behind");

    let loaded_config: ResNetConfig = load_checkpoint_config(&dir, "audio_trunk").unwrap();
    assert_eq!(loaded_config.in_channels, 1);
    let loaded = load_checkpoint_weights(loaded_config.init(&device), &dir, "audio_trunk").unwrap();
    let x = Tensor::<4>::random([2, 1, 41, 64], Distribution::Default, &device);
    let diff = (net.forward(x.clone()).layer4 - loaded.forward(x).layer4).abs().max().into_scalar::<f32>();
    assert_eq!(diff, 0.0);

    // Wrong architecture for the checkpoint, and a missing checkpoint.
    let wider = ResNetConfig::audio().with_base_width(8).init(&device);
    assert!(matches!(
        load_checkpoint_weights(wider, &dir, "audio_trunk"),
        Err(BackboneError::ShapeMismatch { .. })
    ));
    assert!(matches!(load_checkpoint_config::<ResNetConfig>(&dir, "nope"), Err(BackboneError::Io { .. })));
}
