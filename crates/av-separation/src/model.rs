//! The separation network: Sound-of-Pixels' U-Net-7 on the warped log-magnitude of the mixture
//! (K output maps) and the `InnerProd` synthesizer that turns a K-channel guidance vector into a
//! mask, plus the paper's "Grad-CAM weights as the mask" variant where a given mask is used
//! directly (see [`Guidance`]).
//!
//! References: SoP `models/audio_net.py` (U-Net, in `av-backbones`), `models/synthesizer_net.py:6-19`
//! (`InnerProd`), `models/__init__.py:28-36` (init), `main.py:72-90` (activations); docs/reference_implementation.md §8.4-8.5.

use av_backbones::{SopVisualNet, Unet, UnetConfig};
use av_data::rng::SplitMix64;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Result, SeparationError};
use crate::mix::{MaskKind, RATIO_CLAMP};

/// Stream tags of the deterministic initialisation.
const TAG_UNET: u64 = 0x0E_7001;
const TAG_PROJECTION: u64 = 0x0E_7002;

/// What tells the network which source to extract, one per source and batch element.
///
/// * [`Guidance::Vector`]: a K-channel vector that weights the U-Net's K maps in the synthesizer
///   (SoP's visual vector = max-pooled, sigmoid-activated `SopVisualNet` output; MSSL's visual or
///   audio guidance = the Eq. 5 pooled 512-d feature mapped to K channels, e.g. by
///   [`GuidanceProjection`]).
/// * [`Guidance::Mask`]: a mask on the network's time-frequency grid, used directly as the
///   predicted mask after bilinear resizing to the grid; no learned part is involved. This is our
///   reading of the paper's "directly use weights output by Grad-CAM as prediction mask" (Table 3,
///   row "Ours Grad-CAM"): the class-`c` Grad-CAM map of the *audio* branch lives on the
///   (time, frequency) grid of the audio feature map `F_a`, so it can serve as a (very coarse)
///   spectrogram mask; a visual map lives on image positions and cannot. Its low resolution is
///   what the paper blames for the poor scores (SDR -2.78).
#[derive(Debug, Clone)]
pub enum Guidance {
    /// `[B, K]` weights of the K U-Net maps (values as the guidance network gives them; SoP
    /// uses sigmoid outputs in (0, 1)).
    Vector(Tensor<2>),
    /// `[B, h, w]` mask with rows = frequency (low to high, on the warped log-frequency axis of
    /// the network grid) and columns = time (frames); any `h, w >= 1`, bilinearly resized
    /// (half-pixel centres) to the grid `(F, T)` = 256 x 256 and clamped to `[0, 1]` (binary
    /// masks) or `[0, 5]` (ratio masks). A Grad-CAM map over `(time, mel)` must be transposed
    /// (and, for exactness, resampled from mel to the warped axis) by the caller.
    Mask(Tensor<3>),
}

impl Guidance {
    /// Batch size `B`.
    pub fn batch_size(&self) -> usize {
        match self {
            Guidance::Vector(v) => v.dims()[0],
            Guidance::Mask(m) => m.dims()[0],
        }
    }
}

/// One source's predicted mask.
#[derive(Debug, Clone)]
pub struct MaskPrediction {
    /// The mask, `[B, 1, F, T]`, after the output activation (sigmoid for binary, ReLU for
    /// ratio masks), on the warped grid.
    pub mask: Tensor<4>,
    /// The synthesizer's pre-activation output, `[B, 1, F, T]` ([`Guidance::Vector`] only); the
    /// binary loss is computed from it for numerical stability.
    pub logits: Option<Tensor<4>>,
}

/// Configuration of a [`Synthesizer`].
#[derive(Config, Debug)]
pub struct SynthesizerConfig {
    /// Number of channels K (`fc_dim`, 32 in SoP).
    pub channels: usize,
    /// Initial value of the scalar bias (SoP: 0).
    #[config(default = 0.0)]
    pub bias_init: f32,
}

