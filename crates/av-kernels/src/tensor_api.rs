//! `Tensor`-level entry points.

use burn::backend::Dispatch;
use burn::backend::ops::ConvOptions;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

use crate::ConvKernels;

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
