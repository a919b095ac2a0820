//! A frozen, ImageNet-pretrained visual trunk (EfficientNet-Lite0) with a trainable neck: the
//! visual stream of [`crate::model::AvModelConfig::pretrained_visual`] (docs/pretrained.md).
//!
//! The trunk never trains: it runs on the inner (non-autodiff) device with its batch norms on
//! their running statistics, and its output enters the graph as a constant. The neck (1x1
//! convolution to the audio trunk's width, batch norm, ReLU) trains with the rest, so the
//! downstream heads, pooling and Eq. 8 see a map `[N, K, H/32, W/32]` like the ResNet's.
//! Because the trunk is frozen, its output for a given frame never changes, so it is kept in a
//! [`TrunkCache`] keyed by the frame's pixels: over the epochs of a fixed training set the trunk
//! runs once per frame and flip instead of once per step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use av_backbones::weights::load_pytorch_state_dict;
use av_backbones::{EFFICIENTNET_LITE_KEY_REMAPS, EfficientNetLite, EfficientNetLiteConfig};
use av_kernels::{batch_norm_module, conv2d_module};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{Error, Result};
use crate::preprocess::{IMAGENET_MEAN, IMAGENET_STD};

/// File name of the pretrained weights in the cache (`tools/assets/fetch_pretrained.sh`).
pub const EFFICIENTNET_LITE0_FILE: &str = "efficientnet-lite0-57934424.pth";

/// Configuration of the pretrained visual stream.
#[derive(Config, Debug, PartialEq)]
pub struct PretrainedVisualConfig {
    /// How many of EfficientNet-Lite0's 16 blocks the frozen trunk keeps (12: up to the first
    /// 192-channel block, output stride 32, 0.92 M parameters; chosen by a linear probe fitted
    /// on the training frames and scored on the validation frames, docs/pretrained.md).
    #[config(default = 12)]
    pub blocks: usize,
    /// Largest size of the trunk cache, in MB of cached maps (0: no cache).
    #[config(default = 2048)]
    pub cache_mb: usize,
    /// Width of a hidden layer in the neck: `Some(h)` puts a 1x1 convolution to `h` channels,
    /// batch norm and ReLU before the neck's last 1x1 convolution, so the trainable part of
    /// the visual stream is a two-layer MLP per position instead of one linear map. `None` (one
    /// layer; configurations written before it existed) by default.
    pub neck_hidden: Option<usize>,
}

impl PretrainedVisualConfig {
    /// The frozen trunk's configuration.
    pub fn trunk(&self) -> EfficientNetLiteConfig {
        EfficientNetLiteConfig::new().with_blocks(self.blocks)
    }

    /// Builds the stream with a randomly initialised trunk (load the ImageNet weights with
    /// [`PretrainedVisual::load_trunk`]) and a neck to `channels`.
    pub fn init(&self, channels: usize, device: &Device) -> PretrainedVisual {
        let trunk = self.trunk();
        let neck_hidden = self.neck_hidden.map(|h| NeckLayer {
            conv: Conv2dConfig::new([trunk.out_channels(), h], [1, 1]).with_bias(false).init(device),
            bn: BatchNormConfig::new(h).init(device),
        });
        let neck_in = self.neck_hidden.unwrap_or(trunk.out_channels());
        PretrainedVisual {
            trunk: trunk.init(device),
            neck_hidden,
            neck_conv: Conv2dConfig::new([neck_in, channels], [1, 1]).with_bias(false).init(device),
            neck_bn: BatchNormConfig::new(channels).init(device),
            cache: TrunkCache::new(self.cache_mb.saturating_mul(1 << 20) / 4),
        }
    }
}

/// One hidden layer of the neck: 1x1 convolution, batch norm (then ReLU).
#[derive(Module, Debug)]
pub struct NeckLayer {
    /// 1x1 convolution from the trunk's channels to the hidden width.
    pub conv: Conv2d,
    /// Batch norm after it.
    pub bn: BatchNorm,
}

