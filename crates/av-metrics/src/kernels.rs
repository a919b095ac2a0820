//! Branch-free, lane-parallel inner loops of the map metrics (written so that the compiler
//! vectorises them on the baseline x86-64 / aarch64 targets; counts are exact integers and
//! weight sums are accumulated in `f64`).

/// Independent accumulators per loop (a multiple of every SIMD width in use).
const LANES: usize = 16;

/// First index of a NaN or infinite value.
pub(crate) fn first_non_finite<T: Copy + Into<f64>>(values: &[T]) -> Option<usize> {
    for (ci, chunk) in values.chunks(1024).enumerate() {
        let ok = chunk.iter().fold(true, |acc, &v| acc & v.into().is_finite());
        if !ok {
            return chunk.iter().position(|&v| !v.into().is_finite()).map(|i| ci * 1024 + i);
        }
    }
    None
}

/// Largest value of a non-empty slice of finite values (`-inf` when empty).
pub(crate) fn max_f32(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    let mut m = acc.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for &x in rest {
        m = m.max(x);
    }
    m
}

/// Smallest value (`+inf` when empty).
pub(crate) fn min_f32(v: &[f32]) -> f32 {
    let mut acc = [f32::INFINITY; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = if c[i] < acc[i] { c[i] } else { acc[i] };
        }
    }
    let mut m = acc.iter().copied().fold(f32::INFINITY, f32::min);
    for &x in rest {
        m = m.min(x);
    }
    m
}

/// `(Σ_{pred} g, #{pred ∧ g = 0})` for the predicate `pred` on the map values.
#[inline(always)]
pub(crate) fn weighted_hits(map: &[f32], gt: &[f32], pred: impl Fn(f32) -> bool) -> (f64, u64) {
    let mut inter = [0.0f64; LANES];
    let mut outside = [0u64; LANES];
    let (mc, gc) = (map.chunks_exact(LANES), gt.chunks_exact(LANES));
    let (mr, gr) = (mc.remainder(), gc.remainder());
    for (x, g) in mc.zip(gc) {
        for i in 0..LANES {
            let p = pred(x[i]);
            inter[i] += if p { f64::from(g[i]) } else { 0.0 };
            outside[i] += u64::from(p & (g[i] == 0.0));
        }
    }
    let mut si: f64 = inter.iter().sum();
    let mut so: u64 = outside.iter().sum();
    for (&x, &g) in mr.iter().zip(gr) {
        let p = pred(x);
        si += if p { f64::from(g) } else { 0.0 };
        so += u64::from(p & (g == 0.0));
    }
    (si, so)
}

/// `(#{pred ∧ gt}, #{pred}, #{gt})` for a binary ground truth (`gt[i]` is 0 or 1).
#[inline(always)]
pub(crate) fn binary_hits(map: &[f32], gt: &[u8], pred: impl Fn(f32) -> bool) -> (u64, u64, u64) {
    let mut inter = [0u32; LANES];
    let mut hits = [0u32; LANES];
    let mut ones = [0u32; LANES];
    let (mut si, mut sp, mut sg) = (0u64, 0u64, 0u64);
    // Flush the u32 lanes every 2^20 chunks so that they cannot overflow.
    for (mb, gb) in map.chunks(LANES << 20).zip(gt.chunks(LANES << 20)) {
        let (mc, gc) = (mb.chunks_exact(LANES), gb.chunks_exact(LANES));
        let (mr, gr) = (mc.remainder(), gc.remainder());
        for (x, g) in mc.zip(gc) {
            for i in 0..LANES {
                let p = u32::from(pred(x[i]));
                let gi = u32::from(g[i]);
                inter[i] += p & gi;
                hits[i] += p;
                ones[i] += gi;
            }
        }
        for (&x, &g) in mr.iter().zip(gr) {
            let p = u64::from(pred(x));
            si += p & u64::from(g);
            sp += p;
            sg += u64::from(g);
        }
        let flush = |lanes: &mut [u32; LANES]| -> u64 {
            let s = lanes.iter().map(|&v| u64::from(v)).sum();
            *lanes = [0; LANES];
            s
        };
        si += flush(&mut inter);
        sp += flush(&mut hits);
        sg += flush(&mut ones);
    }
    (si, sp, sg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_scalar_loops() {
        let n = 16 * 137 + 5;
        let map: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.2).collect();
        let gt: Vec<f32> = (0..n).map(|i| [0.0, 0.5, 1.0][(i * 31) % 3]).collect();
        let gtb: Vec<u8> = (0..n).map(|i| u8::from(i % 5 < 2)).collect();
        assert_eq!(max_f32(&map), map.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        assert_eq!(min_f32(&map), map.iter().copied().fold(f32::INFINITY, f32::min));
        let (i, o) = weighted_hits(&map, &gt, |x| x > 0.3);
        let si: f64 = map.iter().zip(&gt).filter(|(x, _)| **x > 0.3).map(|(_, g)| f64::from(*g)).sum();
        let so = map.iter().zip(&gt).filter(|(x, g)| **x > 0.3 && **g == 0.0).count() as u64;
        assert_eq!((i, o), (si, so));
        let (bi, bp, bg) = binary_hits(&map, &gtb, |x| x > 0.1);
        assert_eq!(bg, gtb.iter().map(|&g| u64::from(g)).sum::<u64>());
        let ei = map.iter().zip(&gtb).filter(|(x, g)| **x > 0.1 && **g == 1).count() as u64;
        let ep = map.iter().filter(|x| **x > 0.1).count() as u64;
        assert_eq!((bi, bp), (ei, ep));
        let mut bad = map.clone();
        assert_eq!(first_non_finite(&bad), None);
        bad[1500] = f32::INFINITY;
        bad[1600] = f32::NAN;
        assert_eq!(first_non_finite(&bad), Some(1500));
    }
}
