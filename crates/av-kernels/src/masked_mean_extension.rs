//! The backend extension that routes the soft-masked mean to [`crate::masked_mean`] on flex.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::backend_extension;
use burn::backend::tensor::FloatTensor;

/// The soft-masked mean over the last axis (LVS's tri-map score), in one operation with a
/// hand-written backward.
///
/// `out[a, b] = Σ_p w_p s_p / Σ_p w_p` over `sim [A, B, P]`, with the detached mask
/// `w_p = σ(±(s_p - eps) / soft)` rescaled by its row maximum ([`crate::masked_mean`] gives the
/// two regimes). The default bodies are the same computation in Burn's tensor primitives, so
/// WGPU, CUDA and ndarray run it as before; flex overrides them for `f32` tensors with
/// [`crate::masked_mean`]. The autodiff implementation keeps the normalised weights
/// `w_p / Σ_q w_q` of the forward pass and records one backward step that calls
/// [`MaskedMeanKernels::av_soft_masked_mean_backward`]. Models call
/// [`crate::soft_masked_mean`].
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait MaskedMeanKernels: burn::backend::Backend {
    /// The soft-masked mean: `sim [A, B, P]` -> `[A, B]`. `eps` and `soft` in similarity
    /// units; `complement` uses the mask `1 - σ((s - eps) / soft)`.
    fn av_soft_masked_mean(
        sim: FloatTensor<Self>,
        eps: f32,
        soft: f32,
        complement: bool,
    ) -> FloatTensor<Self> {
        generic::forward::<Self>(sim, eps, soft, complement)
    }

    /// [`MaskedMeanKernels::av_soft_masked_mean`] and the normalised weights
    /// `w_p / Σ_q w_q` (`[A, B, P]`) that its backward needs.
    fn av_soft_masked_mean_with_weights(
        sim: FloatTensor<Self>,
        eps: f32,
        soft: f32,
        complement: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        generic::with_weights::<Self>(sim, eps, soft, complement)
    }

    /// The gradient with respect to `sim` (`[A, B, P]`): `grad[a, b] * weights[a, b, p]`, given
    /// the normalised weights of [`MaskedMeanKernels::av_soft_masked_mean_with_weights`] and
    /// the output gradient `grad [A, B]`.
    fn av_soft_masked_mean_backward(
        weights: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        generic::backward::<Self>(weights, grad)
    }
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)]
impl MaskedMeanKernels for burn::backend::NdArray {}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl MaskedMeanKernels for burn::backend::Cube {}

