//! av-backbones against PyTorch 2.9 (torchvision topology, Sound-of-Pixels code), in eval mode
//! (BN running statistics, plain CPU device) and train mode (batch statistics, autodiff device).
//!
//! Fixtures: `tests/fixtures/*.safetensors`, written by
//! `python tools/reference/make_backbone_fixtures.py` (command and pins in its header).
//! Each holds the reference weights under PyTorch `state_dict` keys, which these tests write to
//! a temporary `.safetensors` file and import through the same code path a user's torchvision
//! file takes. Tolerance: max abs error <= 1e-4 x max |reference output|.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use av_backbones::weights::{ResNetImport, ResNetNaming, load_pytorch_state_dict, load_torchvision_resnet};
use av_backbones::{
    AvcMlpConfig, ClassifierHeadConfig, ProjectionHeadConfig, ResNetConfig, SopVisualNetConfig, UnetConfig,
};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::SafeTensors;

struct Fixture {
    name: String,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Fixture {
    fn load(name: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.safetensors"));
        let bytes = std::fs::read(&path).expect("fixture is committed");
        let st = SafeTensors::deserialize(&bytes).expect("valid safetensors");
        let tensors = st
            .tensors()
            .into_iter()
            .map(|(k, v)| {
                let values =
                    v.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                (k, (v.shape().to_vec(), values))
            })
            .collect();
        Self { name: name.into(), tensors }
    }

    fn get(&self, key: &str) -> &(Vec<usize>, Vec<f32>) {
        self.tensors.get(key).unwrap_or_else(|| panic!("{}: no tensor {key}", self.name))
    }

    fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Tensor<D> {
        let (shape, values) = self.get(key).clone();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// Writes the `w.*` tensors (prefix stripped) as a standalone state_dict file.
    fn weights_file(&self) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("av-backbones-parity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.safetensors", self.name));
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = self
            .tensors
            .iter()
            .filter_map(|(k, (shape, values))| {
                let name = k.strip_prefix("w.")?;
                let bytes: &[u8] = bytemuck_f32(values);
                Some((
                    name.to_string(),
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                        .unwrap(),
                ))
            })
            .collect();
        safetensors::serialize_to_file(views, None, &path).unwrap();
        path
    }

    /// Asserts `actual` matches reference `key` within 1e-4 of the reference's scale.
    fn assert_close<const D: usize>(&self, key: &str, actual: Tensor<D>) {
        let (shape, expected) = self.get(key);
        assert_eq!(&actual.dims().to_vec(), shape, "{}/{key}: shape", self.name);
        let actual: Vec<f32> = actual.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
        let err = actual.iter().zip(expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        println!(
            "{}/{key}: max abs error {err:.2e} (scale {scale:.2e}, relative {:.2e})",
            self.name,
            err / scale
        );
        assert!(err <= 1e-4 * scale, "{}/{key}: max abs error {err} vs scale {scale}", self.name);
    }
}

/// Little-endian f32 slice as bytes (the test platforms are little-endian).
fn bytemuck_f32(values: &[f32]) -> &[u8] {
    // SAFETY-free: build via iterator would allocate; slices of f32 are plain old data.
    let ptr = values.as_ptr().cast::<u8>();
    // The workspace denies unsafe code in library crates; this test helper only reinterprets.
    #[allow(unsafe_code)]
    unsafe {
        std::slice::from_raw_parts(ptr, std::mem::size_of_val(values))
    }
}

fn devices() -> [(&'static str, Device); 2] {
    [("eval", Device::flex()), ("train", Device::flex().autodiff())]
}

#[test]
fn visual_resnet_with_layer5_matches_pytorch() {
    let fx = Fixture::load("resnet_visual");
    let file = fx.weights_file();
    for (mode, device) in devices() {
        let net = ResNetConfig::visual().with_base_width(4).with_layer5(true).init(&device);
        let net = load_torchvision_resnet(net, &file, ResNetImport::default()).unwrap();
        let out = net.forward(fx.tensor("in.x", &device));
        fx.assert_close(&format!("{mode}.layer3"), out.layer3);
        fx.assert_close(&format!("{mode}.layer4"), out.layer4);
        fx.assert_close(&format!("{mode}.layer5"), out.layer5.unwrap());
    }
}

#[test]
fn audio_resnet_with_mssl_naming_matches_pytorch() {
    let fx = Fixture::load("resnet_audio");
    let file = fx.weights_file();
    for (mode, device) in devices() {
        let net = ResNetConfig::audio().with_base_width(4).init(&device);
        let options = ResNetImport { naming: ResNetNaming::MsslAudio, ..Default::default() };
        let net = load_torchvision_resnet(net, &file, options).unwrap();
        fx.assert_close(&format!("{mode}.layer4"), net.forward(fx.tensor("in.x", &device)).layer4);
    }
}

#[test]
fn sound_of_pixels_visual_net_matches_pytorch() {
    let fx = Fixture::load("sop_visual");
    let file = fx.weights_file();
    let remaps = av_backbones::weights::RESNET_KEY_REMAPS;
    for (mode, device) in devices() {
        let net = SopVisualNetConfig::new().with_base_width(4).with_out_channels(8).init(&device);
        // The trunk's ImageNet `fc` is in the file but not in the network.
        let net = load_pytorch_state_dict(net, &file, &remaps, true).unwrap();
        let x: Tensor<4> = fx.tensor("in.x", &device);
        fx.assert_close(&format!("{mode}.map"), net.forward_map(x.clone()));
        let [n, c, h, w] = x.dims();
        fx.assert_close(&format!("{mode}.vector"), net.forward(x.reshape([n, 1, c, h, w])));
    }
}

#[test]
fn unet_matches_sound_of_pixels() {
    let fx = Fixture::load("unet");
    let file = fx.weights_file();
    for (mode, device) in devices() {
        let net = UnetConfig::new().with_ngf(4).with_num_downs(6).with_out_channels(4).init(&device);
        let net = load_pytorch_state_dict(net, &file, &[], false).unwrap();
        fx.assert_close(&format!("{mode}.y"), net.forward(fx.tensor("in.x", &device)));
    }
}

#[test]
fn heads_match_pytorch() {
    let fx = Fixture::load("heads");
    let file = fx.weights_file();
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
    fx.assert_close("out.pairs", avc.forward_all_pairs(a.clone(), v));
    fx.assert_close("out.embedding", proj.forward(a));
    fx.assert_close("out.cam", cls.cam(fmap.clone()));
    fx.assert_close("out.logits", cls.forward(av_backbones::global_avg_pool(fmap)));
}