impl SynthesizerConfig {
    /// Builds the synthesizer: `scale = 1`, `bias = bias_init` (SoP's `InnerProd` init is
    /// scale 1, bias 0; its `weights_init` does not touch them).
    pub fn init(&self, device: &Device) -> Synthesizer {
        Synthesizer {
            scale: Param::from_tensor(Tensor::ones([self.channels], device)),
            bias: Param::from_tensor(Tensor::full([1], self.bias_init, device)),
        }
    }
}

/// SoP's `InnerProd` synthesizer: `z[b, f, t] = Σ_k v[b, k] · scale[k] · A[b, k, f, t] + bias`.
#[derive(Module, Debug)]
pub struct Synthesizer {
    /// Per-channel scale, `[K]` (init 1).
    pub scale: Param<Tensor<1>>,
    /// Scalar bias, `[1]` (init 0).
    pub bias: Param<Tensor<1>>,
}

impl Synthesizer {
    /// Mask logits of one source.
    ///
    /// # Shapes
    /// `guidance`: `[B, K]`; `features`: `[B, K, F, T]` -> `[B, 1, F, T]`.
    pub fn forward(&self, guidance: Tensor<2>, features: Tensor<4>) -> Tensor<4> {
        let [b, k, f, t] = features.dims();
        let weights = guidance.mul(self.scale.val().reshape([1, k])); // [B, K]
        let z = weights.reshape([b, 1, k]).matmul(features.reshape([b, k, f * t])); // [B, 1, F*T]
        z.reshape([b, 1, f, t]).add(self.bias.val().reshape([1, 1, 1, 1]))
    }
}

/// Configuration of a [`SeparationNet`].
#[derive(Config, Debug)]
pub struct SeparationNetConfig {
    /// U-Net base width (`ngf`, 64 in SoP, `models/audio_net.py`).
    #[config(default = 64)]
    pub ngf: usize,
    /// U-Net depth (`unet7`: 7; grid sides must be divisible by `2^num_downs`; at least 5).
    #[config(default = 7)]
    pub num_downs: usize,
    /// Number of U-Net output maps and guidance channels K (`--num_channels 32`).
    #[config(default = 32)]
    pub channels: usize,
    /// Mask kind: sets the output activation (sigmoid for binary, ReLU for ratio masks) and the
    /// loss (BCE / L1); must match the data path's [`crate::MixConfig::mask`].
    #[config(default = "MaskKind::Binary")]
    pub mask: MaskKind,
    /// Seed of the deterministic initialisation (SoP's `weights_init`, drawn from SplitMix64 so
    /// that a model is a pure function of its config, whatever the backend or thread count).
    #[config(default = 0)]
    pub seed: u64,
}

impl SeparationNetConfig {
    /// The paper's / Sound-of-Pixels' network: U-Net-7, ngf 64, K = 32 (docs/reference_implementation.md §8.4).
    pub fn paper() -> Self {
        Self::new()
    }

    /// A small network with the same structure (ngf 8, K 8, U-Net-7) that trains on two CPU
    /// cores in seconds per step: for tests, CI and quick experiments.
    pub fn compact() -> Self {
        Self::new().with_ngf(8).with_channels(8)
    }

    /// The synthesizer's initial bias: 0 for binary masks (SoP), 0.5 for ratio masks. A ReLU
    /// ratio mask starts near `relu(bias)` (the U-Net's N(0, 0.001) weights make its maps nearly
    /// constant at init); with SoP's bias 0 a source whose guided maps start negative gets an
    /// all-zero mask, a zero gradient and stays silent (seen with one-hot guidance). 0.5 is the
    /// ratio of each of two equal sources.
    pub fn synthesizer_bias(&self) -> f32 {
        match self.mask {
            MaskKind::Binary => 0.0,
            MaskKind::Ratio => 0.5,
        }
    }

