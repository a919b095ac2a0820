//! # av-gradcam — class activation maps on Burn
//!
//! The coarse-to-fine model disentangles per-class features with class activation maps (the
//! paper's §3.2, Eq. 4). This crate computes them on any Burn device:
//!
//! * [`cam`]: CAM from a bias-free linear classifier on pooled features, what MSSL's recommended
//!   `new/` code does (`relu(class_v(F_v))`); for such a head it is Grad-CAM up to `1/(H W)`.
//! * [`grad_cam`]: true Grad-CAM (gradient of the pre-activation class score with respect to an
//!   intermediate feature map, through Burn's autodiff) and Grad-CAM++, for any head given as a
//!   closure; [`class_gradient`] exposes the gradient itself.
//! * [`CamPostprocess`]: ReLU, the original code's 0.1 threshold and binarisation, max or
//!   min-max normalisation, bilinear upsampling to the input size; presets for each reference.
//!
//! Checked against `pytorch_grad_cam` 1.5 and finite differences (see `tests/`).
//!
//! ```
//! use av_gradcam::{CamPostprocess, GradCamConfig, grad_cam};
//! use burn::tensor::{Device, Distribution, Tensor};
//!
//! let device = Device::flex();
//! let features = Tensor::<4>::random([2, 8, 4, 4], Distribution::Default, &device);
//! let w = Tensor::<2>::random([8, 3], Distribution::Default, &device);
//! // A non-linear head: squared channels, average pooled, linear classifier.
//! let head = |a: Tensor<4>| {
//!     let [n, k, _, _] = a.dims();
//!     a.powi_scalar(2).reshape([n, k, 16]).mean_dim(2).reshape([n, k]).matmul(w.clone())
//! };
//! let out = grad_cam(features, head, &[0, 2], &GradCamConfig::default())?;
//! let maps = CamPostprocess::paper().with_output_size(Some([32, 32])).apply(out.maps);
//! assert_eq!(maps.dims(), [2, 2, 32, 32]);
//! # Ok::<(), av_gradcam::CamError>(())
//! ```

mod cam;
mod error;
mod grad;
mod postprocess;

pub use cam::{cam, weighted_sum};
pub use error::{CamError, Result};
pub use grad::{
    ClassGradient, GradCamConfig, GradCamMethod, GradCamOutput, GradientPooling, channel_weights,
    class_gradient, grad_cam,
};
pub use postprocess::{CamNormalization, CamPostprocess, normalize, upsample_bilinear};
