//! The audio-visual correspondence (AVC) head of the paper's Fig. 3 as the original code builds
//! it: `DiscrimHead` (docs/reference_implementation.md §3.3; MSSL `model/detector.py:614-702` for Flickr,
//! `model/audioset_detector.py:436-516` for AudioSet).
//!
//! **Parity-only.** This DiscrimHead reproduces the original code's network and is checked
//! against PyTorch (`tests/integration/parity_crnn.rs`), but the `av-align` model does not use it: its AVC
//! head is the two-layer MLP on pooled trunk features ([`crate::AvcMlp`]), on the ResNet-18
//! trunks the paper describes (`docs/reference_implementation.md` lists this choice). It is here for importing and
//! comparing the official checkpoints.
//!
//! * Audio branch `temp_conv` on the CRNN's F_a (`[N, 512, T', 2]`, see [`crate::Crnn`]), all
//!   convs bias-free, BN eps 1e-5 momentum 0.1:
//!   1. `Conv2d(512, 512, k (3, 1), dilation (2, 1), pad (2, 0))` -> BN -> `MaxPool(2, 1)` -> ReLU
//!   2. `Conv2d(512, 512, k (1, 2), stride (1, 2))` -> BN -> ReLU (frequency 2 -> 1)
//!   3. `Conv2d(512, 512, k (3, 1), pad (1, 0))` -> BN -> `MaxPool(2, 1)` -> ReLU
//!
//!   giving E_a `[N, 512, T'', 1]` (T' = 63 -> 31 -> 15 for 5-s clips). The two `MaxPool(2, 1)`
//!   are not in the paper's text.
//! * Visual branch `spa_conv` = the visual ResNet's `layer5` on O_v (`layer3`), i.e. E_v =
//!   [`crate::ResNetFeatures::layer5`] of a [`crate::ResNetConfig::with_layer5`] trunk. The head
//!   takes E_v as an input; it does not own that layer.
//! * Pooling: audio `AdaptiveMaxPool2d((frames, 1))` (Flickr; frames = 1 there) or
//!   `AdaptiveMaxPool2d((1, 1))` repeated over the frames (AudioSet), see [`AudioPooling`];
//!   visual `AdaptiveMaxPool2d(1)` per frame.
//! * `discrim = Linear(1024, 128) -> ReLU -> Linear(128, 2)` on `concat(audio, visual)`, here an
//!   [`AvcMlp`] (output index 1 = "corresponding", the cross-entropy target of matched rows).
//!
//! Negatives: for frames = 1 the original pairs the audio of clip `s` with the visual of its
//! neighbour `s ^ 1` ([`DiscrimHead::neighbour_negatives`]); for frames > 1 it draws random
//! clips and frame permutations, which a caller builds and scores with [`DiscrimHead::classify`].
//! The reference module also holds `transform_a` / `transform_v` (docs/reference_implementation.md §3.5), which its forward
//! pass does not use; they are not part of this head (load a reference file with
//! `allow_unused = true`). MSSL trains this head in train mode (`discrim.train()`,
//! `main.py:232-234`) while the backbones stay in eval mode.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::error::{BackboneError, Result};
use crate::heads::{AvcMlp, AvcMlpConfig};

/// The key remaps from the reference `DiscrimHead` `state_dict` to [`DiscrimHead`]:
/// `(regex, replacement)`, applied in order. A framework checkpoint prefixes them with
/// `discrim.` and also holds `spa_conv.*` (the visual `layer5`, load it into the ResNet with
/// `^spa_conv\.(.*)$ -> layer5.$1`) and the unused `transform_a/v.*`.
///
/// | PyTorch key | Burn path |
/// |---|---|
/// | `temp_conv.0.*` / `temp_conv.1.*` | `temp_conv.conv1.*` / `temp_conv.bn1.*` |
/// | `temp_conv.4.*` / `temp_conv.5.*` | `temp_conv.conv2.*` / `temp_conv.bn2.*` |
/// | `temp_conv.7.*` / `temp_conv.8.*` | `temp_conv.conv3.*` / `temp_conv.bn3.*` |
/// | `discrim.0.*` / `discrim.2.*` | `discrim.fc1.*` / `discrim.fc2.*` |
pub const DISCRIM_HEAD_KEY_REMAPS: [(&str, &str); 8] = [
    (r"^temp_conv\.0\.(.*)$", "temp_conv.conv1.$1"),
    (r"^temp_conv\.1\.(.*)$", "temp_conv.bn1.$1"),
    (r"^temp_conv\.4\.(.*)$", "temp_conv.conv2.$1"),
    (r"^temp_conv\.5\.(.*)$", "temp_conv.bn2.$1"),
    (r"^temp_conv\.7\.(.*)$", "temp_conv.conv3.$1"),
    (r"^temp_conv\.8\.(.*)$", "temp_conv.bn3.$1"),
    (r"^discrim\.0\.(.*)$", "discrim.fc1.$1"),
    (r"^discrim\.2\.(.*)$", "discrim.fc2.$1"),
];

