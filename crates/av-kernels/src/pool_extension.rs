//! The backend extension that routes max pooling to [`crate::pool`] on flex.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::backend_extension;
use burn::backend::tensor::{FloatTensor, IntTensor};

/// Max pooling (dilation 1, output size rounded down) with av-align's kernels where they apply,
/// Burn's elsewhere.
///
/// The default bodies are Burn's `ModuleOps::max_pool2d`, `max_pool2d_with_indices` and its
/// backward, so WGPU, CUDA and ndarray run Burn's kernels; flex overrides them for `f32`
/// tensors with [`crate::pool`], whose indices follow Burn's convention (the position within
/// the `H x W` plane, `i64`), so the two can meet in one forward and backward pass. The
/// autodiff implementation records one backward step that calls
/// [`PoolKernels::av_max_pool2d_backward`]. Models call [`crate::max_pool2d_module`].
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait PoolKernels: burn::backend::Backend {
    /// Max pooling: `[N, C, H, W]` -> `[N, C, Ho, Wo]`, `Ho = (H + 2 ph - kh) / sh + 1`.
    fn av_max_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        Self::max_pool2d(x, kernel, stride, padding, [1, 1], false)
    }

    /// [`PoolKernels::av_max_pool2d`] and the plane index of every output's maximum
    /// (`[N, C, Ho, Wo]`, the device's integer type).
    fn av_max_pool2d_with_indices(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> (FloatTensor<Self>, IntTensor<Self>) {
        let device = burn::backend::TensorMetadata::device(&x);
        let int_dtype = burn::backend::get_or_init_device_settings::<Self>(&device).int_dtype;
        let r = Self::max_pool2d_with_indices(x, kernel, stride, padding, [1, 1], false, int_dtype);
        (r.output, r.indices)
    }

    /// The input gradient (shape of `x`) of [`PoolKernels::av_max_pool2d_with_indices`], given
    /// the output gradient and the indices it returned.
    fn av_max_pool2d_backward(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        grad: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::max_pool2d_with_indices_backward(x, kernel, stride, padding, [1, 1], false, grad, indices)
            .x_grad
    }
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)]
impl PoolKernels for burn::backend::NdArray {}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl PoolKernels for burn::backend::Cube {}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::{FlexTensor, Layout};
    use burn::backend::ops::ModuleOps;
    use burn::backend::{DType, Flex, TensorMetadata};
    use burn::tensor::{Bytes, Shape};

    use super::PoolKernels;
    use crate::pool::{PoolShape, max_pool2d, max_pool2d_backward, max_pool2d_with_indices};

    /// The geometry when the fast path applies: an f32 `[N, C, H, W]` input that
    /// [`PoolShape::new`] accepts (Burn gives the answer, or its error, otherwise).
    fn shape(
        x: &FlexTensor,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Option<PoolShape> {
        if x.dtype() != DType::F32 {
            return None;
        }
        let dims: [usize; 4] = x.shape().as_slice().try_into().ok()?;
        PoolShape::new(dims, kernel, stride, padding).ok()
    }

    fn output_shape(s: &PoolShape) -> Shape {
        let [ho, wo] = s.output();
        Shape::new([s.batch, s.channels, ho, wo])
    }

    /// The kernels only fail on buffers that do not fit the shape, which [`shape`] rules out.
    fn checked<T>(result: Result<T, crate::KernelError>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => panic!("av-kernels: the shapes were checked before the call: {e}"),
        }
    }

    impl PoolKernels for Flex {
        fn av_max_pool2d(
            x: FlexTensor,
            kernel: [usize; 2],
            stride: [usize; 2],
            padding: [usize; 2],
        ) -> FlexTensor {
            let Some(s) = shape(&x, kernel, stride, padding) else {
                return <Flex as ModuleOps<Flex>>::max_pool2d(x, kernel, stride, padding, [1, 1], false);
            };
            let x = x.to_contiguous();
            let out = checked(max_pool2d(&s, x.storage::<f32>()));
            FlexTensor::new(Bytes::from_elems(out), Layout::contiguous(output_shape(&s)), DType::F32)
        }

        fn av_max_pool2d_with_indices(
            x: FlexTensor,
            kernel: [usize; 2],
            stride: [usize; 2],
            padding: [usize; 2],
        ) -> (FlexTensor, FlexTensor) {
            let Some(s) = shape(&x, kernel, stride, padding) else {
                let r = <Flex as ModuleOps<Flex>>::max_pool2d_with_indices(
                    x,
                    kernel,
                    stride,
                    padding,
                    [1, 1],
                    false,
                    burn::backend::IntDType::I64,
                );
                return (r.output, r.indices);
            };
            let x = x.to_contiguous();
            let (out, indices) = checked(max_pool2d_with_indices(&s, x.storage::<f32>()));
            (
                FlexTensor::new(Bytes::from_elems(out), Layout::contiguous(output_shape(&s)), DType::F32),
                FlexTensor::new(Bytes::from_elems(indices), Layout::contiguous(output_shape(&s)), DType::I64),
            )
        }

        fn av_max_pool2d_backward(
            x: FlexTensor,
            kernel: [usize; 2],
            stride: [usize; 2],
            padding: [usize; 2],
            grad: FlexTensor,
            indices: FlexTensor,
        ) -> FlexTensor {
            let fast = shape(&x, kernel, stride, padding).filter(|s| {
                let out = output_shape(s);
                grad.dtype() == DType::F32
                    && indices.dtype() == DType::I64
                    && grad.shape() == out
                    && indices.shape() == out
            });
            let burn = |x, grad, indices| {
                <Flex as ModuleOps<Flex>>::max_pool2d_with_indices_backward(
                    x,
                    kernel,
                    stride,
                    padding,
                    [1, 1],
                    false,
                    grad,
                    indices,
                )
                .x_grad
            };
            let Some(s) = fast else {
                return burn(x, grad, indices);
            };
            let (grad_c, indices_c) = (grad.to_contiguous(), indices.to_contiguous());
            match max_pool2d_backward(&s, grad_c.storage::<f32>(), indices_c.storage::<i64>()) {
                Ok(dx) => FlexTensor::new(Bytes::from_elems(dx), Layout::contiguous(x.shape()), DType::F32),
                // Indices outside their plane did not come from a pooling of `x`: Burn's
                // kernel reports them in its own way.
                Err(_) => burn(x, grad_c, indices_c),
            }
        }
    }
}

/// The backward step of [`PoolKernels::av_max_pool2d_with_indices`]: the checkpointed input,
/// the indices and the geometry.
#[derive(Debug)]
struct AvMaxPoolBackward;

impl<B: PoolKernels> Backward<B, 1> for AvMaxPoolBackward {
    type State = (NodeId, IntTensor<B>, [usize; 2], [usize; 2], [usize; 2]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, indices, kernel, stride, padding) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        if let Some(node) = node_x {
            grads
                .register::<B>(node.id, B::av_max_pool2d_backward(x, kernel, stride, padding, grad, indices));
        }
    }
}

impl<B: PoolKernels, C: CheckpointStrategy> PoolKernels for Autodiff<B, C> {
    fn av_max_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        match AvMaxPoolBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let (out, indices) =
                    B::av_max_pool2d_with_indices(x.into_primitive(), kernel, stride, padding);
                prep.finish((x_state, indices, kernel, stride, padding), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::av_max_pool2d(x.into_primitive(), kernel, stride, padding))
            }
        }
    }
}
