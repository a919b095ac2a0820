//! Sound-of-Pixels' U-Net (`models/audio_net.py`, `--arch_sound unet7`; docs/reference_implementation.md §8.4), the
//! pix2pix-style mix-and-separate network: 4x4 stride-2 downsampling convolutions, bilinear
//! (align-corners) upsampling followed by 3x3 convolutions, skip concatenations, K output maps.
//!
//! The nested `UnetBlock`s of the reference are stored flat, outermost first, as
//! [`UnetLevel`]s. One quirk of the reference is reproduced on purpose: its down-path
//! `LeakyReLU(0.2, inplace=True)` overwrites the block input, so the skip connection that is
//! concatenated carries `leaky_relu(x)`, not `x`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::{Device, Tensor};

/// Configuration of a [`Unet`].
#[derive(Config, Debug)]
pub struct UnetConfig {
    /// Base width (`ngf`, 64 in SoP).
    #[config(default = 64)]
    pub ngf: usize,
    /// Number of downsamplings (7 for `unet7`; input sides must be divisible by 2^n). At least 5.
    #[config(default = 7)]
    pub num_downs: usize,
    /// Input channels (1: the log magnitude of the warped mixture).
    #[config(default = 1)]
    pub in_channels: usize,
    /// Output maps K (`fc_dim = num_channels = 32`).
    #[config(default = 32)]
    pub out_channels: usize,
}

/// One level of the U-Net (one `UnetBlock` of the reference).
#[derive(Module, Debug)]
pub struct UnetLevel {
    /// 4x4 stride-2 downsampling convolution (no bias).
    pub down_conv: Conv2d,
    /// BN after it (middle levels only).
    pub down_bn: Option<BatchNorm>,
    /// 3x3 convolution after the upsampling (bias only at the outermost level).
    pub up_conv: Conv2d,
    /// BN after it (all but the outermost level).
    pub up_bn: Option<BatchNorm>,
}

/// The U-Net.
#[derive(Module, Debug)]
pub struct Unet {
    /// Input batch norm (`bn0`).
    pub bn0: BatchNorm,
    /// Levels, outermost first.
    pub levels: Vec<UnetLevel>,
    /// x2 bilinear upsampling with aligned corners (its settings; the forward pass uses
    /// [`crate::upsample::upsample2x_aligned`], which also trains on CubeCL backends).
    pub upsample: Interpolate2d,
}

impl UnetConfig {
    /// Builds the network (PyTorch default init; SoP re-initialises convs with N(0, 0.001)
    /// before training, which the separation trainer does).
    ///
    /// # Panics
    /// If `num_downs < 5` (the reference needs at least five levels).
    pub fn init(&self, device: &Device) -> Unet {
        assert!(self.num_downs >= 5, "U-Net needs num_downs >= 5, got {}", self.num_downs);
        let g = self.ngf;
        let n = self.num_downs;
        let levels = (0..n)
            .map(|i| {
                let outermost = i == 0;
                let innermost = i == n - 1;
                // (outer_nc, inner_input_nc) of `UnetBlock`, outermost first.
                let (outer, inner) = match i {
                    0 => (self.out_channels, g),
                    1 => (g, 2 * g),
                    2 => (2 * g, 4 * g),
                    3 => (4 * g, 8 * g),
                    _ => (8 * g, 8 * g),
                };
                let input = if outermost { self.in_channels } else { outer };
                let inner_out = if innermost { inner } else { 2 * inner };
                UnetLevel {
                    down_conv: Conv2dConfig::new([input, inner], [4, 4])
                        .with_stride([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_bias(false)
                        .init(device),
                    down_bn: (!outermost && !innermost).then(|| BatchNormConfig::new(inner).init(device)),
                    up_conv: Conv2dConfig::new([inner_out, outer], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_bias(outermost)
                        .init(device),
                    up_bn: (!outermost).then(|| BatchNormConfig::new(outer).init(device)),
                }
            })
            .collect();
        Unet {
            bn0: BatchNormConfig::new(self.in_channels).init(device),
            levels,
            upsample: Interpolate2dConfig::new()
                .with_scale_factor(Some([2.0, 2.0]))
                .with_mode(InterpolateMode::Linear)
                .with_align_corners(true)
                .init(),
        }
    }
}

impl Unet {
    /// # Shapes
    /// `[N, in_channels, H, W]` -> `[N, out_channels, H, W]`, H and W divisible by
    /// `2^num_downs` (256x256 in SoP).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.level(0, self.bn0.forward(x))
    }

    fn level(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        let level = &self.levels[i];
        let outermost = i == 0;
        let innermost = i + 1 == self.levels.len();
        // Down path. Outermost: conv only. Others: LeakyReLU (in place in the reference, so the
        // skip below also sees it), conv, BN (middle levels).
        let x = if outermost { x } else { leaky_relu(x, 0.2) };
        let mut h = level.down_conv.forward(x.clone());
        if let Some(bn) = &level.down_bn {
            h = bn.forward(h);
        }
        if !innermost {
            h = self.level(i + 1, h);
        }
        // Up path: ReLU, x2 upsample, conv, BN (all but outermost).
        let mut up = level.up_conv.forward(crate::upsample::upsample2x_aligned(relu(h)));
        if let Some(bn) = &level.up_bn {
            up = bn.forward(up);
        }
        if outermost { up } else { Tensor::cat(vec![x, up], 1) }
    }
}