/// How E_a becomes one audio vector per frame.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum AudioPooling {
    /// `AdaptiveMaxPool2d((frames, 1))`: one max over each of `frames` time bins
    /// (`detector.py:656`, Flickr). The default; with frames = 1 a global max pool.
    PerFrame,
    /// `AdaptiveMaxPool2d((1, 1))`, the same vector repeated for every frame
    /// (`audioset_detector.py:474, 493-494`, AudioSet).
    GlobalRepeated,
}

/// Configuration of a [`DiscrimHead`].
#[derive(Config, Debug)]
pub struct DiscrimHeadConfig {
    /// Channels of F_a and E_v, and of every `temp_conv` layer (512 in the reference, i.e.
    /// `8 * base_width` of the CRNN and the ResNet); the MLP input is twice this.
    #[config(default = 512)]
    pub channels: usize,
    /// Hidden size of the `discrim` MLP (128, `detector.py:649-653`).
    #[config(default = 128)]
    pub d_hidden: usize,
    /// Audio pooling (Flickr: per frame; AudioSet: global, repeated).
    #[config(default = "AudioPooling::PerFrame")]
    pub audio_pooling: AudioPooling,
}

impl DiscrimHeadConfig {
    /// Builds the head with PyTorch's default initialisation (the reference calls no init).
    pub fn init(&self, device: &Device) -> DiscrimHead {
        let c = self.channels;
        let conv = |kernel: [usize; 2], stride: [usize; 2], dilation: [usize; 2], pad: [usize; 2]| {
            Conv2dConfig::new([c, c], kernel)
                .with_stride(stride)
                .with_dilation(dilation)
                .with_padding(PaddingConfig2d::Explicit(pad[0], pad[1], pad[0], pad[1]))
                .with_bias(false)
                .init(device)
        };
        DiscrimHead {
            temp_conv: TemporalConv {
                conv1: conv([3, 1], [1, 1], [2, 1], [2, 0]),
                bn1: BatchNormConfig::new(c).with_epsilon(1e-5).with_momentum(0.1).init(device),
                conv2: conv([1, 2], [1, 2], [1, 1], [0, 0]),
                bn2: BatchNormConfig::new(c).with_epsilon(1e-5).with_momentum(0.1).init(device),
                conv3: conv([3, 1], [1, 1], [1, 1], [1, 0]),
                bn3: BatchNormConfig::new(c).with_epsilon(1e-5).with_momentum(0.1).init(device),
                pool: MaxPool2dConfig::new([2, 1]).with_strides([2, 1]).init(),
            },
            discrim: AvcMlpConfig::new().with_d_feature(c).with_d_hidden(self.d_hidden).init(device),
            audio_pooling: self.audio_pooling,
        }
    }
}

/// The audio branch `temp_conv` of the AVC head (three bias-free convs with BN, two
/// `MaxPool(2, 1)`), stored flat: `temp_conv.{0,1,4,5,7,8}` of the reference.
#[derive(Module, Debug)]
pub struct TemporalConv {
    /// `Conv2d(C, C, (3, 1), dilation (2, 1), padding (2, 0))` (`temp_conv.0`).
    pub conv1: Conv2d,
    /// BN after it (`temp_conv.1`).
    pub bn1: BatchNorm,
    /// `Conv2d(C, C, (1, 2), stride (1, 2))`, frequency 2 -> 1 (`temp_conv.4`).
    pub conv2: Conv2d,
    /// BN after it (`temp_conv.5`).
    pub bn2: BatchNorm,
    /// `Conv2d(C, C, (3, 1), padding (1, 0))` (`temp_conv.7`).
    pub conv3: Conv2d,
    /// BN after it (`temp_conv.8`).
    pub bn3: BatchNorm,
    /// `MaxPool2d((2, 1), stride (2, 1))`, time only (`temp_conv.2` and `.9`).
    pub pool: MaxPool2d,
}

