//! Direct (seven-loop) convolution in f64 and the kernels checked against it.

use super::*;

/// Calls `f(n, o, c, oh, ow, i, j, ih, iw)` for every in-image tap of the convolution.
fn taps(g: &ConvGeometry, mut f: impl FnMut([usize; 9])) {
    for n in 0..g.batch {
        for o in 0..g.out_channels {
            for c in 0..g.in_channels {
                for oh in 0..g.output[0] {
                    for ow in 0..g.output[1] {
                        for i in 0..g.kernel[0] {
                            for j in 0..g.kernel[1] {
                                let ih =
                                    (oh * g.stride[0] + i * g.dilation[0]) as isize - g.padding[0] as isize;
                                let iw =
                                    (ow * g.stride[1] + j * g.dilation[1]) as isize - g.padding[1] as isize;
                                if (0..g.input[0] as isize).contains(&ih)
                                    && (0..g.input[1] as isize).contains(&iw)
                                {
                                    f([n, o, c, oh, ow, i, j, ih as usize, iw as usize]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn xi(g: &ConvGeometry, n: usize, c: usize, h: usize, w: usize) -> usize {
    ((n * g.in_channels + c) * g.input[0] + h) * g.input[1] + w
}
fn yi(g: &ConvGeometry, n: usize, o: usize, h: usize, w: usize) -> usize {
    ((n * g.out_channels + o) * g.output[0] + h) * g.output[1] + w
}
fn wi(g: &ConvGeometry, o: usize, c: usize, i: usize, j: usize) -> usize {
    ((o * g.in_channels + c) * g.kernel[0] + i) * g.kernel[1] + j
}

/// A deterministic test signal in [-1, 1] (shared with the depthwise tests).
pub(crate) fn signal(len: usize, seed: usize) -> Vec<f32> {
    (0..len).map(|v| (((v * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
}

/// `got` within 1e-5 of `want`'s peak, element by element (shared with the depthwise tests).
pub(crate) fn assert_close(name: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((f64::from(*a) - b).abs() <= 1e-5 * scale, "{name}[{k}]: {a} vs {b} (scale {scale})");
    }
}

/// Forward, input and weight gradients of every lowering path (pointwise, strided 1x1, 3x3,
/// 7x7 stride 2, dilated, rectangular) against the definition, with batches that split over
/// images and batches that do not.
#[test]
fn kernels_match_direct_convolution() {
    let cases = [
        ([4, 5, 9, 8], [6, 5, 3, 3], [1, 1], [1, 1], [1, 1]),
        ([3, 4, 10, 9], [5, 4, 3, 3], [2, 2], [1, 1], [1, 1]),
        ([2, 3, 17, 13], [4, 3, 7, 7], [2, 2], [3, 3], [1, 1]),
        ([4, 6, 8, 8], [7, 6, 1, 1], [1, 1], [0, 0], [1, 1]),
        ([1, 6, 9, 7], [3, 6, 1, 1], [2, 2], [0, 0], [1, 1]),
        ([2, 3, 9, 9], [2, 3, 3, 3], [1, 1], [2, 2], [2, 2]),
        ([5, 2, 7, 11], [3, 2, 2, 3], [1, 2], [0, 1], [1, 1]),
        // Lowered matrices larger than one band: 2 bands of 22 + 18 output rows, and 7 bands
        // of a strided 7x7 with a short last band.
        ([2, 32, 40, 40], [4, 32, 3, 3], [1, 1], [1, 1], [1, 1]),
        ([1, 16, 90, 90], [3, 16, 7, 7], [2, 2], [3, 3], [1, 1]),
    ];
    for (xs, ws, s, p, d) in cases {
        let g = ConvGeometry::new(xs, ws, s, p, d).expect("geometry");
        if xs[1] >= 16 && ws[0] < 32 {
            assert!(super::tile_rows(&g) < g.output[0], "{xs:?} must be lowered in several bands");
        }
        let (x, w, dy) = inputs(&g);
        let (y_ref, dx_ref, dw_ref) = definition(&g, &x, &w, &dy);
        let tag = format!("{xs:?} {ws:?} s{s:?} p{p:?} d{d:?}");
        let lowered = ConvMethod::Lowered;
        assert_close(
            &format!("y {tag}"),
            &conv2d_forward_using(lowered, &g, &x, &w).expect("forward"),
            &y_ref,
        );
        assert_close(
            &format!("dx {tag}"),
            &conv2d_input_grad_using(lowered, &g, &dy, &w).expect("dx"),
            &dx_ref,
        );
        assert_close(
            &format!("dw {tag}"),
            &conv2d_weight_grad_using(lowered, &g, &x, &dy).expect("dw"),
            &dw_ref,
        );
        // The entry points that pick a method by the rule.
        assert_close(&format!("y (rule) {tag}"), &conv2d_forward(&g, &x, &w).expect("forward"), &y_ref);
        assert_close(&format!("dx (rule) {tag}"), &conv2d_input_grad(&g, &dy, &w).expect("dx"), &dx_ref);
        assert_close(&format!("dw (rule) {tag}"), &conv2d_weight_grad(&g, &x, &dy).expect("dw"), &dw_ref);
    }
}

/// Deterministic input, weight and output gradient for `g`.
fn inputs(g: &ConvGeometry) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    (signal(g.batch * g.image_len(), 1), signal(g.weight_len(), 2), signal(g.batch * g.out_image_len(), 3))
}

/// `y`, `dx` and `dw` by the definition, in f64.
fn definition(g: &ConvGeometry, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut y, mut dx, mut dw) = (vec![0f64; dy.len()], vec![0f64; x.len()], vec![0f64; w.len()]);
    taps(g, |[n, o, c, oh, ow, i, j, ih, iw]| {
        let (xk, yk, wk) = (xi(g, n, c, ih, iw), yi(g, n, o, oh, ow), wi(g, o, c, i, j));
        y[yk] += f64::from(x[xk]) * f64::from(w[wk]);
        dx[xk] += f64::from(dy[yk]) * f64::from(w[wk]);
        dw[wk] += f64::from(dy[yk]) * f64::from(x[xk]);
    });
    (y, dx, dw)
}

/// The direct kernels against the definition, for every register tiling (4 x 16 with a short
/// last vector, 8 x 8, 4 x 8), the stem's 7x7 stride 2, strided 3x3 and 1x1 layers, no
/// padding and unequal strides; a pass the direct kernels do not take is a typed error.
#[test]
fn direct_kernels_match_direct_convolution() {
    use ConvPass::{Forward, InputGrad, WeightGrad};
    // (input, weight, stride, padding, passes the direct kernels must take)
    let cases: [([usize; 4], [usize; 4], [usize; 2], [usize; 2], &[ConvPass]); 9] = [
        ([2, 3, 37, 35], [8, 3, 7, 7], [2, 2], [3, 3], &[Forward, WeightGrad]),
        ([3, 8, 20, 19], [8, 8, 3, 3], [1, 1], [1, 1], &[Forward, InputGrad, WeightGrad]),
        ([2, 12, 8, 8], [16, 12, 3, 3], [1, 1], [1, 1], &[Forward, InputGrad, WeightGrad]),
        ([2, 8, 11, 7], [12, 8, 3, 3], [1, 1], [1, 1], &[Forward, InputGrad, WeightGrad]),
        ([4, 8, 16, 16], [16, 8, 3, 3], [2, 2], [1, 1], &[Forward, WeightGrad]),
        ([2, 8, 16, 16], [16, 8, 1, 1], [2, 2], [0, 0], &[Forward, WeightGrad]),
        ([1, 4, 9, 9], [4, 4, 3, 3], [1, 1], [0, 0], &[Forward, InputGrad, WeightGrad]),
        ([2, 4, 6, 10], [8, 4, 2, 3], [1, 2], [0, 1], &[Forward, WeightGrad]),
        ([2, 5, 9, 9], [6, 5, 3, 3], [1, 1], [1, 1], &[]),
    ];
    for (xs, ws, s, p, direct) in cases {
        let g = ConvGeometry::new(xs, ws, s, p, [1, 1]).expect("geometry");
        let (x, w, dy) = inputs(&g);
        let (y_ref, dx_ref, dw_ref) = definition(&g, &x, &w, &dy);
        let tag = format!("{xs:?} {ws:?} s{s:?} p{p:?}");
        for pass in [Forward, InputGrad, WeightGrad] {
            let supported = ConvMethod::direct_unsupported(&g, pass).is_none();
            assert_eq!(supported, direct.contains(&pass), "{pass:?} {tag}");
            let got = match pass {
                Forward => conv2d_forward_using(ConvMethod::Direct, &g, &x, &w),
                InputGrad => conv2d_input_grad_using(ConvMethod::Direct, &g, &dy, &w),
                WeightGrad => conv2d_weight_grad_using(ConvMethod::Direct, &g, &x, &dy),
            };
            if !supported {
                assert!(matches!(got, Err(crate::KernelError::Geometry(_))), "{pass:?} {tag}");
                continue;
            }
            let want = match pass {
                Forward => &y_ref,
                InputGrad => &dx_ref,
                WeightGrad => &dw_ref,
            };
            assert_close(&format!("{pass:?} direct {tag}"), &got.expect("direct"), want);
        }
    }
}

/// The rule: stems' forward pass (and a narrow stem's weight gradient), narrow stride-1 layers'
/// forward pass and input gradient go direct; weight gradients of 3x3 layers, wide layers,
/// strided 3x3 layers, 1x1 stride-1 layers and layers the direct kernels cannot take stay
/// lowered.
#[test]
fn the_rule_sends_stems_and_narrow_layers_direct() {
    use ConvPass::{Forward, InputGrad, WeightGrad};
    let geo = |x: [usize; 4], w: [usize; 4], s: usize, p: usize| {
        ConvGeometry::new(x, w, [s, s], [p, p], [1, 1]).expect("geometry")
    };
    let cases = [
        (geo([16, 3, 128, 128], [8, 3, 7, 7], 2, 3), [true, false, true]),
        (geo([16, 3, 256, 256], [64, 3, 7, 7], 2, 3), [true, false, false]),
        (geo([16, 8, 32, 32], [8, 8, 3, 3], 1, 1), [true, true, false]),
        (geo([16, 16, 32, 8], [16, 16, 3, 3], 1, 1), [true, true, false]),
        (geo([16, 32, 8, 8], [32, 32, 3, 3], 1, 1), [false, false, false]),
        (geo([16, 8, 32, 32], [16, 8, 3, 3], 2, 1), [false, false, false]),
        (geo([16, 8, 32, 32], [8, 8, 1, 1], 1, 0), [false, false, false]),
        (geo([16, 3, 32, 32], [6, 3, 7, 7], 1, 3), [false, false, false]),
    ];
    for (g, want) in cases {
        for (pass, direct) in [Forward, InputGrad, WeightGrad].into_iter().zip(want) {
            let expected = if direct { ConvMethod::Direct } else { ConvMethod::Lowered };
            assert_eq!(ConvMethod::choose(&g, pass), expected, "{pass:?} {g:?}");
        }
    }
}
