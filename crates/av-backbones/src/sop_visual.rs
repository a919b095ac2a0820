//! Sound-of-Pixels' visual network (`models/vision_net.py:71-145`, `resnet18dilated`;
//! docs/reference_implementation.md §8.5): a dilated ResNet-18 (output stride 16), a 3x3 convolution to K channels, max pooling
//! over frames and positions, and a sigmoid.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use crate::resnet::{Layer4Mode, ResNet, ResNetConfig};

/// Configuration of a [`SopVisualNet`].
#[derive(Config, Debug)]
pub struct SopVisualNetConfig {
    /// Trunk width (`base_width` of the ResNet, 64 in SoP).
    #[config(default = 64)]
    pub base_width: usize,
    /// Output channels K (32 in SoP).
    #[config(default = 32)]
    pub out_channels: usize,
}

impl SopVisualNetConfig {
    /// Builds the network.
    pub fn init(&self, device: &Device) -> SopVisualNet {
        let trunk = ResNetConfig::new().with_base_width(self.base_width).with_layer4(Layer4Mode::Dilated);
        SopVisualNet {
            fc: Conv2dConfig::new([trunk.out_channels(), self.out_channels], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            trunk: trunk.init(device),
        }
    }
}

/// Dilated ResNet-18 + 3x3 conv to K channels.
#[derive(Module, Debug)]
pub struct SopVisualNet {
    /// The dilated trunk (`features` in SoP).
    pub trunk: ResNet,
    /// `Conv2d(512, K, 3, padding=1)` with bias.
    pub fc: Conv2d,
}

impl SopVisualNet {
    /// The K-channel map of each frame (before pooling and sigmoid).
    ///
    /// # Shapes
    /// `[N, 3, H, W]` -> `[N, K, H/16, W/16]` (14x14 for 224x224 frames).
    pub fn forward_map(&self, frames: Tensor<4>) -> Tensor<4> {
        self.fc.forward(self.trunk.forward(frames).layer4)
    }

    /// SoP's visual vector: max over frames and positions, then sigmoid.
    ///
    /// # Shapes
    /// `[N, T, 3, H, W]` -> `[N, K]`.
    pub fn forward(&self, frames: Tensor<5>) -> Tensor<2> {
        let [n, t, c, h, w] = frames.dims();
        let maps = self.forward_map(frames.reshape([n * t, c, h, w]));
        let [_, k, fh, fw] = maps.dims();
        let pooled = maps.reshape([n, t, k, fh * fw]).swap_dims(1, 2).reshape([n, k, t * fh * fw]).max_dim(2);
        sigmoid(pooled.reshape([n, k]))
    }
}
