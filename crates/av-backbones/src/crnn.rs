//! The original code's audio network: MobileCRNN in its `mobilecrnn_v2` layout (docs/reference_implementation.md §3.1;
//! MSSL `mobile_crnn/models/crnn.py:27-45` for the layout, `:389-418` for `InvertedResidual`,
//! `:429-493` for `MobileCRNN`), the "CRNN pretrained on AudioSet" of the paper.
//!
//! **Parity-only.** This MobileCRNN reproduces the original code's network and is checked
//! against PyTorch (`tests/integration/parity_crnn.rs`), but the `av-align` model does not use it: the
//! coarse-to-fine model runs ResNet-18 trunks on both modalities, as the paper describes
//! (`docs/reference_implementation.md` lists this choice). It is here for importing and
//! comparing the official checkpoints.
//!
//! `features` (the index is the reference's `nn.Sequential` index; Grad-CAM hooks module 11):
//!
//! | idx | layer | here | output for 251 x 64 input |
//! |---|---|---|---|
//! | 0 | BN2d(1) -> Conv2d(1, w, k5, s2, p2, bias) -> Swish | [`Crnn::stem_bn`], [`Crnn::stem_conv`] | w x 126 x 32 |
//! | 1 | MaxPool2d(2) | [`Crnn::pool_time_freq`] | w x 63 x 16 |
//! | 2 | IR(w -> w) | `blocks[0]` | w x 63 x 16 |
//! | 3 | MaxPool2d((1, 2)) | [`Crnn::pool_freq`] | w x 63 x 8 |
//! | 4, 5 | IR(w -> 2w), IR(2w -> 2w) | `blocks[1]`, `blocks[2]` | 2w x 63 x 8 |
//! | 6 | MaxPool2d((1, 2)) | [`Crnn::pool_freq`] | 2w x 63 x 4 |
//! | 7, 8 | IR(2w -> 4w), IR(4w -> 4w) | `blocks[3]`, `blocks[4]` | 4w x 63 x 4 |
//! | 9 | MaxPool2d((1, 2)) | [`Crnn::pool_freq`] | 4w x 63 x 2 |
//! | 10, 11 | IR(4w -> 8w), IR(8w -> 8w) | `blocks[5]`, `blocks[6]` | **F_a: 8w x 63 x 2** |
//!
//! with `w` = [`CrnnConfig::base_width`] (64 in the reference, so F_a is 512 x 63 x 2). Then
//! (`mode='cont'`, `crnn.py:486-493`): F_a `[N, C, T', F']` -> `[N, T', C * F']` (channel-major,
//! `transpose(1, 2).flatten(-2)`) -> BiGRU (hidden 128 per direction) -> `Linear(256, C)` ->
//! sigmoid -> clamp `[1e-7, 1]` (frame probabilities) -> linear-softmax pooling
//! `sum_t p_t^2 / sum_t p_t` -> clamp `[1e-7, 1]` (clip probabilities, post-activation).
//!
//! # Weights
//! A reference `state_dict` loads with [`crate::weights::load_pytorch_state_dict`] and
//! [`MOBILECRNN_KEY_REMAPS`], after one conversion that a regex cannot do: PyTorch stacks the
//! three GRU gates of a direction into one tensor (`gru.rnn.weight_ih_l0` = `[W_ir; W_iz; W_in]`,
//! `[3H, D]`; `weight_hh_l0` `[3H, H]`; `bias_ih_l0`, `bias_hh_l0` `[3H]`; `*_reverse` for the
//! backward direction), while Burn's [`BiGru`] keeps one `Linear` per gate and side. The split
//! (`gru_to_burn` in `tools/reference/make_crnn_fixtures.py`) writes
//! `gru.{forward,reverse}.{reset,update,new}_gate.{input,hidden}_transform.{weight,bias}`, gate
//! order r, z, n, weights left in PyTorch's `[out, in]` layout (burn-store's
//! `PyTorchToBurnAdapter` transposes them like any `Linear`). Both use the same GRU equations
//! (reset gate applied after the hidden matmul, `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`,
//! `h' = (1 - z) n + z h`), so nothing else changes.
//!
//! # How MSSL trains it
//! * `features[0]` (stem BN + conv, [`Crnn::stem_bn`] and [`Crnn::stem_conv`]) is frozen
//!   (`main.py:127-128`); the rest is fine-tuned with the backbone learning rate, the
//!   `outputlayer` with the head learning rate (`main.py:170-172`).
//! * The framework runs in eval mode (`model.eval()`: BN running statistics, still with
//!   gradients) except `audio.gru`, which is put back in train mode (`main.py:232-233`),
//!   presumably because cuDNN cannot back-propagate through an RNN in eval mode and the
//!   Grad-CAM passes need that backward. A GRU without dropout computes the same thing in both
//!   modes, and Burn's [`BiGru`] has no mode at all, so a port only has to keep the BN layers on
//!   their running statistics while training on an autodiff device: switch off their
//!   `BatchNorm::training` flag (`freeze` does that too, but also stops their gradients).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, BiGru, BiGruConfig, Initializer, Linear, LinearConfig, PaddingConfig2d,
};
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::{Device, Tensor};

