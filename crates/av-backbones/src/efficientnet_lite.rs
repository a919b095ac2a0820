//! EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant of the TensorFlow TPU repository:
//! no squeeze-excitation, ReLU6, fixed 32-channel stem), an ImageNet-pretrained visual trunk
//! whose weights are Apache-2.0 and small enough to ship (docs/pretrained.md).
//!
//! Layout and naming follow the PyTorch port that the weight file comes from (lukemelas'
//! `EfficientNet-PyTorch` naming: `_conv_stem`, `_bn0`, `_blocks.i._expand_conv`, `_bn0`,
//! `_depthwise_conv`, `_bn1`, `_project_conv`, `_bn2`), without the leading underscores
//! ([`EFFICIENTNET_LITE_KEY_REMAPS`] strips them on import).
//!
//! | block | kernel | stride | in -> out | expansion | output stride |
//! |---|---|---|---|---|---|
//! | stem | 3 | 2 | 3 -> 32 | | 2 |
//! | 0 | 3 | 1 | 32 -> 16 | 1 | 2 |
//! | 1, 2 | 3 | 2, 1 | 16 -> 24 | 6 | 4 |
//! | 3, 4 | 5 | 2, 1 | 24 -> 40 | 6 | 8 |
//! | 5, 6, 7 | 3 | 2, 1, 1 | 40 -> 80 | 6 | 16 |
//! | 8, 9, 10 | 5 | 1 | 80 -> 112 | 6 | 16 |
//! | 11, 12, 13, 14 | 5 | 2, 1, 1, 1 | 112 -> 192 | 6 | 32 |
//! | 15 | 3 | 1 | 192 -> 320 | 6 | 32 |
//!
//! Every convolution is bias-free and followed by batch norm (eps 1e-3, TensorFlow's); ReLU6
//! after the stem, the expansion and the depthwise convolution; the projection is linear, with a
//! residual connection where stride is 1 and the channel count is unchanged. The classifier head
//! (`_conv_head` 320 -> 1280, pooling, `_fc`) is not built: the trunk returns the last block's
//! map. Padding is TensorFlow's "same": stride-1 layers pad `k / 2` on every side; a stride-2
//! layer pads `max((ceil(n / 2) - 1) * 2 + k - n, 0)` in total per axis, the smaller half before
//! (so an even side gets one row or column more at the bottom / right), computed from the input
//! size at each call. Inputs are RGB scaled to `[-1, 1]` (`(x - 127) / 128` on 0-255 values,
//! the TPU repository's Lite preprocessing), not ImageNet mean / std.

use av_kernels::{batch_norm_module, conv2d_module};

use crate::crnn::relu6;
use crate::error::{BackboneError, Result};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// Import remaps for the PyTorch `state_dict` of EfficientNet-Lite (leading underscores of every
/// path segment removed: `_blocks.3._depthwise_conv.weight` -> `blocks.3.depthwise_conv.weight`).
pub const EFFICIENTNET_LITE_KEY_REMAPS: [(&str, &str); 1] = [(r"(^|\.)_", "$1")];

/// `(kernel, stride, in, out, expansion)` of EfficientNet-Lite0's 16 blocks.
const LITE0_BLOCKS: [(usize, usize, usize, usize, usize); 16] = [
    (3, 1, 32, 16, 1),
    (3, 2, 16, 24, 6),
    (3, 1, 24, 24, 6),
    (5, 2, 24, 40, 6),
    (5, 1, 40, 40, 6),
    (3, 2, 40, 80, 6),
    (3, 1, 80, 80, 6),
    (3, 1, 80, 80, 6),
    (5, 1, 80, 112, 6),
    (5, 1, 112, 112, 6),
    (5, 1, 112, 112, 6),
    (5, 2, 112, 192, 6),
    (5, 1, 192, 192, 6),
    (5, 1, 192, 192, 6),
    (5, 1, 192, 192, 6),
    (3, 1, 192, 320, 6),
];

/// Stem channels of EfficientNet-Lite0.
const LITE0_STEM: usize = 32;

/// Configuration of an [`EfficientNetLite`] trunk.
#[derive(Config, Debug)]
pub struct EfficientNetLiteConfig {
    /// How many of Lite0's 16 blocks to build (16: the whole trunk, 320 channels at output
    /// stride 32; 11: up to the last 112-channel block, output stride 16).
    #[config(default = 16)]
    pub blocks: usize,
    /// Divides every channel count (1 for the pretrained network; the parity tests use a
    /// narrower twin). Counts are rounded up, so no layer has zero channels.
    #[config(default = 1)]
    pub width_divisor: usize,
}

