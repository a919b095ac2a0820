//! ResNet-18 (torchvision topology) with the variants the paper's code uses.
//!
//! * MSSL `new/base_model.py:130-212`: `layer4` with stride 1 (output stride 16: 512x16x16 for a
//!   256x256 image), a 1-channel stem (`conv1_a`) for the audio trunk on (N, 1, T, 64) log-mels
//!   (251x64 gives 512x16x4), forward returning the `layer4` map.
//! * MSSL `resnet/resnet.py:151-156`: an extra `layer5` (same structure as `layer4`, stride 1)
//!   that the Fig. 3 AVC head uses as its visual branch on the `layer3` output O_v.
//! * Sound-of-Pixels `models/vision_net.py:71-145` (`resnet18dilated`): `layer4` without stride
//!   and with dilation 2 ([`Layer4Mode::Dilated`]).
//!
//! Field names mirror torchvision's `state_dict` (`conv1`, `bn1`, `layer1`..`layer4`, block
//! `conv1/bn1/conv2/bn2`), except `downsample.0/1`, which are `downsample.conv/bn` here (see
//! [`crate::weights`]). A width multiplier (`base_width`, 64 in torchvision) gives the compact
//! variants that train on a CPU in minutes.

use av_kernels::{batch_norm_module, conv2d_module, max_pool2d_module};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// How `layer4` treats resolution.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Layer4Mode {
    /// torchvision: stride 2 (output stride 32).
    Stride2,
    /// MSSL: stride 1, no dilation (output stride 16). The default.
    Stride1,
    /// Sound-of-Pixels `resnet18dilated`: stride removed, 3x3 convs dilated by 2 (output stride 16).
    Dilated,
}

/// Configuration of a [`ResNet`].
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Input channels: 3 for frames, 1 for log-mel spectrograms (MSSL's `conv1_a`).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Channels of `layer1`; layers 2-4 have 2x, 4x, 8x this (torchvision: 64).
    #[config(default = 64)]
    pub base_width: usize,
    /// Blocks per layer (ResNet-18: `[2, 2, 2, 2]`).
    #[config(default = "[2, 2, 2, 2]")]
    pub blocks: [usize; 4],
    /// `layer4` stride / dilation (MSSL `new/base_model.py:151`: stride 1).
    #[config(default = "Layer4Mode::Stride1")]
    pub layer4: Layer4Mode,
    /// Build the original code's `layer5` (`resnet/resnet.py:153-156`), applied to `layer3`'s output.
    #[config(default = false)]
    pub layer5: bool,
}

impl ResNetConfig {
    /// ResNet-18 on RGB frames with MSSL's stride-1 `layer4`.
    pub fn visual() -> Self {
        Self::new()
    }

    /// ResNet-18 on (N, 1, T, 64) log-mels (MSSL's audio trunk, `conv1_a`).
    pub fn audio() -> Self {
        Self::new().with_in_channels(1)
    }

    /// Channels of the `layer4` output (`8 * base_width`, 512 for ResNet-18).
    pub fn out_channels(&self) -> usize {
        8 * self.base_width
    }

    /// Channels of the `layer3` output (`4 * base_width`, 256 for ResNet-18).
    pub fn layer3_channels(&self) -> usize {
        4 * self.base_width
    }