/// The key remaps from the reference `MobileCRNN` `state_dict` (GRU already split, see the
/// module docs) to [`Crnn`]: `(regex, replacement)`, applied in order.
///
/// | PyTorch key | Burn path |
/// |---|---|
/// | `features.0.0.*` (BN2d(1)) | `stem_bn.*` |
/// | `features.0.1.*` (Conv2d(1, 64, 5)) | `stem_conv.*` |
/// | `features.{2,4,5,7,8,10,11}.*` | `blocks.{0..6}.*` |
/// | `blocks.I.conv.0.0.*` / `conv.0.1.*` | `blocks.I.expand_conv.*` / `expand_bn.*` |
/// | `blocks.I.conv.1.0.*` / `conv.1.1.*` | `blocks.I.depthwise_conv.*` / `depthwise_bn.*` |
/// | `blocks.I.conv.2.*` / `conv.3.*` | `blocks.I.project_conv.*` / `project_bn.*` |
/// | `outputlayer.*` | `outputlayer.*` (unchanged) |
pub const MOBILECRNN_KEY_REMAPS: [(&str, &str); 15] = [
    (r"^features\.0\.0\.(.*)$", "stem_bn.$1"),
    (r"^features\.0\.1\.(.*)$", "stem_conv.$1"),
    (r"^features\.2\.(.*)$", "blocks.0.$1"),
    (r"^features\.4\.(.*)$", "blocks.1.$1"),
    (r"^features\.5\.(.*)$", "blocks.2.$1"),
    (r"^features\.7\.(.*)$", "blocks.3.$1"),
    (r"^features\.8\.(.*)$", "blocks.4.$1"),
    (r"^features\.10\.(.*)$", "blocks.5.$1"),
    (r"^features\.11\.(.*)$", "blocks.6.$1"),
    (r"^(blocks\.\d+)\.conv\.0\.0\.(.*)$", "$1.expand_conv.$2"),
    (r"^(blocks\.\d+)\.conv\.0\.1\.(.*)$", "$1.expand_bn.$2"),
    (r"^(blocks\.\d+)\.conv\.1\.0\.(.*)$", "$1.depthwise_conv.$2"),
    (r"^(blocks\.\d+)\.conv\.1\.1\.(.*)$", "$1.depthwise_bn.$2"),
    (r"^(blocks\.\d+)\.conv\.2\.(.*)$", "$1.project_conv.$2"),
    (r"^(blocks\.\d+)\.conv\.3\.(.*)$", "$1.project_bn.$2"),
];

/// Configuration of a [`Crnn`].
#[derive(Config, Debug)]
pub struct CrnnConfig {
    /// Number of classes C (527 for the AudioSet checkpoint; MSSL replaces the `outputlayer`
    /// with 7 for Flickr/AVE or 15 for AudioSet-instrument, `crnn.py:36-43`).
    pub num_classes: usize,
    /// Mel bins of the input (64, `crnn.py:27`; docs/reference_implementation.md §1.1).
    #[config(default = 64)]
    pub n_mels: usize,
    /// Channels of the stem and of blocks 0 (`features.2`); the later pairs have 2x, 4x, 8x
    /// this (`mobilecrnn_v2` filters `[64, 64, 128, 128, 256, 256, 512, 512]`, `crnn.py:31`).
    /// Smaller values give compact variants (F_a has `8 * base_width` channels).
    #[config(default = 64)]
    pub base_width: usize,
    /// MobileNetV2 expansion ratio of every inverted residual (6, `crnn.py:455`).
    #[config(default = 6)]
    pub expand_ratio: usize,
    /// GRU hidden size per direction (128, `crnn.py:464`).
    #[config(default = 128)]
    pub gru_hidden: usize,
}

impl CrnnConfig {
    /// Channels of F_a (`8 * base_width`, 512 in the reference).
    pub fn out_channels(&self) -> usize {
        8 * self.base_width
    }

    /// Frequency bins of F_a (2 for 64 mels): the stride-2 stem, then four halvings.
    pub fn out_freq(&self) -> usize {
        conv_out(self.n_mels, 5, 2, 2) / 16
    }

    /// Frames of F_a for `t` input frames (63 for 251): the stride-2 stem, then one halving.
    pub fn out_frames(t: usize) -> usize {
        conv_out(t, 5, 2, 2) / 2
    }