/// Frozen EfficientNet-Lite trunk, trainable neck, trunk cache.
#[derive(Module, Debug)]
pub struct PretrainedVisual {
    /// The frozen ImageNet trunk.
    pub trunk: EfficientNetLite,
    /// The neck's hidden layer ([`PretrainedVisualConfig::neck_hidden`]), if any.
    pub neck_hidden: Option<NeckLayer>,
    /// 1x1 convolution from the trunk's channels (or the hidden layer's) to the model's `K`.
    pub neck_conv: Conv2d,
    /// Batch norm after it (then ReLU).
    pub neck_bn: BatchNorm,
    /// Trunk outputs of frames already seen (shared by clones of the module).
    #[module(skip)]
    pub cache: TrunkCache,
}

impl PretrainedVisual {
    /// Loads EfficientNet-Lite0's ImageNet weights into the trunk (the PyTorch file that
    /// `tools/assets/fetch_pretrained.sh` caches, or its safetensors conversion).
    ///
    /// # Errors
    /// [`Error::Backbone`] when the file is missing or does not hold the trunk's tensors.
    pub fn load_trunk(mut self, path: &Path) -> Result<Self> {
        self.trunk = load_pytorch_state_dict(self.trunk, path, &EFFICIENTNET_LITE_KEY_REMAPS, true)?;
        self.cache.clear();
        Ok(self)
    }

    /// The visual map F_v.
    ///
    /// # Shapes
    /// `[N, 3, H, W]` ImageNet-normalised RGB -> `[N, K, ceil(H / 32), ceil(W / 32)]` (with
    /// the default 12 blocks).
    pub fn forward(&self, frames: Tensor<4>) -> Tensor<4> {
        let device = frames.device();
        let trunk_out = self.trunk_output(frames.without_autodiff());
        let trunk_out = if device.is_autodiff() { trunk_out.autodiff() } else { trunk_out };
        let neck_in = match &self.neck_hidden {
            Some(layer) => relu(batch_norm_module(&layer.bn, conv2d_module(&layer.conv, trunk_out))),
            None => trunk_out,
        };
        relu(batch_norm_module(&self.neck_bn, conv2d_module(&self.neck_conv, neck_in)))
    }

    /// The frozen trunk on frames without autodiff, through the cache.
    fn trunk_output(&self, frames: Tensor<4>) -> Tensor<4> {
        let device = frames.device();
        let [n, c, h, w] = frames.dims();
        // Every frame through the trunk, without the cache (no cache, an empty batch, or a
        // tensor that does not read back as f32).
        let uncached = || self.trunk.valid().forward(to_lite_input(frames.clone()));
        let read = |t: Tensor<4>| t.into_data().convert::<f32>().try_into_vec::<f32>().ok();
        if self.cache.capacity == 0 || n == 0 {
            return uncached();
        }
        // The key covers the trunk's stem weights too, so a trunk whose weights were replaced
        // (a checkpoint loaded into a module that has run) never reads an older entry.
        let Some(stem) = read(self.trunk.conv_stem.weight.val()) else {
            return uncached();
        };
        let seed = xxh3_64(bytemuck::cast_slice(&stem))
            ^ xxh3_64(bytemuck::cast_slice(&[c, h, w].map(|d| d as u64)));
        // On flex the frames are hashed in their own buffer (no read-back); elsewhere they are
        // read back first. Same keys either way (`av_kernels::image_keys`).
        let Some(keys) = av_kernels::image_keys(frames.clone(), seed) else {
            return uncached();
        };
        let mut found: Vec<Option<Arc<CachedMap>>> = keys.iter().map(|k| self.cache.get(*k)).collect();
        let missing: Vec<usize> = (0..n).filter(|&i| found[i].is_none()).collect();
        if !missing.is_empty() {
            let idx = Tensor::<1, burn::tensor::Int>::from_data(
                TensorData::new(missing.iter().map(|&i| i as i64).collect::<Vec<_>>(), [missing.len()]),
                &device,
            );
            let out = self.trunk.valid().forward(to_lite_input(frames.clone().select(0, idx)));
            let [_, k, ho, wo] = out.dims();
            let Some(out) = read(out) else {
                return uncached();
            };
            for (j, &i) in missing.iter().enumerate() {
                let map = Arc::new(CachedMap {
                    dims: [k, ho, wo],
                    values: out[j * k * ho * wo..(j + 1) * k * ho * wo].to_vec(),
                });
                self.cache.insert(keys[i], map.clone());
                found[i] = Some(map);
            }
        }
        let maps: Vec<Arc<CachedMap>> = found.into_iter().flatten().collect();
        let [k, ho, wo] = maps[0].dims;
        let mut all = Vec::with_capacity(n * k * ho * wo);
        for m in &maps {
            all.extend_from_slice(&m.values);
        }
        Tensor::from_data(TensorData::new(all, [n, k, ho, wo]), &device)
    }
}