    /// Builds the network with torchvision's initialisation (kaiming-normal fan-out convs,
    /// BN gamma 1 beta 0).
    pub fn init(&self, device: &Device) -> ResNet {
        let w = self.base_width;
        let conv1 = conv(self.in_channels, w, 7, 2, 3, 1, device);
        let layer = |inp, out, n, stride, dil: [usize; 2]| make_layer(inp, out, n, stride, dil, device);
        let (l4_stride, l4_dil) = match self.layer4 {
            Layer4Mode::Stride2 => (2, [1, 1]),
            Layer4Mode::Stride1 => (1, [1, 1]),
            // SoP `_nostride_dilate(dilate=2)`: the strided conv gets dilation 1, the others 2.
            Layer4Mode::Dilated => (1, [1, 2]),
        };
        ResNet {
            conv1,
            bn1: BatchNormConfig::new(w).init(device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1: layer(w, w, self.blocks[0], 1, [1, 1]),
            layer2: layer(w, 2 * w, self.blocks[1], 2, [1, 1]),
            layer3: layer(2 * w, 4 * w, self.blocks[2], 2, [1, 1]),
            layer4: layer(4 * w, 8 * w, self.blocks[3], l4_stride, l4_dil),
            layer5: self.layer5.then(|| layer(4 * w, 8 * w, self.blocks[3], 1, [1, 1])),
        }
    }
}

/// A 2-D convolution without bias, torchvision-initialised.
fn conv(inp: usize, out: usize, k: usize, stride: usize, pad: usize, dil: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([inp, out], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_dilation([dil, dil])
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal { gain: 2f64.sqrt(), fan_out_only: true })
        .init(device)
}

/// One ResNet layer: `n` basic blocks, the first with `stride` and a projection shortcut when
/// the shape changes. `dil = [first block's dilation, later convs' dilation]`.
fn make_layer(
    inp: usize,
    out: usize,
    n: usize,
    stride: usize,
    dil: [usize; 2],
    device: &Device,
) -> Vec<BasicBlock> {
    (0..n)
        .map(|i| {
            let (block_in, block_stride) = if i == 0 { (inp, stride) } else { (out, 1) };
            let first_dil = if i == 0 { dil[0] } else { dil[1] };
            let downsample = (i == 0 && (stride != 1 || inp != out)).then(|| Downsample {
                conv: conv(inp, out, 1, stride, 0, 1, device),
                bn: BatchNormConfig::new(out).init(device),
            });
            BasicBlock {
                conv1: conv(block_in, out, 3, block_stride, first_dil, first_dil, device),
                bn1: BatchNormConfig::new(out).init(device),
                conv2: conv(out, out, 3, 1, dil[1], dil[1], device),
                bn2: BatchNormConfig::new(out).init(device),
                downsample,
            }
        })
        .collect()
}

/// The projection shortcut of a block whose shape changes (torchvision `downsample.0/1`).
#[derive(Module, Debug)]
pub struct Downsample {
    /// 1x1 convolution with the block's stride.
    pub conv: Conv2d,
    /// Batch norm after it.
    pub bn: BatchNorm,
}

/// torchvision's `BasicBlock`: conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// First 3x3 convolution (carries the block's stride).
    pub conv1: Conv2d,
    /// BN after `conv1`.
    pub bn1: BatchNorm,
    /// Second 3x3 convolution.
    pub conv2: Conv2d,
    /// BN after `conv2`.
    pub bn2: BatchNorm,
    /// Projection shortcut, when the shape changes.
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    /// # Shapes
    /// `[N, C_in, H, W]` -> `[N, C_out, H / stride, W / stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => batch_norm_module(&d.bn, conv2d_module(&d.conv, x.clone())),
            None => x.clone(),
        };
        let out = relu(batch_norm_module(&self.bn1, conv2d_module(&self.conv1, x)));
        let out = batch_norm_module(&self.bn2, conv2d_module(&self.conv2, out));
        relu(out + identity)
    }
}

/// The feature maps a [`ResNet`] returns.
#[derive(Debug, Clone)]
pub struct ResNetFeatures {
    /// `layer3` output, O_v in the paper: `[N, 4w, H/16, W/16]` (256x16x16 for 256x256 frames).
    pub layer3: Tensor<4>,
    /// `layer4` output, F in the paper: `[N, 8w, H/16, W/16]` with a stride-1 `layer4`
    /// (512x16x16 for frames, 512x16x4 for 251x64 log-mels).
    pub layer4: Tensor<4>,
    /// `layer5(layer3)`, E_v of the Fig. 3 AVC head, when configured: `[N, 8w, H/16, W/16]`.
    pub layer5: Option<Tensor<4>>,
}

/// ResNet-18 trunk without pooling and classifier (those are the heads' job).
#[derive(Module, Debug)]
pub struct ResNet {
    /// 7x7 stride-2 stem (`conv1`, or MSSL's `conv1_a` on 1-channel input).
    pub conv1: Conv2d,
    /// Stem BN.
    pub bn1: BatchNorm,
    /// 3x3 stride-2 max pool.
    pub maxpool: MaxPool2d,
    /// Stage 1 (stride 1).
    pub layer1: Vec<BasicBlock>,
    /// Stage 2 (stride 2).
    pub layer2: Vec<BasicBlock>,
    /// Stage 3 (stride 2).
    pub layer3: Vec<BasicBlock>,
    /// Stage 4 (see [`Layer4Mode`]).
    pub layer4: Vec<BasicBlock>,
    /// The original code's extra stage on `layer3`'s output.
    pub layer5: Option<Vec<BasicBlock>>,
}

fn run(blocks: &[BasicBlock], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(x, |x, b| b.forward(x))
}

impl ResNet {
    /// Runs the trunk.
    ///
    /// # Shapes
    /// input `[N, C_in, H, W]` (frames: ImageNet-normalised RGB; audio: `[N, 1, T, 64]` log-mels);
    /// see [`ResNetFeatures`] for the outputs.
    pub fn forward(&self, x: Tensor<4>) -> ResNetFeatures {
        let x = max_pool2d_module(
            &self.maxpool,
            relu(batch_norm_module(&self.bn1, conv2d_module(&self.conv1, x))),
        );
        let x = run(&self.layer2, run(&self.layer1, x));
        let layer3 = run(&self.layer3, x);
        let layer5 = self.layer5.as_ref().map(|l5| run(l5, layer3.clone()));
        let layer4 = run(&self.layer4, layer3.clone());
        ResNetFeatures { layer3, layer4, layer5 }
    }
}