    /// The U-Net part.
    pub fn unet(&self) -> UnetConfig {
        UnetConfig::new().with_ngf(self.ngf).with_num_downs(self.num_downs).with_out_channels(self.channels)
    }

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`SeparationError::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        if self.num_downs < 5 || self.num_downs > 12 {
            return Err(SeparationError::InvalidConfig(format!(
                "num_downs must be in 5..=12, got {}",
                self.num_downs
            )));
        }
        if self.ngf == 0 || self.channels == 0 {
            return Err(SeparationError::InvalidConfig(format!(
                "ngf ({}) and channels ({}) must be >= 1",
                self.ngf, self.channels
            )));
        }
        Ok(())
    }

    /// Builds the network with SoP's initialisation (`models/__init__.py:28-36`): conv weights
    /// N(0, 0.001), BN γ ~ N(1, 0.02), β = 0; the outermost conv's bias keeps PyTorch's default
    /// U(±1/√fan_in); synthesizer scale 1, bias 0. Deterministic in [`Self::seed`].
    ///
    /// # Errors
    /// [`SeparationError::InvalidConfig`].
    pub fn init(&self, device: &Device) -> Result<SeparationNet> {
        self.validate()?;
        let mut rng = SplitMix64::from_words(&[self.seed, TAG_UNET]);
        let unet = sop_init_unet(self.unet().init(device), &mut rng);
        Ok(SeparationNet {
            unet,
            synthesizer: SynthesizerConfig::new(self.channels)
                .with_bias_init(self.synthesizer_bias())
                .init(device),
            mask: self.mask,
            num_downs: self.num_downs,
        })
    }
}

/// U-Net + synthesizer (SoP's `net_sound` + `net_synthesizer`).
#[derive(Module, Debug)]
pub struct SeparationNet {
    /// The audio U-Net, K output maps (`--sound_activation no`).
    pub unet: Unet,
    /// The synthesizer.
    pub synthesizer: Synthesizer,
    /// Mask kind (output activation).
    #[module(skip)]
    pub mask: MaskKind,
    /// U-Net depth (to check the grid size).
    #[module(skip)]
    pub num_downs: usize,
}

impl SeparationNet {
    /// The U-Net's K maps of the mixture.
    ///
    /// # Shapes
    /// `log_magnitude`: `[B, 1, F, T]` (256 x 256) -> `[B, K, F, T]`.
    ///
    /// # Errors
    /// [`SeparationError::Shape`] when the input is not `[B >= 1, 1, F, T]` with `F` and `T`
    /// divisible by `2^num_downs`.
    pub fn features(&self, log_magnitude: Tensor<4>) -> Result<Tensor<4>> {
        let [b, c, f, t] = log_magnitude.dims();
        let m = 1usize << self.num_downs;
        if b == 0 || c != 1 || f == 0 || t == 0 || f % m != 0 || t % m != 0 {
            return Err(SeparationError::Shape {
                op: "SeparationNet::features",
                expected: format!("[B >= 1, 1, F, T] with F and T multiples of {m}"),
                actual: format!("{:?}", [b, c, f, t]),
            });
        }
        Ok(self.unet.forward(log_magnitude))
    }

    /// Masks of one or more sources from precomputed features (compute them once with
    /// [`Self::features`] and query many guidances, e.g. several clicked points).
    ///
    /// # Shapes
    /// `features`: `[B, K, F, T]`; each guidance `[B, K]` or `[B, h, w]`; one
    /// [`MaskPrediction`] (`[B, 1, F, T]`) per guidance, in order.
    ///
    /// # Errors
    /// [`SeparationError::Shape`] for a guidance of the wrong batch size or channel count.
    pub fn synthesize(&self, features: &Tensor<4>, guidance: &[Guidance]) -> Result<Vec<MaskPrediction>> {
        let [b, k, f, t] = features.dims();
        guidance.iter().map(|g| self.one_mask(Some(features), [b, k, f, t], g)).collect()
    }

    /// Predicted masks of every source of a batch of mixtures. The U-Net runs only when some
    /// guidance is a [`Guidance::Vector`].
    ///
    /// # Shapes
    /// `log_magnitude`: `[B, 1, F, T]`; `guidance`: one per source, `[B, K]` or `[B, h, w]`;
    /// output: one `[B, 1, F, T]` mask per source.
    ///
    /// # Errors
    /// [`SeparationError::Empty`] for no guidance; [`SeparationError::Shape`] as in
    /// [`Self::features`] and [`Self::synthesize`].
    pub fn forward(&self, log_magnitude: Tensor<4>, guidance: &[Guidance]) -> Result<Vec<MaskPrediction>> {
        if guidance.is_empty() {
            return Err(SeparationError::Empty { op: "SeparationNet::forward", what: "guidance list" });
        }
        let [b, _, f, t] = log_magnitude.dims();
        let features = if guidance.iter().any(|g| matches!(g, Guidance::Vector(_))) {
            Some(self.features(log_magnitude)?)
        } else {
            None
        };
        let k = self.synthesizer.scale.dims()[0];
        guidance.iter().map(|g| self.one_mask(features.as_ref(), [b, k, f, t], g)).collect()
    }

    fn one_mask(
        &self,
        features: Option<&Tensor<4>>,
        [b, k, f, t]: [usize; 4],
        g: &Guidance,
    ) -> Result<MaskPrediction> {
        let shape_err = |expected: String, actual: Vec<usize>| SeparationError::Shape {
            op: "SeparationNet::forward",
            expected,
            actual: format!("guidance of shape {actual:?}"),
        };
        match g {
            Guidance::Vector(v) => {
                let dims = v.dims();
                if dims != [b, k] {
                    return Err(shape_err(format!("a guidance vector [{b}, {k}]"), dims.to_vec()));
                }
                let features = features.ok_or_else(|| shape_err("U-Net features".into(), dims.to_vec()))?;
                let logits = self.synthesizer.forward(v.clone(), features.clone());
                let mask = match self.mask {
                    MaskKind::Binary => sigmoid(logits.clone()),
                    MaskKind::Ratio => relu(logits.clone()),
                };
                Ok(MaskPrediction { mask, logits: Some(logits) })
            }
            Guidance::Mask(m) => {
                let [mb, h, w] = m.dims();
                if mb != b || h == 0 || w == 0 {
                    return Err(shape_err(format!("a guidance mask [{b}, h >= 1, w >= 1]"), vec![mb, h, w]));
                }
                let m = m.clone().reshape([b, 1, h, w]);
                let m = if [h, w] == [f, t] {
                    m
                } else {
                    interpolate(
                        m,
                        InterpolateOptions::new(InterpolateMode::Bilinear)
                            .with_align_corners(false)
                            .with_output_size([f, t]),
                    )
                };
                let hi = match self.mask {
                    MaskKind::Binary => 1.0,
                    MaskKind::Ratio => f64::from(RATIO_CLAMP),
                };
                Ok(MaskPrediction { mask: m.clamp(0.0, hi), logits: None })
            }
        }
    }

    /// Number of guidance channels K.
    pub fn channels(&self) -> usize {
        self.synthesizer.scale.dims()[0]
    }
}

/// Sound-of-Pixels' baseline guidance: the whole-frame visual vector of a [`SopVisualNet`]
/// (dilated ResNet-18, 3x3 conv to K, max over frames and positions, sigmoid; SoP
/// `main.py:75-78`, `--img_activation sigmoid`).
///
/// # Shapes
/// `frames`: `[B, frames, 3, H, W]` (3 frames of 224x224 in SoP) -> [`Guidance::Vector`] `[B, K]`.
pub fn sop_visual_guidance(visual: &SopVisualNet, frames: Tensor<5>) -> Guidance {
    Guidance::Vector(visual.forward(frames))
}

/// Configuration of a [`GuidanceProjection`].
#[derive(Config, Debug)]
pub struct GuidanceProjectionConfig {
    /// Input width D (512 for MSSL's Eq. 5 pooled features).
    pub input: usize,
    /// Output channels K (must equal the separation network's).
    #[config(default = 32)]
    pub channels: usize,
    /// Seed of the deterministic initialisation.
    #[config(default = 0)]
    pub seed: u64,
}

impl GuidanceProjectionConfig {
    /// Builds the projection with PyTorch's default `Linear` init, U(±1/√D) for weights and
    /// bias, drawn deterministically from [`Self::seed`].
    pub fn init(&self, device: &Device) -> GuidanceProjection {
        let mut rng = SplitMix64::from_words(&[self.seed, TAG_PROJECTION]);
        let bound = 1.0 / (self.input.max(1) as f64).sqrt();
        let mut linear = LinearConfig::new(self.input, self.channels).init(device);
        linear.weight = reinit(linear.weight, |w| uniform_like(w, bound, &mut rng));
        linear.bias = linear.bias.map(|p| reinit(p, |b| uniform_like(b, bound, &mut rng)));
        GuidanceProjection { linear }
    }
}

/// Maps a D-dimensional guidance feature (MSSL's class-aware pooled visual or audio
/// representation, Eq. 5 with the localization map as weights) to the K synthesizer channels:
/// `sigmoid(Linear(D, K))`. The paper does not say how this is done (docs/reference_implementation.md §8 intro, §10.19);
/// this is the natural equivalent of SoP's 3x3 conv to K followed by pooling and sigmoid.
#[derive(Module, Debug)]
pub struct GuidanceProjection {
    /// `Linear(D, K)` with bias.
    pub linear: Linear,
}

impl GuidanceProjection {
    /// # Shapes
    /// `[B, D]` -> `[B, K]`, values in (0, 1).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        sigmoid(self.linear.forward(x))
    }

    /// [`Self::forward`] wrapped as a [`Guidance::Vector`].
    pub fn guidance(&self, x: Tensor<2>) -> Guidance {
        Guidance::Vector(self.forward(x))
    }
}

/// Replaces a parameter's value by `f(old)`, keeping its id and making it trainable again
/// (`Param::map` takes the gradient flag from the new tensor, which a freshly created tensor
/// does not carry).
fn reinit<const D: usize>(p: Param<Tensor<D>>, f: impl FnOnce(&Tensor<D>) -> Tensor<D>) -> Param<Tensor<D>> {
    p.map(|old| f(&old)).set_require_grad(true)
}

/// A standard normal draw (Box-Muller).
fn standard_normal(rng: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - rng.uniform(); // (0, 1]
    let u2 = rng.uniform();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn tensor_from_fn<const D: usize>(like: &Tensor<D>, mut f: impl FnMut() -> f64) -> Tensor<D> {
    let dims = like.dims();
    let n: usize = dims.iter().product();
    let values: Vec<f32> = (0..n).map(|_| f() as f32).collect();
    Tensor::from_data(TensorData::new(values, dims), &like.device())
}

fn normal_like<const D: usize>(like: &Tensor<D>, mean: f64, std: f64, rng: &mut SplitMix64) -> Tensor<D> {
    tensor_from_fn(like, || mean + std * standard_normal(rng))
}

fn uniform_like<const D: usize>(like: &Tensor<D>, bound: f64, rng: &mut SplitMix64) -> Tensor<D> {
    tensor_from_fn(like, || (2.0 * rng.uniform() - 1.0) * bound)
}

fn sop_init_conv(mut conv: Conv2d, rng: &mut SplitMix64) -> Conv2d {
    let [_, cin, kh, kw] = conv.weight.dims();
    conv.weight = reinit(conv.weight, |w| normal_like(w, 0.0, 0.001, rng));
    let bound = 1.0 / ((cin * kh * kw).max(1) as f64).sqrt();
    conv.bias = conv.bias.map(|p| reinit(p, |b| uniform_like(b, bound, rng)));
    conv
}

fn sop_init_bn(mut bn: BatchNorm, rng: &mut SplitMix64) -> BatchNorm {
    bn.gamma = reinit(bn.gamma, |g| normal_like(g, 1.0, 0.02, rng));
    bn.beta = reinit(bn.beta, Tensor::zeros_like);
    bn
}

/// SoP's `weights_init` applied to every conv and BN of the U-Net, outermost level first.
fn sop_init_unet(mut unet: Unet, rng: &mut SplitMix64) -> Unet {
    unet.bn0 = sop_init_bn(unet.bn0, rng);
    unet.levels = unet
        .levels
        .into_iter()
        .map(|mut level| {
            level.down_conv = sop_init_conv(level.down_conv, rng);
            level.down_bn = level.down_bn.map(|bn| sop_init_bn(bn, rng));
            level.up_conv = sop_init_conv(level.up_conv, rng);
            level.up_bn = level.up_bn.map(|bn| sop_init_bn(bn, rng));
            level
        })
        .collect();
    unet
}
