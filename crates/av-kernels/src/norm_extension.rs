//! The backend extension that routes batch normalisation to [`crate::norm`] on flex.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::backend_extension;
use burn::backend::tensor::FloatTensor;

/// Batch normalisation with av-align's two-pass kernels where they apply, Burn's elsewhere.
///
/// The default bodies are Burn's `ModuleOps::batch_norm_train`, its backward and
/// `ModuleOps::batch_norm`, so WGPU, CUDA and ndarray run Burn's kernels; flex overrides them
/// for contiguous-or-not `f32` tensors with [`crate::norm`]. The autodiff implementation
/// records one backward step that calls [`NormKernels::av_batch_norm_train_backward`].
/// Models call [`crate::batch_norm_module`].
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait NormKernels: burn::backend::Backend {
    /// Training-mode batch norm: `(output, batch mean, biased batch variance)`.
    /// Shapes: `x` `[N, C, ...]`, `gamma`, `beta` `[C]` -> (`[N, C, ...]`, `[C]`, `[C]`).
    fn av_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let r = Self::batch_norm_train(x, gamma, beta, epsilon);
        (r.output, r.mean, r.variance)
    }

    /// Gradients `(dx, dgamma, dbeta)` of [`NormKernels::av_batch_norm_train`], given the
    /// statistics it returned and the output gradient.
    fn av_batch_norm_train_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let r = Self::batch_norm_train_backward(x, gamma, mean, variance, epsilon, grad);
        (r.x_grad, r.gamma_grad, r.beta_grad)
    }

    /// Inference-mode batch norm with given (running) statistics. Shapes as
    /// [`NormKernels::av_batch_norm_train`], `mean` and `variance` `[C]`.
    fn av_batch_norm_eval(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        Self::batch_norm(x, gamma, beta, mean, variance, epsilon)
    }
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)]
impl NormKernels for burn::backend::NdArray {}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl NormKernels for burn::backend::Cube {}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::{FlexTensor, Layout};
    use burn::backend::ops::ModuleOps;
    use burn::backend::{DType, Flex, TensorMetadata};
    use burn::tensor::{Bytes, Shape};

    use super::NormKernels;
    use crate::norm::{NormShape, batch_norm_eval, batch_norm_train, batch_norm_train_backward};

    /// The shape when the fast path applies: every tensor f32, `x` at least 2-D and non-empty.
    fn norm_shape(x: &FlexTensor, others: &[&FlexTensor]) -> Option<NormShape> {
        if x.dtype() != DType::F32 || others.iter().any(|t| t.dtype() != DType::F32) {
            return None;
        }
        let shape = NormShape::from_dims(x.shape().as_slice()).ok()?;
        others.iter().all(|t| t.shape().as_slice() == [shape.channels]).then_some(shape)
    }

    fn tensor(data: Vec<f32>, shape: Shape) -> FlexTensor {
        FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(shape), DType::F32)
    }

    fn vector(data: Vec<f32>) -> FlexTensor {
        let n = data.len();
        tensor(data, Shape::new([n]))
    }

    /// The kernels only fail on mismatched buffer lengths, which [`norm_shape`] rules out.
    fn checked<T>(result: Result<T, crate::KernelError>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => panic!("av-kernels: the shapes were checked before the call: {e}"),
        }
    }

    impl NormKernels for Flex {
        fn av_batch_norm_train(
            x: FlexTensor,
            gamma: FlexTensor,
            beta: FlexTensor,
            epsilon: f64,
        ) -> (FlexTensor, FlexTensor, FlexTensor) {
            let Some(shape) = norm_shape(&x, &[&gamma, &beta]) else {
                let r = <Flex as ModuleOps<Flex>>::batch_norm_train(x, gamma, beta, epsilon);
                return (r.output, r.mean, r.variance);
            };
            let dims = x.shape();
            let (x, gamma, beta) = (x.to_contiguous(), gamma.to_contiguous(), beta.to_contiguous());
            let r = checked(batch_norm_train(
                &shape,
                x.storage::<f32>(),
                gamma.storage::<f32>(),
                beta.storage::<f32>(),
                epsilon,
            ));
            (tensor(r.output, dims), vector(r.mean), vector(r.variance))
        }

        fn av_batch_norm_train_backward(
            x: FlexTensor,
            gamma: FlexTensor,
            mean: FlexTensor,
            variance: FlexTensor,
            epsilon: f64,
            grad: FlexTensor,
        ) -> (FlexTensor, FlexTensor, FlexTensor) {
            let Some(shape) = norm_shape(&x, &[&gamma, &mean, &variance])
                .filter(|_| grad.dtype() == DType::F32 && grad.shape() == x.shape())
            else {
                let r = <Flex as ModuleOps<Flex>>::batch_norm_train_backward(
                    x, gamma, mean, variance, epsilon, grad,
                );
                return (r.x_grad, r.gamma_grad, r.beta_grad);
            };
            let dims = x.shape();
            let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
            let (gamma, mean, variance) =
                (gamma.to_contiguous(), mean.to_contiguous(), variance.to_contiguous());
            let g = checked(batch_norm_train_backward(
                &shape,
                x.storage::<f32>(),
                gamma.storage::<f32>(),
                mean.storage::<f32>(),
                variance.storage::<f32>(),
                epsilon,
                grad.storage::<f32>(),
            ));
            (tensor(g.x, dims), vector(g.gamma), vector(g.beta))
        }

        fn av_batch_norm_eval(
            x: FlexTensor,
            gamma: FlexTensor,
            beta: FlexTensor,
            mean: FlexTensor,
            variance: FlexTensor,
            epsilon: f64,
        ) -> FlexTensor {
            let Some(shape) = norm_shape(&x, &[&gamma, &beta, &mean, &variance]) else {
                return <Flex as ModuleOps<Flex>>::batch_norm(x, gamma, beta, mean, variance, epsilon);
            };
            let dims = x.shape();
            let x = x.to_contiguous();
            let [gamma, beta, mean, variance] = [gamma, beta, mean, variance].map(|t| t.to_contiguous());
            let y = checked(batch_norm_eval(
                &shape,
                x.storage::<f32>(),
                gamma.storage::<f32>(),
                beta.storage::<f32>(),
                mean.storage::<f32>(),
                variance.storage::<f32>(),
                epsilon,
            ));
            tensor(y, dims)
        }
    }
}

