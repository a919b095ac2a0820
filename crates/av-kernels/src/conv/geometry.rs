//! Shapes of a 2-D convolution, checked once.

use crate::KernelError;

/// The shape of a 2-D convolution `[N, C, H, W] * [O, C, kh, kw] -> [N, O, Ho, Wo]`
/// (NCHW, one group, symmetric zero padding), as PyTorch's `conv2d` defines it:
/// `Ho = (H + 2 p_h - d_h (kh - 1) - 1) / s_h + 1`, likewise for `Wo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Batch size `N`.
    pub batch: usize,
    /// Input channels `C`.
    pub in_channels: usize,
    /// Input height and width `[H, W]`.
    pub input: [usize; 2],
    /// Output channels `O`.
    pub out_channels: usize,
    /// Kernel height and width `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride `[s_h, s_w]`.
    pub stride: [usize; 2],
    /// Zero padding on each side `[p_h, p_w]`.
    pub padding: [usize; 2],
    /// Dilation `[d_h, d_w]`.
    pub dilation: [usize; 2],
    /// Output height and width `[Ho, Wo]`.
    pub output: [usize; 2],
}

impl ConvGeometry {
    /// Checks the shapes and computes the output size.
    ///
    /// # Errors
    /// [`KernelError::Geometry`] when a size, stride or dilation is zero, the weight's input
    /// channels differ from the input's, or the dilated kernel does not fit the padded input.
    pub fn new(
        x_shape: [usize; 4],
        weight_shape: [usize; 4],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> Result<Self, KernelError> {
        let [batch, in_channels, h, w] = x_shape;
        let [out_channels, w_in, kh, kw] = weight_shape;
        if x_shape.contains(&0) || weight_shape.contains(&0) {
            return Err(KernelError::Geometry(format!(
                "zero size in input {x_shape:?} or weight {weight_shape:?}"
            )));
        }
        if stride.contains(&0) || dilation.contains(&0) {
            return Err(KernelError::Geometry(format!(
                "stride {stride:?} and dilation {dilation:?} must be >= 1"
            )));
        }
        if w_in != in_channels {
            return Err(KernelError::Geometry(format!(
                "weight {weight_shape:?} expects {w_in} input channels, input {x_shape:?} has {in_channels}"
            )));
        }
        let out = |size: usize, k: usize, s: usize, p: usize, d: usize| -> Result<usize, KernelError> {
            let span = d * (k - 1) + 1;
            let padded = size + 2 * p;
            if span > padded {
                return Err(KernelError::Geometry(format!(
                    "dilated kernel span {span} exceeds the padded input {padded} (input {x_shape:?}, weight {weight_shape:?})"
                )));
            }
            Ok((padded - span) / s + 1)
        };
        let output = [
            out(h, kh, stride[0], padding[0], dilation[0])?,
            out(w, kw, stride[1], padding[1], dilation[1])?,
        ];
        Ok(Self {
            batch,
            in_channels,
            input: [h, w],
            out_channels,
            kernel: [kh, kw],
            stride,
            padding,
            dilation,
            output,
        })
    }

    /// Rows of the lowered input (`C kh kw`), the inner dimension of the GEMMs.
    pub fn col_rows(&self) -> usize {
        self.in_channels * self.kernel[0] * self.kernel[1]
    }

    /// Output positions per image (`Ho Wo`).
    pub fn out_positions(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// Elements of one input image (`C H W`).
    pub fn image_len(&self) -> usize {
        self.in_channels * self.input[0] * self.input[1]
    }

    /// Elements of one output image (`O Ho Wo`).
    pub fn out_image_len(&self) -> usize {
        self.out_channels * self.out_positions()
    }

    /// Elements of the weight (`O C kh kw`).
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.col_rows()
    }

    /// Shape of the output `[N, O, Ho, Wo]`.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_channels, self.output[0], self.output[1]]
    }

    /// A 1x1 convolution with stride 1 and no padding: the input image already is its own
    /// lowered matrix `[C, H W]`, so no im2col is needed.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }

    pub(crate) fn check_len(
        &self,
        name: &'static str,
        expected: usize,
        actual: usize,
    ) -> Result<(), KernelError> {
        if expected == actual { Ok(()) } else { Err(KernelError::BufferLength { name, expected, actual }) }
    }
}