/// ImageNet-normalised RGB -> EfficientNet-Lite's input, `(255 x - 127) / 128` of the 0-1 pixel.
fn to_lite_input(frames: Tensor<4>) -> Tensor<4> {
    let device = frames.device();
    let scale: Vec<f32> = IMAGENET_STD.iter().map(|s| s * 255.0 / 128.0).collect();
    let shift: Vec<f32> = IMAGENET_MEAN.iter().map(|m| (m * 255.0 - 127.0) / 128.0).collect();
    let scale = Tensor::<1>::from_floats(scale.as_slice(), &device).reshape([1, 3, 1, 1]);
    let shift = Tensor::<1>::from_floats(shift.as_slice(), &device).reshape([1, 3, 1, 1]);
    frames * scale + shift
}

// The key of a frame is XXH3-128 of its pixels' bytes (`av_kernels::image_keys`), seeded with
// the trunk's stem weights and the frame's shape. XXH3 reads tens of GB/s where the std
// SipHasher fed one float at a time read about 1 (the key took about 15 % of the shipped
// preset's training step); 128 bits make two different frames sharing a key, which would hand
// one frame the other's trunk output, negligible for any number of frames a cache holds.

/// A frame's key in the [`TrunkCache`].
type FrameKey = u128;

/// One cached trunk output `[K, h, w]`.
#[derive(Debug)]
struct CachedMap {
    dims: [usize; 3],
    values: Vec<f32>,
}

/// Floats held, and the maps by frame key.
type CacheStore = (usize, HashMap<FrameKey, Arc<CachedMap>>);

/// Trunk outputs by frame key, up to a number of floats; clones share the same store. Once
/// full, new frames are computed but not kept.
#[derive(Debug, Clone)]
pub struct TrunkCache {
    capacity: usize,
    inner: Arc<Mutex<CacheStore>>,
}

impl TrunkCache {
    /// A cache for at most `capacity` floats (0: none).
    pub fn new(capacity: usize) -> Self {
        Self { capacity, inner: Arc::new(Mutex::new((0, HashMap::new()))) }
    }

    /// Number of frames held.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |g| g.1.len())
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, key: FrameKey) -> Option<Arc<CachedMap>> {
        self.inner.lock().ok()?.1.get(&key).cloned()
    }

    fn insert(&self, key: FrameKey, map: Arc<CachedMap>) {
        if let Ok(mut g) = self.inner.lock() {
            let size = map.values.len();
            if g.0 + size <= self.capacity && g.1.insert(key, map).is_none() {
                g.0 += size;
            }
        }
    }

    fn clear(&self) {
        if let Ok(mut g) = self.inner.lock() {
            g.0 = 0;
            g.1.clear();
        }
    }
}

/// The cache directory's copy of EfficientNet-Lite0's weights
/// (`$AV_ALIGN_CACHE/pretrained/`, default `~/.cache/av-align/pretrained/`).
///
/// # Errors
/// [`Error::Config`] naming the fetch script when the file is not there.
pub fn pretrained_weights_path() -> Result<PathBuf> {
    let cache = std::env::var_os("AV_ALIGN_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/av-align")))
        .ok_or_else(|| Error::Config("neither AV_ALIGN_CACHE nor HOME is set".into()))?;
    pretrained_weights_in(&cache)
}

/// [`pretrained_weights_path`] under a given cache directory.
///
/// # Errors
/// [`Error::Config`] naming the fetch script when `cache/pretrained/` lacks the file.
pub fn pretrained_weights_in(cache: &Path) -> Result<PathBuf> {
    let path = cache.join("pretrained").join(EFFICIENTNET_LITE0_FILE);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Config(format!(
            "the pretrained visual trunk needs {}: run `bash tools/assets/fetch_pretrained.sh` once",
            path.display()
        )))
    }
}