impl TemporalConv {
    /// # Shapes
    /// F_a `[N, C, T', F']` -> E_a `[N, C, floor(floor(T' / 2) / 2), F' / 2]` (`[N, 512, 15, 1]`
    /// for T' = 63, F' = 2).
    pub fn forward(&self, f_a: Tensor<4>) -> Tensor<4> {
        // conv -> BN -> MaxPool(2, 1) -> ReLU, in the reference's order.
        let x = relu(self.pool.forward(self.bn1.forward(self.conv1.forward(f_a))));
        let x = relu(self.bn2.forward(self.conv2.forward(x)));
        relu(self.pool.forward(self.bn3.forward(self.conv3.forward(x))))
    }
}

/// The outputs of [`DiscrimHead::forward`].
#[derive(Debug, Clone)]
pub struct DiscrimHeadOutput {
    /// E_a, the `temp_conv` output: `[N, C, T'', 1]`.
    pub audio_map: Tensor<4>,
    /// Pooled audio vectors, one per frame: `[N, frames, C]`.
    pub audio: Tensor<3>,
    /// Pooled visual vectors (global max of E_v): `[N, frames, C]`.
    pub visual: Tensor<3>,
    /// `discrim` logits of the matched pairs (MSSL's `common`): `[N, frames, 2]`.
    pub logits: Tensor<3>,
}

/// The Fig. 3 AVC head: `temp_conv` on F_a, max pooling of both branches, `discrim` MLP.
#[derive(Module, Debug)]
pub struct DiscrimHead {
    /// Audio branch (`temp_conv`).
    pub temp_conv: TemporalConv,
    /// `Linear(2C, hidden) -> ReLU -> Linear(hidden, 2)` (`discrim.0`, `discrim.2`).
    pub discrim: AvcMlp,
    /// Audio pooling variant.
    #[module(skip)]
    pub audio_pooling: AudioPooling,
}

impl DiscrimHead {
    /// The audio branch: E_a from F_a (also the last step of the original's class-wise audio
    /// features, docs/reference_implementation.md §3.4: `temp_conv(F_a * mask)` then a global max pool).
    ///
    /// # Shapes
    /// `[N, C, T', F']` -> `[N, C, T'', F' / 2]`, see [`TemporalConv::forward`].
    pub fn forward_audio(&self, f_a: Tensor<4>) -> Tensor<4> {
        self.temp_conv.forward(f_a)
    }

    /// Pools E_a into one vector per frame with [`DiscrimHeadConfig::audio_pooling`].
    ///
    /// # Shapes
    /// `[N, C, T'', W]` -> `[N, frames, C]`.
    pub fn pool_audio(&self, audio_map: Tensor<4>, frames: usize) -> Tensor<3> {
        let [n, c, _, _] = audio_map.dims();
        match self.audio_pooling {
            AudioPooling::PerFrame => {
                adaptive_max_pool_time(audio_map, frames).reshape([n, c, frames]).swap_dims(1, 2)
            }
            AudioPooling::GlobalRepeated => {
                global_max_pool(audio_map).reshape([n, 1, c]).repeat_dim(1, frames)
            }
        }
    }

    /// Pools E_v (`spa_pool`, `AdaptiveMaxPool2d(1)`) and groups the frames of each clip.
    ///
    /// # Shapes
    /// `[N * frames, C, H, W]` (clip-major, frame-minor) -> `[N, frames, C]`.
    ///
    /// # Errors
    /// [`BackboneError::BatchShape`] if the batch is not a multiple of `frames`.
    pub fn pool_visual(visual_map: Tensor<4>, frames: usize) -> Result<Tensor<3>> {
        let [nf, c, _, _] = visual_map.dims();
        if frames == 0 || nf % frames != 0 {
            return Err(BackboneError::BatchShape {
                op: "DiscrimHead::pool_visual",
                detail: format!("E_v batch {nf} is not a multiple of frames = {frames}"),
            });
        }
        Ok(global_max_pool(visual_map).reshape([nf / frames, frames, c]))
    }

