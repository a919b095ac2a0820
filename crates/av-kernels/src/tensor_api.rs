//! `Tensor`-level entry points.

use burn::backend::Dispatch;
use burn::backend::ops::ConvOptions;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::Tensor;

use crate::{ConvKernels, KeyKernels, MaskedMeanKernels, NormKernels, PoolKernels};

/// `conv2d(x, weight) + bias`, PyTorch semantics, through [`ConvKernels`] (av-align's kernels
/// on flex, Burn's elsewhere). Differentiable on autodiff devices.
///
/// # Shapes
/// `x`: `[N, C, H, W]`, `weight`: `[O, C / groups, kh, kw]`, `bias`: `[O]`; returns
/// `[N, O, Ho, Wo]`.
///
/// # Panics
/// As Burn's `conv2d` on shapes that do not fit together.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let out = Tensor::<4>::from_dispatch(<Dispatch as ConvKernels>::av_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ));
    match bias {
        Some(b) => {
            let o = b.dims()[0];
            out + b.reshape([1, o as i64, 1, 1])
        }
        None => out,
    }
}

/// [`conv2d`] with the weight, bias, stride, padding, dilation and groups of a Burn
/// [`Conv2d`] module: a drop-in for `conv.forward(x)` that keeps the module's parameters
/// (and therefore its checkpoints and weight import) unchanged.
///
/// # Shapes
/// As [`Conv2d::forward`].
pub fn conv2d_module(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        // `Same` depends on the input size by rules private to burn-nn: Burn computes it.
        PaddingConfig2d::Same => return conv.forward(x),
    };
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    conv2d(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), options)
}

/// `bn.forward(x)` through [`NormKernels`]: the same parameters, running statistics and
/// train/inference rule as Burn's [`BatchNorm`] (batch statistics and a running-statistics
/// update on autodiff devices while the layer's training flag is set, the running statistics
/// otherwise), computed by av-align's two-pass kernels on flex.
///
/// # Shapes
/// `x`: `[N, C, ...]` with `C` the layer's number of features; returns the shape of `x`.
///
/// # Panics
/// As [`BatchNorm::forward`] when `C` does not match the layer.
pub fn batch_norm_module<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let [features] = bn.gamma.shape().dims();
    if D < 2 || x.dims()[1] != features {
        return bn.forward(x); // Burn's shape assertion, in Burn's words.
    }
    let device = x.device();
    if device.is_autodiff() && bn.training.is_enabled() {
        let (out, mean, variance) = <Dispatch as NormKernels>::av_batch_norm_train(
            x.into_dispatch(),
            bn.gamma.val().into_dispatch(),
            bn.beta.val().into_dispatch(),
            bn.epsilon,
        );
        let (mean, variance) = (Tensor::<1>::from_dispatch(mean), Tensor::<1>::from_dispatch(variance));
        // Running statistics exactly as `BatchNorm::forward_train` updates them.
        let momentum = bn.momentum;
        let running_mean = bn.running_mean.value_sync().to_device(&device);
        let running_var = bn.running_var.value_sync().to_device(&device);
        let running_mean = running_mean.mul_scalar(1.0 - momentum).add(mean.detach().mul_scalar(momentum));
        let running_var = running_var.mul_scalar(1.0 - momentum).add(variance.detach().mul_scalar(momentum));
        bn.running_mean.update(running_mean.detach());
        bn.running_var.update(running_var.detach());
        Tensor::from_dispatch(out)
    } else {
        let mean = bn.running_mean.value().to_device(&device);
        let variance = bn.running_var.value().to_device(&device);
        Tensor::from_dispatch(<Dispatch as NormKernels>::av_batch_norm_eval(
            x.into_dispatch(),
            bn.gamma.val().into_dispatch(),
            bn.beta.val().into_dispatch(),
            mean.into_dispatch(),
            variance.into_dispatch(),
            bn.epsilon,
        ))
    }
}

/// `pool.forward(x)` through [`PoolKernels`] (av-align's kernels on flex, Burn's elsewhere):
/// same values and, on autodiff devices, the same gradient (to the first maximum of each
/// window). Pools with dilation, ceil mode or asymmetric / `Same` padding go to Burn.
///
/// # Shapes
/// As [`MaxPool2d::forward`]: `[N, C, H, W]` -> `[N, C, Ho, Wo]`.
///
/// # Panics
/// As [`MaxPool2d::forward`] on a window that does not fit the input.
pub fn max_pool2d_module(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match pool.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => [top, left],
        _ => return pool.forward(x),
    };
    if pool.dilation != [1, 1] || pool.ceil_mode {
        return pool.forward(x);
    }
    Tensor::from_dispatch(<Dispatch as PoolKernels>::av_max_pool2d(
        x.into_dispatch(),
        pool.kernel_size,
        pool.stride,
        padding,
    ))
}

/// The content key of every image of `x` (`[N, ...]`, any device): XXH3-128 of each image's
/// `f32` values' little-endian bytes, seeded with `seed` ([`crate::keys::image_keys`]). On flex
/// the tensor's own buffer is hashed, images in parallel; elsewhere `x` is read back first.
/// `None` when `x` does not read back as `f32` or has no images.
pub fn image_keys<const D: usize>(x: Tensor<D>, seed: u64) -> Option<Vec<u128>> {
    let images = *x.dims().first()?;
    if images == 0 {
        return None;
    }
    let fast = Tensor::<2, burn::tensor::Int>::from_dispatch(<Dispatch as KeyKernels>::av_image_keys(
        x.clone().into_dispatch(),
        seed,
    ));
    if fast.dims() == [images, 2] {
        let halves = fast.into_data().convert::<i64>().try_into_vec::<i64>().ok()?;
        return Some(halves.chunks(2).map(|h| crate::keys::key_from_halves([h[0], h[1]])).collect());
    }
    let data = x.into_data().convert::<f32>();
    crate::keys::image_keys(data.as_slice::<f32>().ok()?, images, seed).ok()
}

/// The soft-masked mean over the positions (LVS's tri-map score) through
/// [`MaskedMeanKernels`]: `out[a, b] = Σ_p w_p s_p / Σ_p w_p` with the detached mask
/// `w_p = σ(±(s_p - eps) / soft)` (`-` when `complement`: `1 - σ((s_p - eps) / soft)`),
/// rescaled by its maximum over `p`. When `(1 + |eps|) / soft` is at most
/// [`crate::masked_mean::SIGMOID_SAFE`] the mask is `σ(clamp(z, ±80))`, otherwise it is
/// evaluated in the log domain and never underflows ([`crate::masked_mean`]). One fused
/// operation on flex (f32); Burn's tensor primitives elsewhere. Differentiable with respect to
/// `sim` on autodiff devices: `d sim[a, b, p] = d out[a, b] w_p / Σ_q w_q`.
///
/// `eps` and `soft` are in similarity units, `soft > 0` (other settings, and non-`f32`
/// tensors, go to Burn's primitives, which compute the formula as written). Without positions
/// (`P = 0`) every output is NaN.
///
/// # Shapes
/// `sim`: `[A, B, P]` -> `[A, B]`.
pub fn soft_masked_mean(sim: Tensor<3>, eps: f32, soft: f32, complement: bool) -> Tensor<2> {
    let [a, b, p] = sim.dims();
    if p == 0 {
        return Tensor::full([a, b], f32::NAN, &sim.device());
    }
    Tensor::from_dispatch(<Dispatch as MaskedMeanKernels>::av_soft_masked_mean(
        sim.into_dispatch(),
        eps,
        soft,
        complement,
    ))
}
