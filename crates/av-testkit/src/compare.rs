//! Tolerant comparisons of `f32` slices.

/// Asserts `max |got - want| / max(1, max |want|) <= tol` (relative to the reference's scale,
/// absolute below 1), that both have the same length and that `got` is finite. Prints the
/// error.
///
/// # Panics
/// When one of the checks fails, with `what` in the message.
#[track_caller]
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = got.iter().zip(want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(got.iter().all(|v| v.is_finite()), "{what}: non-finite values");
    assert!(err / scale <= tol, "{what}: max error {err} (scale {scale}) > tol {tol}");
    eprintln!("{what}: max error {:.2e} (relative {:.2e})", err, err / scale);
}

/// Asserts `max |got - want| <= tol · max |want|` (relative to the reference's peak, however
/// small: the scale is floored at 1e-12 only), that both have the same length and that `got`
/// is finite. Prints the error.
///
/// # Panics
/// When one of the checks fails, with `what` in the message.
#[track_caller]
pub fn assert_close_to_peak(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    assert!(got.iter().all(|v| v.is_finite()), "{what}: non-finite values");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    let err = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    println!("{what}: max abs error {err:.2e} (scale {scale:.2e}, relative {:.2e})", err / scale);
    assert!(err <= tol * scale, "{what}: max abs error {err} vs scale {scale}");
}

/// Max `|a - b|` over two equal-length slices.
///
/// # Panics
/// When the lengths differ.
#[track_caller]
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances() {
        assert_close("small", &[0.0, 0.5], &[0.0, 0.5 + 1e-6], 1e-5);
        assert_close_to_peak("peak", &[1e-3, 0.0], &[1e-3 + 1e-8, 0.0], 1e-4);
        assert_eq!(max_abs_diff(&[1.0, 2.0], &[1.5, 1.0]), 1.0);
    }

    #[test]
    #[should_panic(expected = "> tol")]
    fn assert_close_fails_above_tol() {
        assert_close("x", &[0.0], &[1e-3], 1e-5);
    }

    #[test]
    #[should_panic(expected = "vs scale")]
    fn peak_relative_is_not_floored_at_one() {
        // 1e-6 off a peak of 1e-3 is 1e-3 relative: passes `assert_close`, fails here.
        assert_close("x", &[1e-3], &[1e-3 + 1e-6], 1e-4);
        assert_close_to_peak("x", &[1e-3], &[1e-3 + 1e-6], 1e-4);
    }

    #[test]
    #[should_panic(expected = "non-finite")]
    fn non_finite_values_fail() {
        assert_close_to_peak("x", &[f32::NAN], &[1.0], 1e-4);
    }
}