    /// The `discrim` MLP on `concat(audio, visual)`.
    ///
    /// # Shapes
    /// `[N, frames, C]`, `[N, frames, C]` -> `[N, frames, 2]`.
    pub fn classify(&self, audio: Tensor<3>, visual: Tensor<3>) -> Tensor<3> {
        let [n, f, c] = audio.dims();
        let logits = self.discrim.forward(audio.reshape([n * f, c]), visual.reshape([n * f, c]));
        logits.reshape([n, f, 2])
    }

    /// The matched pairs (`DiscrimHead.forward`'s `common`, plus the intermediate maps).
    ///
    /// # Shapes
    /// F_a `[N, C, T', 2]`, E_v `[N * frames, C, H, W]` (frames of a clip contiguous) -> see
    /// [`DiscrimHeadOutput`].
    ///
    /// # Errors
    /// [`BackboneError::BatchShape`] if E_v's batch is not `N * frames`.
    pub fn forward(&self, f_a: Tensor<4>, e_v: Tensor<4>, frames: usize) -> Result<DiscrimHeadOutput> {
        let n = f_a.dims()[0];
        if e_v.dims()[0] != n * frames {
            return Err(BackboneError::BatchShape {
                op: "DiscrimHead::forward",
                detail: format!("E_v batch {} must be N * frames = {n} * {frames}", e_v.dims()[0]),
            });
        }
        let visual = Self::pool_visual(e_v, frames)?;
        let audio_map = self.forward_audio(f_a);
        let audio = self.pool_audio(audio_map.clone(), frames);
        let logits = self.classify(audio.clone(), visual.clone());
        Ok(DiscrimHeadOutput { audio_map, audio, visual, logits })
    }

    /// The original's negatives for frames = 1 (`detector.py:684-687`, MSSL's `differ`): the
    /// audio of clip `s` with the visual of clip `s ^ 1` (`s + 1` for even `s`, `s - 1` for odd),
    /// i.e. the other clip of each `mix = 2` item.
    ///
    /// # Shapes
    /// `[N, frames, C]`, `[N, frames, C]` -> `[N, frames, 2]`.
    ///
    /// # Errors
    /// [`BackboneError::BatchShape`] if N is odd (the reference indexes past the batch then).
    pub fn neighbour_negatives(&self, audio: Tensor<3>, visual: Tensor<3>) -> Result<Tensor<3>> {
        let [n, f, c] = visual.dims();
        if n % 2 != 0 {
            return Err(BackboneError::BatchShape {
                op: "DiscrimHead::neighbour_negatives",
                detail: format!("neighbour negatives need an even number of clips, got {n}"),
            });
        }
        let swapped = visual.reshape([n / 2, 2, f, c]).flip([1]).reshape([n, f, c]);
        Ok(self.classify(audio, swapped))
    }
}

/// Global max pooling over both spatial axes (`AdaptiveMaxPool2d(1)` then flatten).
///
/// # Shapes
/// `[N, C, H, W]` -> `[N, C]`.
pub fn global_max_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h * w]).max_dim(2).reshape([n, c])
}

/// `AdaptiveMaxPool2d((bins, 1))`: PyTorch's adaptive bins over the time axis (bin `i` covers
/// `floor(i T / bins) .. ceil((i + 1) T / bins)`, so bins overlap when `bins` does not divide
/// T), all of the frequency axis in one bin.
///
/// # Shapes
/// `[N, C, T, W]` -> `[N, C, bins, 1]`.
///
/// # Panics
/// If `bins` is 0 or larger than T.
pub fn adaptive_max_pool_time(x: Tensor<4>, bins: usize) -> Tensor<4> {
    let [n, c, t, w] = x.dims();
    assert!(bins > 0 && bins <= t, "adaptive max pool: {bins} bins over {t} steps");
    let pooled: Vec<Tensor<3>> = (0..bins)
        .map(|i| {
            let start = i * t / bins;
            let end = ((i + 1) * t).div_ceil(bins);
            x.clone().slice([0..n, 0..c, start..end, 0..w]).reshape([n, c, (end - start) * w]).max_dim(2)
        })
        .collect();
    Tensor::cat(pooled, 2).reshape([n, c, bins, 1])
}