impl EfficientNetLiteConfig {
    /// Channels of the trunk's output map.
    pub fn out_channels(&self) -> usize {
        self.scaled(LITE0_BLOCKS[self.blocks.clamp(1, 16) - 1].3)
    }

    /// Output stride of the trunk (16 or 32 for the usual depths).
    pub fn output_stride(&self) -> usize {
        2 * LITE0_BLOCKS[..self.blocks.clamp(1, 16)].iter().map(|b| b.1).product::<usize>()
    }

    fn scaled(&self, channels: usize) -> usize {
        channels.div_ceil(self.width_divisor.max(1))
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`BackboneError::InvalidConfig`] when `blocks` is not in 1..=16 or `width_divisor` is 0.
    pub fn validate(&self) -> Result<()> {
        if !(1..=16).contains(&self.blocks) {
            return Err(BackboneError::InvalidConfig(format!(
                "EfficientNet-Lite0 has 16 blocks; blocks must be in 1..=16, got {}",
                self.blocks
            )));
        }
        if self.width_divisor == 0 {
            return Err(BackboneError::InvalidConfig("width_divisor must be at least 1".into()));
        }
        Ok(())
    }

    /// Builds the trunk with PyTorch's default initialisation (the weights are meant to be
    /// imported with [`crate::weights::load_pytorch_state_dict`] and
    /// [`EFFICIENTNET_LITE_KEY_REMAPS`]). Out-of-range settings are clamped; call
    /// [`EfficientNetLiteConfig::validate`] first to have them reported.
    pub fn init(&self, device: &Device) -> EfficientNetLite {
        let bn = |c| BatchNormConfig::new(c).with_epsilon(1e-3).init(device);
        let stem = self.scaled(LITE0_STEM);
        let blocks = LITE0_BLOCKS[..self.blocks.clamp(1, 16)]
            .iter()
            .map(|&(kernel, stride, inp, out, expand)| {
                let (inp, out) = (self.scaled(inp), self.scaled(out));
                let hidden = inp * expand;
                let pointwise = |i, o| Conv2dConfig::new([i, o], [1, 1]).with_bias(false).init(device);
                // Stride-1 layers pad symmetrically in the module; stride-2 ones are padded
                // explicitly at run time (TensorFlow's "same" depends on the input size).
                let pad = if stride == 1 { kernel / 2 } else { 0 };
                MbConv {
                    expand_conv: (expand != 1).then(|| pointwise(inp, hidden)),
                    bn0: (expand != 1).then(|| bn(hidden)),
                    depthwise_conv: Conv2dConfig::new([hidden, hidden], [kernel, kernel])
                        .with_stride([stride, stride])
                        .with_groups(hidden)
                        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                        .with_bias(false)
                        .init(device),
                    bn1: bn(hidden),
                    project_conv: pointwise(hidden, out),
                    bn2: bn(out),
                    kernel,
                    stride,
                    residual: stride == 1 && inp == out,
                }
            })
            .collect();
        EfficientNetLite {
            conv_stem: Conv2dConfig::new([3, stem], [3, 3]).with_stride([2, 2]).with_bias(false).init(device),
            bn0: bn(stem),
            blocks,
        }
    }
}

/// One MBConv block of EfficientNet-Lite: optional 1x1 expansion, BN, ReLU6; `k x k`
/// depthwise convolution, BN, ReLU6; 1x1 linear projection, BN; plus the input when stride is 1
/// and the channel count unchanged.
#[derive(Module, Debug)]
pub struct MbConv {
    /// 1x1 conv `in -> in * expansion` (absent in block 0, whose expansion is 1).
    pub expand_conv: Option<Conv2d>,
    /// BN after the expansion.
    pub bn0: Option<BatchNorm>,
    /// Depthwise `k x k` conv (`groups = hidden`).
    pub depthwise_conv: Conv2d,
    /// BN after it.
    pub bn1: BatchNorm,
    /// 1x1 projection `hidden -> out`.
    pub project_conv: Conv2d,
    /// BN after it.
    pub bn2: BatchNorm,
    /// Depthwise kernel size.
    pub kernel: usize,
    /// Depthwise stride (1 or 2).
    pub stride: usize,
    /// Whether the input is added to the output.
    pub residual: bool,
}

