//! Grad-CAM and Grad-CAM++ against `pytorch_grad_cam` 1.5.7 on the same small network and
//! weights (`tools/reference/make_gradcam_fixtures.py`), and against finite differences.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use av_gradcam::{
    CamNormalization, CamPostprocess, GradCamConfig, GradCamMethod, cam, class_gradient, grad_cam, normalize,
};
use av_testkit::{Fixture, assert_close, to_vec};
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};

/// The committed reference of `tests/fixtures/gradcam.safetensors`.
fn fixture() -> Fixture {
    Fixture::load(env!("CARGO_MANIFEST_DIR"), "gradcam")
}

struct Net {
    stem: Conv2d,
    block: Conv2d,
    head: Conv2d,
    fc: Linear,
}

fn conv(fx: &Fixture, name: &str, cin: usize, stride: usize, device: &Device) -> Conv2d {
    let mut c = Conv2dConfig::new([cin, 8], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device);
    c.weight = Param::from_tensor(fx.tensor(&format!("w.{name}.weight"), device));
    c.bias = Some(Param::from_tensor(fx.tensor(&format!("w.{name}.bias"), device)));
    c
}

impl Net {
    fn load(fx: &Fixture, device: &Device) -> Self {
        let mut fc = LinearConfig::new(8, 4).init(device);
        fc.weight = Param::from_tensor(fx.tensor::<2>("w.fc.weight", device).transpose());
        fc.bias = Some(Param::from_tensor(fx.tensor("w.fc.bias", device)));
        Self {
            stem: conv(fx, "stem", 3, 2, device),
            block: conv(fx, "block", 8, 1, device),
            head: conv(fx, "head", 8, 1, device),
            fc,
        }
    }
    /// Input -> the target layer's activation A.
    fn trunk(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.block.forward(relu(self.stem.forward(x))))
    }
    /// A -> logits (the part Grad-CAM differentiates).
    fn head(&self, a: Tensor<4>) -> Tensor<2> {
        let h = relu(self.head.forward(a));
        let [n, c, hh, ww] = h.dims();
        self.fc.forward(h.reshape([n, c, hh * ww]).mean_dim(2).reshape([n, c]))
    }
}

#[test]
fn activations_logits_and_gradients_match_pytorch() {
    let fx = fixture();
    let device = Device::flex();
    let net = Net::load(&fx, &device);
    let a = net.trunk(fx.tensor("in.x", &device));
    assert_close("act.A", &to_vec(a.clone()), fx.values("act.A"), 1e-5);
    assert_close("logits", &to_vec(net.head(a.clone())), fx.values("out.logits"), 1e-5);
    for c in 0..4 {
        let g = class_gradient(a.clone(), |x| net.head(x), c).unwrap();
        assert_close(&format!("grads.c{c}"), &to_vec(g.gradient), fx.values(&format!("grads.c{c}")), 1e-5);
    }
}

#[test]
fn grad_cam_and_grad_cam_pp_match_pytorch_grad_cam() {
    let fx = fixture();
    let device = Device::flex();
    let net = Net::load(&fx, &device);
    let a = net.trunk(fx.tensor("in.x", &device));
    for (method, key) in [(GradCamMethod::GradCam, "gradcam"), (GradCamMethod::GradCamPlusPlus, "gradcampp")]
    {
        let config = GradCamConfig { method, ..GradCamConfig::default() };
        let out = grad_cam(a.clone(), |x| net.head(x), &[0, 1, 2, 3], &config).unwrap();
        let weights = to_vec(out.weights.clone()); // [2, 4, 8]
        let raw = CamPostprocess::mssl_new().apply(out.maps.clone()); // relu only
        let raw = to_vec(raw); // [2, 4, 6, 6]
        // pytorch_grad_cam: relu, min-max, resize to 12x12, then min-max again.
        let lib =
            normalize(CamPostprocess::pytorch_grad_cam([12, 12]).apply(out.maps), CamNormalization::MinMax);
        let lib = to_vec(lib);
        for c in 0..4 {
            let pick = |v: &[f32], per: usize| -> Vec<f32> {
                (0..2).flat_map(|n| v[(n * 4 + c) * per..(n * 4 + c + 1) * per].to_vec()).collect()
            };
            assert_close(
                &format!("{key}_weights.c{c}"),
                &pick(&weights, 8),
                fx.values(&format!("{key}_weights.c{c}")),
                1e-5,
            );
            assert_close(
                &format!("{key}_raw.c{c}"),
                &pick(&raw, 36),
                fx.values(&format!("{key}_raw.c{c}")),
                1e-5,
            );
            assert_close(&format!("{key}.c{c}"), &pick(&lib, 144), fx.values(&format!("{key}.c{c}")), 1e-5);
        }
    }
}

