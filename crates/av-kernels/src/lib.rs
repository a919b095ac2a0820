//! Fast kernels for av-align's networks, shipped as a Burn backend extension.
//!
//! Burn's CPU backend (flex) lowers a convolution in tiles of 512 output pixels and computes its
//! gradients through a transposed convolution and a "convolution with the batch as channels";
//! on the ResNet-18 trunks of the paper that runs at 40-65 GFLOP/s on this project's 2-core
//! machine. This crate lowers each image once (`im2col`), multiplies with faer's packed GEMM and
//! writes the gradients as two more GEMMs (`col2im(W^T dY)` and `sum_n dY_n col(X_n)^T`).
//!
//! * [`conv`]: the kernels on plain `f32` slices (NCHW), no Burn involved: lowered to GEMMs, or,
//!   for the stems and narrow stride-1 layers, a direct convolution in AVX2 registers without a
//!   lowered matrix ([`conv::ConvMethod`] says which, by a measured rule); depthwise layers
//!   (`groups` = channels, the pretrained visual trunk's) have kernels of their own.
//! * [`ConvKernels`]: the backend extension. On flex (f32, one group, or the gradients of a
//!   depthwise layer; symmetric padding) it runs [`conv`]; everywhere else, and for every other case, it calls Burn's own
//!   `conv2d` and gradients, so a model that uses it runs unchanged on WGPU, CUDA and ndarray. Its autodiff
//!   implementation records one backward step that calls the two gradient kernels.
//! * [`norm`] / [`NormKernels`]: batch normalisation in two passes per direction (Burn's
//!   generic version makes about five full passes forward and ten backward), same routing.
//! * [`pool`] / [`PoolKernels`]: max pooling with each window's range computed once per plane
//!   (Burn's generic 3-D loop took a quarter of the compact audio trunk's forward pass).
//! * [`masked_mean`] / [`MaskedMeanKernels`]: the soft-masked mean of similarity rows (LVS's
//!   tri-map score, av-alignment's per-position loss) as one operation with a hand-written
//!   backward, where the tensor version made a dozen passes each way.
//! * [`keys`] / [`KeyKernels`]: per-image content keys (XXH3-128) hashed in the tensor's own
//!   buffer on flex, for caches of per-image results.
//! * [`upper_state`]: the `vzeroupper` after faer's assembly GEMM kernels, without which
//!   every later legacy-SSE instruction of the thread runs many times slower on Intel.
//! * [`conv2d`] / [`conv2d_module`] / [`batch_norm_module`] / [`max_pool2d_module`] /
//!   [`image_keys`] / [`soft_masked_mean`]: the `Tensor`-level entry points models call.
//!
//! ```
//! use burn::nn::conv::Conv2dConfig;
//! use burn::tensor::{Device, Distribution, Tensor};
//!
//! let device = Device::flex();
//! let conv = Conv2dConfig::new([3, 8], [3, 3]).init(&device);
//! let x = Tensor::<4>::random([2, 3, 16, 16], Distribution::Default, &device);
//! let fast = av_kernels::conv2d_module(&conv, x.clone());
//! let burn = conv.forward(x);
//! assert!(fast.sub(burn).abs().max().into_scalar::<f32>() < 1e-4);
//! ```

pub mod conv;
mod error;
mod extension;
mod key_extension;
pub mod keys;
pub mod masked_mean;
mod masked_mean_extension;
pub mod norm;
mod norm_extension;
pub mod pool;
mod pool_extension;
mod tensor_api;
pub mod upper_state;

pub use error::KernelError;
pub use extension::ConvKernels;
pub use key_extension::KeyKernels;
pub use masked_mean_extension::MaskedMeanKernels;
pub use norm_extension::NormKernels;
pub use pool_extension::PoolKernels;
pub use tensor_api::{
    batch_norm_module, conv2d, conv2d_module, image_keys, max_pool2d_module, soft_masked_mean,
};
