//! Small heads shared by the paper's two stages (MSSL `new/stage_one.py`, `new/stage_two.py`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Global average pooling over the two spatial axes (`AdaptiveAvgPool2d(1)` then flatten).
///
/// # Shapes
/// `[N, C, H, W]` -> `[N, C]`.
pub fn global_avg_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
}

/// L2 normalisation over the last axis, `x / max(||x||, 1e-12)` as `F.normalize`: a zero vector
/// stays zero (docs/reference_implementation.md §10.21), never NaN. The clamp acts on `||x||²` (at 1e-24), so the backward
/// pass of a zero vector is finite too (a square root at 0 would give `inf · 0 = NaN`).
///
/// # Shapes
/// `[..., D]` -> `[..., D]`.
pub fn l2_normalize<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().powi_scalar(2).sum_dim(D - 1).clamp_min(1e-24).sqrt();
    x / norm
}

/// Configuration of a [`ClassifierHead`].
#[derive(Config, Debug)]
pub struct ClassifierHeadConfig {
    /// Feature size (512 for ResNet-18).
    pub d_input: usize,
    /// Number of classes (7 Flickr/AVE, 15 AudioSet, 11 MUSIC).
    pub num_classes: usize,
}

impl ClassifierHeadConfig {
    /// Builds the head (PyTorch's default init, bias-free).
    pub fn init(&self, device: &Device) -> ClassifierHead {
        ClassifierHead { fc: LinearConfig::new(self.d_input, self.num_classes).with_bias(false).init(device) }
    }
}

/// The bias-free linear classifier on pooled features (MSSL `class_a`/`class_v`, a
/// `Conv2d(512, C, 1, bias=False)` on a 1x1 map, `new/stage_one.py:15-16`). Being bias-free and
/// linear, it doubles as the CAM weights: `CAM_c = sum_k W[k, c] F_k`.
#[derive(Module, Debug)]
pub struct ClassifierHead {
    /// Weights `[d_input, num_classes]` (transposed PyTorch layout).
    pub fc: Linear,
}

impl ClassifierHead {
    /// Class logits.
    ///
    /// # Shapes
    /// `[N, d_input]` -> `[N, num_classes]`.
    pub fn forward(&self, pooled: Tensor<2>) -> Tensor<2> {
        self.fc.forward(pooled)
    }

    /// The class activation maps of a feature map with this head's weights (pre-ReLU).
    ///
    /// # Shapes
    /// `[N, d_input, H, W]` -> `[N, num_classes, H, W]`.
    pub fn cam(&self, features: Tensor<4>) -> Tensor<4> {
        let [n, d, h, w] = features.dims();
        let flat = features.reshape([n, d, h * w]).swap_dims(1, 2); // [N, HW, d]
        let weight = self.fc.weight.val().unsqueeze::<3>(); // [1, d, C]
        let c = weight.dims()[2];
        flat.matmul(weight).swap_dims(1, 2).reshape([n, c, h, w])
    }
}

/// Configuration of an [`AvcMlp`].
#[derive(Config, Debug)]
pub struct AvcMlpConfig {
    /// Per-modality feature size (512); the MLP input is twice this.
    #[config(default = 512)]
    pub d_feature: usize,
    /// Hidden size (128, `new/stage_one.py:10-14`).
    #[config(default = 128)]
    pub d_hidden: usize,
}

impl AvcMlpConfig {
    /// Builds the MLP.
    pub fn init(&self, device: &Device) -> AvcMlp {
        AvcMlp {
            fc1: LinearConfig::new(2 * self.d_feature, self.d_hidden).init(device),
            fc2: LinearConfig::new(self.d_hidden, 2).init(device),
        }
    }
}

/// The audio-visual correspondence MLP `Linear(1024,128) - ReLU - Linear(128,2)` on
/// `concat(audio, visual)` (audio first); output index 1 means "corresponding".
#[derive(Module, Debug)]
pub struct AvcMlp {
    /// `Linear(2d, hidden)` (MSSL `avc.0`).
    pub fc1: Linear,
    /// `Linear(hidden, 2)` (MSSL `avc.2`).
    pub fc2: Linear,
}

impl AvcMlp {
    /// Logits of matched pairs `(a_i, v_i)`.
    ///
    /// # Shapes
    /// `[N, d]`, `[N, d]` -> `[N, 2]`.
    pub fn forward(&self, audio: Tensor<2>, visual: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(relu(self.fc1.forward(Tensor::cat(vec![audio, visual], 1))))
    }

    /// Logits of all pairs `(a_i, v_j)`, as `new/stage_one.py:26-29`. The first layer is split
    /// into its audio and visual halves, so the N x M concatenations are never built:
    /// `W [a; v] + b = W_a a + W_v v + b`.
    ///
    /// # Shapes
    /// `[N, d]`, `[M, d]` -> `[N, M, 2]`.
    pub fn forward_all_pairs(&self, audio: Tensor<2>, visual: Tensor<2>) -> Tensor<3> {
        let [n, d] = audio.dims();
        let [m, _] = visual.dims();
        let weight = self.fc1.weight.val(); // [2d, hidden]
        let hidden = weight.dims()[1];
        let wa = weight.clone().slice([0..d, 0..hidden]);
        let wv = weight.slice([d..2 * d, 0..hidden]);
        let ha = audio.matmul(wa).reshape([n, 1, hidden]);
        let hv = visual.matmul(wv).reshape([1, m, hidden]);
        let mut h = ha + hv;
        if let Some(b) = &self.fc1.bias {
            h = h + b.val().reshape([1, 1, hidden]);
        }
        self.fc2.forward(relu(h))
    }
}

/// Configuration of a [`ProjectionHead`].
#[derive(Config, Debug)]
pub struct ProjectionHeadConfig {
    /// Input size (512).
    #[config(default = 512)]
    pub d_input: usize,
    /// Hidden size (1024).
    #[config(default = 1024)]
    pub d_hidden: usize,
    /// Embedding size (128).
    #[config(default = 128)]
    pub d_output: usize,
}

impl ProjectionHeadConfig {
    /// Builds the head.
    pub fn init(&self, device: &Device) -> ProjectionHead {
        ProjectionHead {
            fc1: LinearConfig::new(self.d_input, self.d_hidden).with_bias(false).init(device),
            fc2: LinearConfig::new(self.d_hidden, self.d_output).with_bias(false).init(device),
        }
    }
}

/// The stage-2 projection `512 -> 1024 -> 128`, bias-free, ReLU between, L2-normalised output
/// (MSSL `project_a/project_v`, `new/stage_two.py:35-44, 66-67`).
#[derive(Module, Debug)]
pub struct ProjectionHead {
    /// First layer (`Conv1d(512, 1024, 1, bias=False)` in MSSL).
    pub fc1: Linear,
    /// Second layer (`Conv1d(1024, 128, 1, bias=False)` in MSSL).
    pub fc2: Linear,
}

impl ProjectionHead {
    /// Unit-length embeddings (zero vectors stay zero).
    ///
    /// # Shapes
    /// `[..., d_input]` -> `[..., d_output]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        l2_normalize(self.fc2.forward(relu(self.fc1.forward(x))))
    }
}