#[test]
fn grad_cam_weights_match_finite_differences() {
    let device = Device::flex();
    let fx = fixture();
    let net = Net::load(&fx, &device);
    let a = net.trunk(fx.tensor("in.x", &device));
    let g = to_vec(class_gradient(a.clone(), |x| net.head(x), 2).unwrap().gradient);
    let base = to_vec(a.clone());
    let dims = a.dims();
    let h = 1e-2f32;
    // Central differences on a spread of entries of image 0 (f32: step 1e-2, tolerance 2e-3).
    for idx in (0..8 * 36).step_by(17) {
        let mut plus = base.clone();
        let mut minus = base.clone();
        plus[idx] += h;
        minus[idx] -= h;
        let f = |v: Vec<f32>| {
            let t = Tensor::<4>::from_data(burn::tensor::TensorData::new(v, dims), &device);
            to_vec(net.head(t))[2]
        };
        let fd = (f(plus) - f(minus)) / (2.0 * h);
        assert!((fd - g[idx]).abs() < 2e-3, "entry {idx}: finite difference {fd} vs autodiff {}", g[idx]);
    }
}

#[test]
fn cam_of_a_linear_head_is_grad_cam_up_to_the_pool_size() {
    // For GAP + bias-free linear, ∂y_c/∂A_k(u,v) = W[k,c]/(HW): CAM = HW · Grad-CAM map.
    let device = Device::flex();
    let a = Tensor::<4>::random([2, 6, 3, 5], Distribution::Default, &device);
    let w = Tensor::<2>::random([6, 3], Distribution::Default, &device);
    let head = |x: Tensor<4>| {
        let [n, k, _, _] = x.dims();
        x.reshape([n, k, 15]).mean_dim(2).reshape([n, k]).matmul(w.clone())
    };
    let gc = grad_cam(a.clone(), head, &[0, 1, 2], &GradCamConfig::default()).unwrap();
    let c = cam(a, w.clone()).unwrap();
    assert_close("cam vs grad-cam", &to_vec(gc.maps.mul_scalar(15.0)), &to_vec(c), 1e-5);
}

#[test]
fn errors_are_typed() {
    let device = Device::flex();
    let a = Tensor::<4>::random([2, 6, 3, 5], Distribution::Default, &device);
    let w = Tensor::<2>::random([6, 3], Distribution::Default, &device);
    let head = |x: Tensor<4>| x.reshape([2, 6, 15]).mean_dim(2).reshape([2, 6]).matmul(w.clone());
    assert!(matches!(
        grad_cam(a.clone(), head, &[3], &GradCamConfig::default()),
        Err(av_gradcam::CamError::ClassOutOfRange { class: 3, num_classes: 3 })
    ));
    assert!(matches!(
        grad_cam(a.clone(), head, &[], &GradCamConfig::default()),
        Err(av_gradcam::CamError::Empty { .. })
    ));
    let constant = |_x: Tensor<4>| Tensor::<2>::ones([2, 3], &Device::flex());
    assert!(matches!(class_gradient(a.clone(), constant, 0), Err(av_gradcam::CamError::NoGradient)));
    assert!(matches!(
        cam(a.clone(), Tensor::zeros([5, 3], &device)),
        Err(av_gradcam::CamError::Shape { .. })
    ));
    let nan = a.clone().mul_scalar(f32::NAN);
    assert!(matches!(class_gradient(nan, head, 0), Err(av_gradcam::CamError::NonFinite { .. })));
    let _ = Module::num_params(&LinearConfig::new(2, 2).init(&device));
}

#[test]
fn postprocess_presets_threshold_binarise_and_normalise() {
    let device = Device::flex();
    let m = Tensor::<4>::from_floats([[[[0.05, 0.2], [-1.0, 0.5]], [[-0.3, -0.1], [-0.2, -0.4]]]], &device);
    let audio = to_vec(CamPostprocess::original_audio().apply(m.clone()));
    assert_eq!(audio, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    let visual = to_vec(CamPostprocess::original_visual().apply(m.clone()));
    assert_close("original visual", &visual, &[0.0, 0.1, 0.0, 0.4, 0.0, 0.0, 0.0, 0.0], 1e-6);
    // Max normalisation: an all-negative map becomes zeros, not NaN.
    let paper = to_vec(CamPostprocess::paper().apply(m));
    assert_close("paper", &paper, &[0.1, 0.4, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], 1e-6);
}
