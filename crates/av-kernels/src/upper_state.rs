//! Clearing the upper halves of the vector registers after faer's GEMM.
//!
//! faer's AVX-512 / AVX2 matrix kernels (`private-gemm-x86`) are hand-written assembly that
//! returns with the upper halves of the `ymm` / `zmm` registers in use, without the
//! `vzeroupper` that compiled AVX code ends with. On Intel processors every later instruction
//! in legacy SSE encoding (all Rust code built for the baseline `x86-64` target: the row
//! kernels of this crate, most of Burn's flex operations) then runs with a false dependency on
//! those upper halves: on this project's AVX-512 Xeon the soft-masked mean of the shipped
//! training step took 12.7 ms per call after a convolution instead of 1.0 ms, and a loop of
//! scalar `exp` ran 20 times slower (docs/performance.md, "Dirty upper registers"). AMD's Zen
//! cores have no such penalty, and a `vzeroupper` costs about a cycle, so this runs on every
//! x86-64 processor with AVX.
//!
//! The state belongs to each thread, so [`after_gemm`] clears it on the calling thread, and
//! after a parallel product on every thread of the current rayon pool too.

/// Puts the upper halves of the vector registers of the calling thread back in their initial
/// (zero) state, where the processor has AVX; does nothing elsewhere.
#[inline]
pub fn clear_upper_state() {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        simd.avx._mm256_zeroupper();
    }
}

/// [`clear_upper_state`] on the calling thread, and on every thread of the current rayon pool
/// when `parallel` (the threads a parallel GEMM may have run on).
pub(crate) fn after_gemm(parallel: bool) {
    if parallel {
        rayon::broadcast(|_| clear_upper_state());
    }
    clear_upper_state();
}