/// The default bodies: the soft-masked mean in Burn's tensor primitives, over the last axis.
mod generic {
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Backend, TensorMetadata};
    use burn::tensor::Shape;

    use crate::masked_mean::SIGMOID_SAFE;

    /// The last axis (the positions) and the shape without it.
    fn reduced<B: Backend>(sim: &FloatTensor<B>) -> (usize, Shape) {
        let dims = sim.shape();
        let axis = dims.num_dims().saturating_sub(1);
        (axis, dims.as_slice()[..axis].iter().copied().collect())
    }

    /// The detached mask rescaled by its maximum over the last axis (shape of `sim`).
    fn weights<B: Backend>(sim: FloatTensor<B>, eps: f32, soft: f32, complement: bool) -> FloatTensor<B> {
        let (axis, _) = reduced::<B>(&sim);
        let z = B::float_div_scalar(B::float_sub_scalar(B::float_detach(sim), eps.into()), soft.into());
        let z = if complement { B::float_neg(z) } else { z };
        if (1.0 + eps.abs()) / soft <= SIGMOID_SAFE {
            let s = B::sigmoid(B::float_clamp(z, (-SIGMOID_SAFE).into(), SIGMOID_SAFE.into()));
            let top = B::float_max_dim(s.clone(), axis);
            B::float_div(s, top)
        } else {
            let log_w = B::log_sigmoid(z);
            let top = B::float_max_dim(log_w.clone(), axis);
            B::float_exp(B::float_sub(log_w, top))
        }
    }

    /// `Σ_p w_p s_p / Σ_p w_p`, its reduced axis dropped.
    pub(super) fn forward<B: Backend>(
        sim: FloatTensor<B>,
        eps: f32,
        soft: f32,
        complement: bool,
    ) -> FloatTensor<B> {
        let (axis, out_shape) = reduced::<B>(&sim);
        let w = weights::<B>(sim.clone(), eps, soft, complement);
        let weighted = B::float_sum_dim(B::float_mul(sim, w.clone()), axis);
        B::float_reshape(B::float_div(weighted, B::float_sum_dim(w, axis)), out_shape)
    }

    /// [`forward`] and the normalised weights `w_p / Σ_q w_q`.
    pub(super) fn with_weights<B: Backend>(
        sim: FloatTensor<B>,
        eps: f32,
        soft: f32,
        complement: bool,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let (axis, out_shape) = reduced::<B>(&sim);
        let w = weights::<B>(sim.clone(), eps, soft, complement);
        let total = B::float_sum_dim(w.clone(), axis);
        let weighted = B::float_sum_dim(B::float_mul(sim, w.clone()), axis);
        let out = B::float_reshape(B::float_div(weighted, total.clone()), out_shape);
        (out, B::float_div(w, total))
    }

    /// `grad` (the weights' shape without the last axis) times the weights, broadcast.
    pub(super) fn backward<B: Backend>(weights: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
        let (axis, mut keep) = reduced::<B>(&weights);
        keep.insert(axis, 1);
        B::float_mul(B::float_reshape(grad, keep), weights)
    }
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::{FlexTensor, Layout};
    use burn::backend::{DType, Flex, TensorMetadata};
    use burn::tensor::{Bytes, Shape};

    use super::{MaskedMeanKernels, generic};
    use crate::masked_mean::{
        RowShape, SoftMask, soft_masked_mean, soft_masked_mean_backward, soft_masked_mean_with_weights,
    };

    /// The rows and mask when the fast path applies: an f32 `[A, B, P]` input with `P > 0` and
    /// a valid mask (Burn's primitives compute everything else).
    fn fast(sim: &FlexTensor, eps: f32, soft: f32, complement: bool) -> Option<(RowShape, SoftMask, Shape)> {
        if sim.dtype() != DType::F32 {
            return None;
        }
        let [a, b, p]: [usize; 3] = sim.shape().as_slice().try_into().ok()?;
        let rows = RowShape::from_dims(&[a, b, p]).ok()?;
        Some((rows, SoftMask::new(eps, soft, complement).ok()?, Shape::new([a, b])))
    }

    fn tensor(data: Vec<f32>, shape: Shape) -> FlexTensor {
        FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(shape), DType::F32)
    }

    /// The kernels only fail on buffers that do not fit the shape, which [`fast`] rules out.
    fn checked<T>(result: Result<T, crate::KernelError>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => panic!("av-kernels: the shapes were checked before the call: {e}"),
        }
    }

    impl MaskedMeanKernels for Flex {
        fn av_soft_masked_mean(sim: FlexTensor, eps: f32, soft: f32, complement: bool) -> FlexTensor {
            let Some((rows, mask, out_shape)) = fast(&sim, eps, soft, complement) else {
                return generic::forward::<Flex>(sim, eps, soft, complement);
            };
            let sim = sim.to_contiguous();
            tensor(checked(soft_masked_mean(&rows, &mask, sim.storage::<f32>())), out_shape)
        }

        fn av_soft_masked_mean_with_weights(
            sim: FlexTensor,
            eps: f32,
            soft: f32,
            complement: bool,
        ) -> (FlexTensor, FlexTensor) {
            let Some((rows, mask, out_shape)) = fast(&sim, eps, soft, complement) else {
                return generic::with_weights::<Flex>(sim, eps, soft, complement);
            };
            let dims = sim.shape();
            let sim = sim.to_contiguous();
            let (out, weights) = checked(soft_masked_mean_with_weights(&rows, &mask, sim.storage::<f32>()));
            (tensor(out, out_shape), tensor(weights, dims))
        }

        fn av_soft_masked_mean_backward(weights: FlexTensor, grad: FlexTensor) -> FlexTensor {
            let dims = weights.shape();
            let rows = RowShape::from_dims(dims.as_slice()).ok().filter(|_| {
                weights.dtype() == DType::F32
                    && grad.dtype() == DType::F32
                    && grad.shape().as_slice() == &dims.as_slice()[..dims.num_dims() - 1]
            });
            let Some(rows) = rows else {
                return generic::backward::<Flex>(weights, grad);
            };
            let (weights, grad) = (weights.to_contiguous(), grad.to_contiguous());
            tensor(
                checked(soft_masked_mean_backward(&rows, weights.storage::<f32>(), grad.storage::<f32>())),
                dims,
            )
        }
    }
}

/// The backward step of [`MaskedMeanKernels::av_soft_masked_mean`]: the normalised weights of
/// the forward pass (the mask is a constant, so they are all the backward needs).
#[derive(Debug)]
struct AvSoftMaskedMeanBackward;

impl<B: MaskedMeanKernels> Backward<B, 1> for AvSoftMaskedMeanBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_sim] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(node) = node_sim {
            grads.register::<B>(node.id, B::av_soft_masked_mean_backward(ops.state, grad));
        }
    }
}

impl<B: MaskedMeanKernels, C: CheckpointStrategy> MaskedMeanKernels for Autodiff<B, C> {
    fn av_soft_masked_mean(
        sim: FloatTensor<Self>,
        eps: f32,
        soft: f32,
        complement: bool,
    ) -> FloatTensor<Self> {
        match AvSoftMaskedMeanBackward.prepare::<C>([sim.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (out, weights) =
                    B::av_soft_masked_mean_with_weights(sim.into_primitive(), eps, soft, complement);
                prep.finish(weights, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::av_soft_masked_mean(sim.into_primitive(), eps, soft, complement))
            }
        }
    }
}
