//! The one deterministic generator of av-align: SplitMix64 (Steele, Lea and Flood, "Fast
//! splittable pseudorandom number generators", OOPSLA 2014; the constants of Vigna's
//! public-domain `splitmix64.c`), and the hashing used to derive independent streams.
//!
//! Two pinned streams depend on it, bit for bit:
//!
//! * the offline benchmark of `av-data`: every scene is a pure function of
//!   `(seed, split, index)` through [`SplitMix64::from_words`], [`SplitMix64::fork`] and the
//!   `uniform` / `below` / `chance` / `weighted` / `shuffle` draws, so that scenes can be
//!   generated in any order, in parallel, with identical results;
//! * the seeded baselines and the bootstrap of `av-metrics` ([`SplitMix64::new`],
//!   [`SplitMix64::next_f64`], [`SplitMix64::next_below`]);
//!   `tools/reference/make_metrics_fixtures.py` implements the same counter-based stream in
//!   NumPy to regenerate the long BSS-Eval test signal.
//!
//! Output `k` (k = 0, 1, ...) of the stream seeded with `seed` is
//! `mix64(seed + (k + 1) · GOLDEN_GAMMA)`. It is not a cryptographic generator; it is
//! reproducible across platforms, which is all a seeded benchmark, baseline or bootstrap needs.
//!
//! Two integer draws exist and are **not** interchangeable: [`SplitMix64::below`] (`usize`,
//! one multiply-shift, no rejection: the benchmark stream) and [`SplitMix64::next_below`]
//! (`u64`, with rejection, unbiased: the metrics stream). They agree except when a draw of
//! `next_below` is rejected, after which the two streams are out of step.
//!
//! ```
//! use av_rng::SplitMix64;
//!
//! let mut rng = SplitMix64::from_words(&[7, 1, 42]);
//! let u = rng.uniform();
//! assert!((0.0..1.0).contains(&u));
//! assert!(rng.below(6) < 6);
//! ```

/// The SplitMix64 increment ("golden gamma", 2^64 / φ).
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (finaliser): a strong, bijective mixing of one 64-bit word.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a sequence of words into one key (order matters).
#[inline]
pub fn hash_words(words: &[u64]) -> u64 {
    words.iter().fold(0x6A09_E667_F3BC_C908, |h, &w| mix64(h ^ mix64(w.wrapping_add(GOLDEN_GAMMA))))
}

/// Hashes a string (FNV-1a, then mixed); used to turn names into stream keys.
#[inline]
pub fn hash_str(s: &str) -> u64 {
    mix64(
        s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)),
    )
}

/// A seeded SplitMix64 stream: 64 bits of state, passes BigCrush, trivially seedable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A stream starting from `seed`.
    #[inline]
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for the stream identified by `words` (see [`hash_words`]).
    #[inline]
    pub fn from_words(words: &[u64]) -> Self {
        Self::new(hash_words(words))
    }

    /// A new, independent generator derived from this one's next output and `tag`.
    #[inline]
    pub fn fork(&mut self, tag: u64) -> Self {
        Self::new(hash_words(&[self.next_u64(), tag]))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// Uniform `f64` in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform `f64` in `[0, 1)` with 53 random bits: the same draw as [`SplitMix64::uniform`]
    /// (the name used by the metrics).
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        self.uniform()
    }

    /// Uniform in `[lo, hi)`.
    #[inline]
    pub fn range_f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform() as f32
    }

    /// Uniform integer in `0..n` (`n > 0`; returns 0 for `n == 0`), from exactly one output.
    /// Uses Lemire's multiply-shift without rejection, whose bias is below 2^-32 for the small
    /// `n` of the benchmark. See [`SplitMix64::next_below`] for the unbiased draw.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform integer in `0..n` (Lemire's multiply-shift with rejection, so unbiased; it may
    /// consume more than one output). Returns 0 when `n == 0`. See [`SplitMix64::below`] for the
    /// one-output draw of the benchmark.
    #[inline]
    pub fn next_below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// `true` with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// A uniformly chosen element, `None` for an empty slice.
    #[inline]
    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { items.get(self.below(items.len())) }
    }

    /// An index drawn with probability proportional to `weights` (non-negative, not all zero;
    /// otherwise 0).
    #[inline]
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        if total.is_nan() || total <= 0.0 {
            return 0;
        }
        let mut x = self.uniform() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// Fisher-Yates shuffle.
    #[inline]
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests;