    /// Builds the network with PyTorch's default initialisation (the reference calls no init
    /// function: Kaiming-uniform convs and linears, GRU weights uniform in `+-1/sqrt(H)`).
    ///
    /// # Panics
    /// If `n_mels < 31` (F_a would have no frequency bin).
    pub fn init(&self, device: &Device) -> Crnn {
        assert!(self.out_freq() > 0, "CRNN needs at least 31 mel bins, got {}", self.n_mels);
        let w = self.base_width;
        let widths = [
            (w, w),
            (w, 2 * w),
            (2 * w, 2 * w),
            (2 * w, 4 * w),
            (4 * w, 4 * w),
            (4 * w, 8 * w),
            (8 * w, 8 * w),
        ];
        let k = 1.0 / (self.gru_hidden as f64).sqrt();
        Crnn {
            stem_bn: BatchNormConfig::new(1).init(device),
            stem_conv: Conv2dConfig::new([1, w], [5, 5])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            pool_time_freq: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            pool_freq: MaxPool2dConfig::new([1, 2]).with_strides([1, 2]).init(),
            blocks: widths
                .iter()
                .map(|&(inp, out)| InvertedResidualConfig::new(inp, out, self.expand_ratio).init(device))
                .collect(),
            gru: BiGruConfig::new(self.out_channels() * self.out_freq(), self.gru_hidden, true)
                .with_initializer(Initializer::Uniform { min: -k, max: k })
                .init(device),
            outputlayer: LinearConfig::new(2 * self.gru_hidden, self.num_classes).init(device),
        }
    }
}

/// `floor((len + 2 pad - k) / stride) + 1`.
fn conv_out(len: usize, k: usize, stride: usize, pad: usize) -> usize {
    (len + 2 * pad).saturating_sub(k) / stride + 1
}

/// Configuration of an [`InvertedResidual`].
#[derive(Config, Debug)]
pub struct InvertedResidualConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Expansion ratio (hidden channels = `round(in * ratio)`; 6 in MobileCRNN).
    pub expand_ratio: usize,
}

impl InvertedResidualConfig {
    /// Builds the block (bias-free convs, PyTorch default init).
    ///
    /// # Panics
    /// If `expand_ratio < 2` (MobileCRNN always expands; the reference drops the expansion
    /// conv for a ratio of 1, which this port does not model).
    pub fn init(&self, device: &Device) -> InvertedResidual {
        assert!(self.expand_ratio > 1, "InvertedResidual needs expand_ratio > 1, got {}", self.expand_ratio);
        let hidden = self.in_channels * self.expand_ratio;
        let pointwise = |inp, out| Conv2dConfig::new([inp, out], [1, 1]).with_bias(false).init(device);
        InvertedResidual {
            expand_conv: pointwise(self.in_channels, hidden),
            expand_bn: BatchNormConfig::new(hidden).init(device),
            depthwise_conv: Conv2dConfig::new([hidden, hidden], [3, 3])
                .with_groups(hidden)
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            depthwise_bn: BatchNormConfig::new(hidden).init(device),
            project_conv: pointwise(hidden, self.out_channels),
            project_bn: BatchNormConfig::new(self.out_channels).init(device),
            residual: self.in_channels == self.out_channels,
        }
    }
}

/// MobileNetV2's inverted residual with stride 1 (`crnn.py:389-418`): 1x1 expansion conv, BN,
/// ReLU6; 3x3 depthwise conv (pad 1), BN, ReLU6; 1x1 projection conv, BN; plus the input when
/// the channel count is unchanged.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    /// 1x1 conv `in -> in * ratio` (`conv.0.0`).
    pub expand_conv: Conv2d,
    /// BN after it (`conv.0.1`).
    pub expand_bn: BatchNorm,
    /// 3x3 depthwise conv, `groups = hidden` (`conv.1.0`).
    pub depthwise_conv: Conv2d,
    /// BN after it (`conv.1.1`).
    pub depthwise_bn: BatchNorm,
    /// 1x1 linear projection `hidden -> out` (`conv.2`).
    pub project_conv: Conv2d,
    /// BN after it (`conv.3`).
    pub project_bn: BatchNorm,
    /// Residual connection (`in == out`).
    pub residual: bool,
}

/// ReLU6, `min(max(x, 0), 6)` (also EfficientNet-Lite's activation).
pub(crate) fn relu6(x: Tensor<4>) -> Tensor<4> {
    x.clamp(0.0, 6.0)
}

impl InvertedResidual {
    /// # Shapes
    /// `[N, C_in, H, W]` -> `[N, C_out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = relu6(self.expand_bn.forward(self.expand_conv.forward(x.clone())));
        let h = relu6(self.depthwise_bn.forward(self.depthwise_conv.forward(h)));
        let h = self.project_bn.forward(self.project_conv.forward(h));
        if self.residual { x + h } else { h }
    }
}

