//! The backend extension that routes convolutions to [`crate::conv`] on flex.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::backend_extension;
use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;

/// Convolutions with av-align's kernels where they apply, Burn's own everywhere else.
///
/// Every method has a default body made of Burn's `ModuleOps`, so a backend without a fast path
/// (WGPU, CUDA, ndarray) runs Burn's kernels; flex overrides them with [`crate::conv`] for f32
/// tensors, one group and symmetric padding. The autodiff implementation records one backward
/// step calling [`ConvKernels::av_conv2d_x_backward`] and
/// [`ConvKernels::av_conv2d_weight_backward`] of the inner backend.
///
/// Models call [`crate::conv2d`]; this trait is the lower layer (Burn's `Dispatch` routes a
/// `Tensor` to the backend it lives on).
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait ConvKernels: burn::backend::Backend {
    /// `conv2d(x, weight)` without bias. Shapes: `[N, C, H, W]`, `[O, C / groups, kh, kw]` ->
    /// `[N, O, Ho, Wo]`.
    fn av_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options)
    }

    /// Gradient of [`ConvKernels::av_conv2d`] with respect to `x` (shape of `x`).
    fn av_conv2d_x_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, grad, options)
    }

    /// Gradient of [`ConvKernels::av_conv2d`] with respect to `weight` (shape of `weight`).
    fn av_conv2d_weight_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, grad, options)
    }
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)]
impl ConvKernels for burn::backend::NdArray {}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl ConvKernels for burn::backend::Cube {}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::{FlexTensor, Layout};
    use burn::backend::ops::{ConvOptions, ModuleOps};
    use burn::backend::{DType, Flex, TensorMetadata};
    use burn::tensor::{Bytes, Shape};

    use super::ConvKernels;
    use crate::conv::{
        ConvGeometry, conv2d_forward, conv2d_input_grad, conv2d_weight_grad, depthwise_geometry,
        depthwise_input_grad, depthwise_weight_grad,
    };

    /// How a convolution runs on flex: the dense kernels, the depthwise ones, or Burn's own.
    enum Route {
        Dense(ConvGeometry),
        Depthwise(ConvGeometry),
        Burn,
    }

    fn route(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Route {
        if let Some(g) = geometry(x, weight, options) {
            return Route::Dense(g);
        }
        depthwise(x, weight, options).map_or(Route::Burn, Route::Depthwise)
    }

    /// A depthwise convolution (`groups` = input channels = output channels, f32, symmetric
    /// padding).
    fn depthwise(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Option<ConvGeometry> {
        let xs: [usize; 4] = x.shape().as_slice().try_into().ok()?;
        let ws: [usize; 4] = weight.shape().as_slice().try_into().ok()?;
        if x.dtype() != DType::F32
            || weight.dtype() != DType::F32
            || options.is_asymmetric()
            || options.groups != xs[1]
            || options.groups < 2
        {
            return None;
        }
        depthwise_geometry(xs, ws, options.stride, options.padding_begin(), options.dilation).ok()
    }

    /// The geometry when the fast path applies: f32, 4-D, one group, symmetric padding and
    /// shapes [`ConvGeometry`] accepts. `None` sends the call to Burn's kernel, which reports
    /// any shape error in its own words.
    fn geometry(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Option<ConvGeometry> {
        if x.dtype() != DType::F32
            || weight.dtype() != DType::F32
            || options.groups != 1
            || options.is_asymmetric()
        {
            return None;
        }
        let xs: [usize; 4] = x.shape().as_slice().try_into().ok()?;
        let ws: [usize; 4] = weight.shape().as_slice().try_into().ok()?;
        ConvGeometry::new(xs, ws, options.stride, options.padding_begin(), options.dilation).ok()
    }

    fn tensor(data: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
        FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(Shape::new(shape)), DType::F32)
    }

    /// The kernels only fail on mismatched buffer lengths, which [`geometry`] rules out.
    fn checked(result: Result<Vec<f32>, crate::KernelError>) -> Vec<f32> {
        match result {
            Ok(v) => v,
            Err(e) => panic!("av-kernels: geometry was checked before the call: {e}"),
        }
    }

    impl ConvKernels for Flex {
        fn av_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
            // Depthwise forward passes stay with Burn: `depthwise_forward` is 0.41-0.75x Burn's
            // time per layer alone, but the pretrained trunk as a whole ran 4-6 % slower with it
            // (docs/performance.md, "Depthwise convolution"); the gradients are routed.
            let Some(g) = geometry(&x, &weight, &options) else {
                return <Flex as ModuleOps<Flex>>::conv2d(x, weight, None, options);
            };
            let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
            let y = conv2d_forward(&g, x.storage::<f32>(), weight.storage::<f32>());
            tensor(checked(y), g.output_shape())
        }

        fn av_conv2d_x_backward(
            x: FlexTensor,
            weight: FlexTensor,
            grad: FlexTensor,
            options: ConvOptions<2>,
        ) -> FlexTensor {
            let (g, depthwise) = match route(&x, &weight, &options) {
                Route::Dense(g) => (g, false),
                Route::Depthwise(g) => (g, true),
                Route::Burn => {
                    return <Flex as ModuleOps<Flex>>::conv2d_x_backward(x, weight, grad, options);
                }
            };
            let (grad, weight) = (grad.to_contiguous(), weight.to_contiguous());
            let (grad, weight) = (grad.storage::<f32>(), weight.storage::<f32>());
            let dx = if depthwise {
                depthwise_input_grad(&g, grad, weight)
            } else {
                conv2d_input_grad(&g, grad, weight)
            };
            tensor(checked(dx), [g.batch, g.in_channels, g.input[0], g.input[1]])
        }

        fn av_conv2d_weight_backward(
            x: FlexTensor,
            weight: FlexTensor,
            grad: FlexTensor,
            options: ConvOptions<2>,
        ) -> FlexTensor {
            let (g, depthwise) = match route(&x, &weight, &options) {
                Route::Dense(g) => (g, false),
                Route::Depthwise(g) => (g, true),
                Route::Burn => {
                    return <Flex as ModuleOps<Flex>>::conv2d_weight_backward(x, weight, grad, options);
                }
            };
            let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
            let (x, grad) = (x.storage::<f32>(), grad.storage::<f32>());
            if depthwise {
                let dw = checked(depthwise_weight_grad(&g, x, grad));
                return tensor(dw, [g.in_channels, 1, g.kernel[0], g.kernel[1]]);
            }
            let dw = checked(conv2d_weight_grad(&g, x, grad));
            tensor(dw, [g.out_channels, g.in_channels, g.kernel[0], g.kernel[1]])
        }
    }
}

/// The backward step of [`ConvKernels::av_conv2d`]: checkpointed input and weight, the
/// options, and the inner backend's two gradient kernels.
#[derive(Debug)]
struct AvConv2dBackward;

impl<B: ConvKernels> Backward<B, 2> for AvConv2dBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        if let Some(node) = node_x {
            let dx = B::av_conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone());
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_weight {
            grads.register::<B>(node.id, B::av_conv2d_weight_backward(x, weight, grad, options));
        }
    }
}

impl<B: ConvKernels, C: CheckpointStrategy> ConvKernels for Autodiff<B, C> {
    fn av_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match AvConv2dBackward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let out = B::av_conv2d(x.into_primitive(), weight.into_primitive(), options.clone());
                prep.finish((x_state, weight_state, options), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::av_conv2d(x.into_primitive(), weight.into_primitive(), options))
            }
        }
    }
}