/// TensorFlow "same" padding of a stride-2 layer: zero rows / columns added `(before, after)`
/// along an axis of length `n`.
fn same_padding_stride2(n: usize, kernel: usize) -> (usize, usize) {
    let total = ((n.div_ceil(2) - 1) * 2 + kernel).saturating_sub(n);
    (total / 2, total - total / 2)
}

/// Zero-pads a stride-2 layer's input as TensorFlow's "same" does.
fn pad_same_stride2(x: Tensor<4>, kernel: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let (top, bottom) = same_padding_stride2(h, kernel);
    let (left, right) = same_padding_stride2(w, kernel);
    if top + bottom + left + right == 0 {
        return x;
    }
    x.pad((left, right, top, bottom), burn::tensor::ops::PadMode::Constant(0.0))
}

impl MbConv {
    /// # Shapes
    /// `[N, C_in, H, W]` -> `[N, C_out, ceil(H / s), ceil(W / s)]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = match (&self.expand_conv, &self.bn0) {
            (Some(conv), Some(bn)) => relu6(batch_norm_module(bn, conv2d_module(conv, x.clone()))),
            _ => x.clone(),
        };
        let h = if self.stride == 2 { pad_same_stride2(h, self.kernel) } else { h };
        let h = relu6(batch_norm_module(&self.bn1, conv2d_module(&self.depthwise_conv, h)));
        let h = batch_norm_module(&self.bn2, conv2d_module(&self.project_conv, h));
        if self.residual { x + h } else { h }
    }
}

/// EfficientNet-Lite0's convolutional trunk (stem and the first [`EfficientNetLiteConfig::blocks`]
/// blocks).
#[derive(Module, Debug)]
pub struct EfficientNetLite {
    /// 3x3 stride-2 stem convolution `3 -> 32`.
    pub conv_stem: Conv2d,
    /// BN after the stem.
    pub bn0: BatchNorm,
    /// The MBConv blocks.
    pub blocks: Vec<MbConv>,
}

impl EfficientNetLite {
    /// Runs the trunk.
    ///
    /// # Shapes
    /// `[N, 3, H, W]` RGB in `[-1, 1]` -> `[N, C, ceil(H / s), ceil(W / s)]`, `C` =
    /// [`EfficientNetLiteConfig::out_channels`], `s` = [`EfficientNetLiteConfig::output_stride`]
    /// (a 256x256 frame gives `[N, 320, 8, 8]` with all 16 blocks).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = pad_same_stride2(x, 3);
        let mut x = relu6(batch_norm_module(&self.bn0, conv2d_module(&self.conv_stem, x)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }

    /// Channels of the output map.
    pub fn out_channels(&self) -> usize {
        self.blocks.last().map_or(self.bn0.gamma.dims()[0], |b| b.bn2.gamma.dims()[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_tensorflow() {
        // TF: pad_total = max((ceil(n / s) - 1) * s + k - n, 0), pad_before = total / 2.
        assert_eq!(same_padding_stride2(256, 3), (0, 1));
        assert_eq!(same_padding_stride2(255, 3), (1, 1));
        assert_eq!(same_padding_stride2(64, 5), (1, 2));
        assert_eq!(same_padding_stride2(7, 5), (2, 2));
        assert_eq!(same_padding_stride2(1, 3), (1, 1));
    }

    #[test]
    fn shapes_and_strides() {
        let c = EfficientNetLiteConfig::new();
        assert_eq!((c.out_channels(), c.output_stride()), (320, 32));
        let c = EfficientNetLiteConfig::new().with_blocks(11);
        assert_eq!((c.out_channels(), c.output_stride()), (112, 16));
        assert!(EfficientNetLiteConfig::new().with_blocks(0).validate().is_err());
        assert!(EfficientNetLiteConfig::new().with_width_divisor(0).validate().is_err());
        let net = EfficientNetLiteConfig::new().with_width_divisor(8).init(&Device::flex());
        let y = net.forward(Tensor::<4>::zeros([1, 3, 64, 50], &Device::flex()));
        assert_eq!(y.dims(), [1, 40, 2, 2]);
        assert_eq!(net.out_channels(), 40);
    }
}
