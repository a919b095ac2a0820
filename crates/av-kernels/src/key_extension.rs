//! The backend extension that computes [`crate::keys`] on a tensor's own buffer on flex.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::backend_extension;
use burn::backend::tensor::{FloatTensor, IntTensor};

/// Per-image content keys without reading the tensor back.
///
/// On flex (f32) [`KeyKernels::av_image_keys`] hashes the tensor's buffer in place; every other
/// backend has no fast path and returns an empty `[0, 2]` tensor, which tells the caller to read
/// the tensor back and use [`crate::keys::image_keys`] (the same keys). Models call
/// [`crate::image_keys`].
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait KeyKernels: burn::backend::Backend {
    /// The key of every image of `x` (`[N, ...]`) as `[N, 2]` 64-bit integers
    /// ([`crate::keys::key_to_halves`] of [`crate::keys::image_keys`] with `seed`), or `[0, 2]`
    /// where this backend has no fast path.
    fn av_image_keys(x: FloatTensor<Self>, seed: u64) -> IntTensor<Self> {
        let device = burn::backend::TensorMetadata::device(&x);
        let _ = seed;
        Self::int_zeros(burn::tensor::Shape::new([0, 2]), &device, burn::backend::IntDType::I64)
    }
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)]
impl KeyKernels for burn::backend::NdArray {}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl KeyKernels for burn::backend::Cube {}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::{FlexTensor, Layout};
    use burn::backend::{DType, Flex, TensorMetadata};
    use burn::tensor::{Bytes, Shape};

    use super::KeyKernels;
    use crate::keys::{image_keys, key_to_halves};

    impl KeyKernels for Flex {
        fn av_image_keys(x: FlexTensor, seed: u64) -> FlexTensor {
            let shape = x.shape();
            let images = shape.as_slice().first().copied().unwrap_or(0);
            let halves: Vec<i64> = if x.dtype() == DType::F32 && images > 0 {
                let x = x.to_contiguous();
                match image_keys(x.storage::<f32>(), images, seed) {
                    Ok(keys) => keys.into_iter().flat_map(key_to_halves).collect(),
                    Err(_) => Vec::new(),
                }
            } else {
                Vec::new()
            };
            let rows = halves.len() / 2;
            FlexTensor::new(Bytes::from_elems(halves), Layout::contiguous(Shape::new([rows, 2])), DType::I64)
        }
    }
}

impl<B: KeyKernels, C: CheckpointStrategy> KeyKernels for Autodiff<B, C> {
    fn av_image_keys(x: FloatTensor<Self>, seed: u64) -> IntTensor<Self> {
        B::av_image_keys(x.into_primitive(), seed)
    }
}
