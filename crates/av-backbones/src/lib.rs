//! # av-backbones — the networks of av-align, on Burn
//!
//! Written once on Burn 0.22 (modules are plain structs over `Tensor<D>`, the backend is a
//! run-time `Device`), running on CPU, WGPU or CUDA alike. Library code never picks a backend.
//!
//! * [`ResNet`] (ResNet-18 family): stride-1 `layer4` (MSSL), dilated `layer4` (Sound-of-Pixels),
//!   1-channel audio stem, optional `layer5`, width multiplier; returns `layer3` (O_v) and
//!   `layer4` (F).
//! * Heads: [`ClassifierHead`] (bias-free, doubles as CAM weights), [`AvcMlp`] 1024-128-2 over all
//!   pairs, [`ProjectionHead`] 512-1024-128 with L2 normalisation.
//! * [`Crnn`] (the original code's audio network, MobileCRNN `mobilecrnn_v2`: conv features
//!   F_a, BiGRU, linear-softmax pooled clip probabilities) and [`DiscrimHead`] (the Fig. 3 AVC
//!   head: `temp_conv` on F_a, max pooling, `discrim` MLP on E_a / E_v), with their PyTorch
//!   key remaps [`MOBILECRNN_KEY_REMAPS`] and [`DISCRIM_HEAD_KEY_REMAPS`].
//! * [`EfficientNetLite`] (EfficientNet-Lite0's trunk, TensorFlow "same" padding, any depth up to
//!   its 16 blocks), the ImageNet-pretrained visual trunk, with [`EFFICIENTNET_LITE_KEY_REMAPS`].
//! * [`Unet`] (Sound-of-Pixels U-Net-7) and [`SopVisualNet`] (dilated ResNet-18 + 3x3 conv to K).
//! * [`weights::load_torchvision_resnet`]: torchvision `.safetensors`/`.pth` import, every key
//!   remap in one table; [`checkpoint`]: burnpack + config JSON, written atomically.
//!
//! ```
//! use av_backbones::{ResNetConfig, global_avg_pool};
//! use burn::tensor::{Device, Distribution, Tensor};
//!
//! let device = Device::flex();
//! let net = ResNetConfig::visual().with_base_width(8).init(&device);
//! let frames = Tensor::<4>::random([2, 3, 64, 64], Distribution::Default, &device);
//! let f = net.forward(frames).layer4; // [2, 64, 4, 4]: output stride 16
//! assert_eq!(f.dims(), [2, 64, 4, 4]);
//! assert_eq!(global_avg_pool(f).dims(), [2, 64]);
//! ```

pub mod checkpoint;
mod crnn;
mod discrim_head;
mod efficientnet_lite;
mod error;
mod heads;
mod resnet;
mod sop_visual;
mod unet;
pub mod upsample;
pub mod weights;

pub use crnn::{
    Crnn, CrnnConfig, CrnnOutput, InvertedResidual, InvertedResidualConfig, MOBILECRNN_KEY_REMAPS,
    linear_softmax_pool,
};
pub use discrim_head::{
    AudioPooling, DISCRIM_HEAD_KEY_REMAPS, DiscrimHead, DiscrimHeadConfig, DiscrimHeadOutput, TemporalConv,
    adaptive_max_pool_time, global_max_pool,
};
pub use efficientnet_lite::{EFFICIENTNET_LITE_KEY_REMAPS, EfficientNetLite, EfficientNetLiteConfig, MbConv};
pub use error::{BackboneError, Result};
pub use heads::{
    AvcMlp, AvcMlpConfig, ClassifierHead, ClassifierHeadConfig, ProjectionHead, ProjectionHeadConfig,
    global_avg_pool, l2_normalize,
};
pub use resnet::{BasicBlock, Downsample, Layer4Mode, ResNet, ResNetConfig, ResNetFeatures};
pub use sop_visual::{SopVisualNet, SopVisualNetConfig};
pub use unet::{Unet, UnetConfig, UnetLevel};