/// The outputs of [`Crnn::forward`] / [`Crnn::forward_head`].
#[derive(Debug, Clone)]
pub struct CrnnOutput {
    /// Frame probabilities `sigmoid(outputlayer(gru))` clamped to `[1e-7, 1]`: `[N, T', C]`.
    pub frame_probs: Tensor<3>,
    /// Clip probabilities, the linear-softmax pooling of `frame_probs` clamped to `[1e-7, 1]`:
    /// `[N, C]` (MSSL's `pred_a`, already a probability).
    pub clip_probs: Tensor<2>,
}

/// MobileCRNN (`mobilecrnn_v2`): convolutional `features`, BiGRU, frame classifier,
/// linear-softmax pooling.
#[derive(Module, Debug)]
pub struct Crnn {
    /// Input BN over the single channel (`features.0.0`, frozen in MSSL).
    pub stem_bn: BatchNorm,
    /// `Conv2d(1, w, 5, stride 2, pad 2)` with bias (`features.0.1`, frozen in MSSL), then Swish.
    pub stem_conv: Conv2d,
    /// `MaxPool2d(2)` (`features.1`).
    pub pool_time_freq: MaxPool2d,
    /// `MaxPool2d((1, 2))`, frequency only (`features.3`, `.6`, `.9`).
    pub pool_freq: MaxPool2d,
    /// The seven inverted residuals (`features.2, 4, 5, 7, 8, 10, 11`).
    pub blocks: Vec<InvertedResidual>,
    /// BiGRU on `[N, T', C * F']`, batch first (`gru.rnn`).
    pub gru: BiGru,
    /// `Linear(2 * hidden, C)` (`outputlayer`).
    pub outputlayer: Linear,
}

impl Crnn {
    /// The convolutional `features` (mode `'embed'`): F_a, the output of `features.11`.
    ///
    /// # Shapes
    /// `[N, 1, T, n_mels]` log-mels -> `[N, 8w, T', F']` with T' = [`CrnnConfig::out_frames`]
    /// and F' = [`CrnnConfig::out_freq`] (`[N, 512, 63, 2]` for 251 x 64 at the reference width).
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<4> {
        let x = silu(self.stem_conv.forward(self.stem_bn.forward(x))); // Swish = x * sigmoid(x)
        let x = self.pool_time_freq.forward(x); // features.1
        let b = &self.blocks;
        let x = self.pool_freq.forward(b[0].forward(x)); // features.2, .3
        let x = self.pool_freq.forward(b[2].forward(b[1].forward(x))); // features.4-6
        let x = self.pool_freq.forward(b[4].forward(b[3].forward(x))); // features.7-9
        b[6].forward(b[5].forward(x)) // features.10, .11 = F_a
    }

    /// The recurrent part (mode `'cont'`) on F_a (or a masked / hooked copy of it, as MSSL's
    /// Grad-CAM does).
    ///
    /// # Shapes
    /// `[N, 8w, T', F']` -> see [`CrnnOutput`].
    pub fn forward_head(&self, features: Tensor<4>) -> CrnnOutput {
        let [n, c, t, f] = features.dims();
        // transpose(1, 2).flatten(-2): [N, T', C, F'] -> [N, T', C * F'], channel-major.
        let seq = features.swap_dims(1, 2).reshape([n, t, c * f]);
        let (hidden, _) = self.gru.forward(seq, None); // [N, T', 2H]
        let frame_probs = sigmoid(self.outputlayer.forward(hidden)).clamp(1e-7, 1.0); // [N, T', C]
        let clip_probs = linear_softmax_pool(frame_probs.clone());
        CrnnOutput { frame_probs, clip_probs }
    }

    /// The whole network (mode `'all'`).
    ///
    /// # Shapes
    /// `[N, 1, T, n_mels]` -> see [`CrnnOutput`].
    pub fn forward(&self, x: Tensor<4>) -> CrnnOutput {
        self.forward_head(self.forward_features(x))
    }
}

/// Linear-softmax pooling over time (`LinearSoftPool`, `crnn.py:117-124`), clamped to
/// `[1e-7, 1]` as `MobileCRNN.forward` does: `p_c = sum_t p_tc^2 / sum_t p_tc`.
///
/// # Shapes
/// `[N, T, C]` probabilities -> `[N, C]`.
pub fn linear_softmax_pool(frame_probs: Tensor<3>) -> Tensor<2> {
    let [n, _, c] = frame_probs.dims();
    let num = frame_probs.clone().powi_scalar(2).sum_dim(1);
    (num / frame_probs.sum_dim(1)).reshape([n, c]).clamp(1e-7, 1.0)
}