/// The backward step of [`NormKernels::av_batch_norm_train`]: checkpointed input and gamma,
/// the batch statistics as the forward computed them, and epsilon.
#[derive(Debug)]
struct AvBatchNormBackward;

impl<B: NormKernels> Backward<B, 3> for AvBatchNormBackward {
    type State = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, gamma_state, mean, variance, epsilon) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(gamma_state);
        let (dx, dgamma, dbeta) = B::av_batch_norm_train_backward(x, gamma, mean, variance, epsilon, grad);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_gamma {
            grads.register::<B>(node.id, dgamma);
        }
        if let Some(node) = node_beta {
            grads.register::<B>(node.id, dbeta);
        }
    }
}

impl<B: NormKernels, C: CheckpointStrategy> NormKernels for Autodiff<B, C> {
    fn av_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        use burn::backend::AutodiffBackend;
        // The statistics are outputs without a gradient (Burn's `batch_norm_train` detaches them too).
        let stat = |t: FloatTensor<B>| <Self as AutodiffBackend>::from_inner(t);
        match AvBatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let (out, mean, variance) = B::av_batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let out = prep.finish((x_state, gamma_state, mean.clone(), variance.clone(), epsilon), out);
                (out, stat(mean), stat(variance))
            }
            OpsKind::UnTracked(prep) => {
                let (out, mean, variance) = B::av_batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                (prep.finish(out), stat(mean), stat(variance))
            }
        }
    }
}
