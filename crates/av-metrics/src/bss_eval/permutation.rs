//! The permutation search of `bss_eval_sources` (`separation.py:234-242`).

/// The permutation `perm` (estimate `perm[j]` for reference `j`) maximising
/// `mean_j score(perm[j], j)`, scanning permutations in lexicographic order and keeping the
/// first maximum (separation.py:235-240).
pub(crate) fn best_permutation(n: usize, score: impl Fn(usize, usize) -> f64) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..n).collect();
    let mut best = perm.clone();
    let mut best_mean = f64::NEG_INFINITY;
    let mut first = true;
    loop {
        let mean = (0..n).map(|j| score(perm[j], j)).sum::<f64>() / n as f64;
        // np.argmax: the first maximum; a NaN counts as the maximum.
        if first || mean > best_mean || (mean.is_nan() && !best_mean.is_nan()) {
            best_mean = mean;
            best.clone_from(&perm);
            first = false;
            if mean.is_nan() {
                break;
            }
        }
        if !next_permutation(&mut perm) {
            break;
        }
    }
    best
}

/// Advances `p` to the next permutation in lexicographic order; `false` after the last.
pub(crate) fn next_permutation(p: &mut [usize]) -> bool {
    let n = p.len();
    if n < 2 {
        return false;
    }
    let mut i = n - 1;
    while i > 0 && p[i - 1] >= p[i] {
        i -= 1;
    }
    if i == 0 {
        return false;
    }
    let mut k = n - 1;
    while p[k] <= p[i - 1] {
        k -= 1;
    }
    p.swap(i - 1, k);
    p[i..].reverse();
    true
}
