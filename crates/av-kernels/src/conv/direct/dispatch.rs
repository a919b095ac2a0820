//! Run-time instruction-set dispatch. The kernels are written once, over [`Lanes`]: vectors
//! of 8 `f32`, which are AVX2 registers with fused multiply-adds inside `pulp`'s AVX2 + FMA
//! context (used when the CPU has it), and plain arrays everywhere else.

/// Vectors of 8 `f32` and the four operations the kernels need.
pub(super) trait Lanes: Copy {
    /// One vector.
    type V: Copy;
    /// All zeros.
    fn zero(self) -> Self::V;
    /// `x` in every lane.
    fn splat(self, x: f32) -> Self::V;
    /// Eight consecutive values.
    fn load(self, x: &[f32; 8]) -> Self::V;
    /// `a b + c`, lane by lane.
    fn madd(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// The eight values back.
    fn store(self, v: Self::V) -> [f32; 8];
}

/// A piece of work written over [`Lanes`].
pub(super) trait Kernel {
    /// What the work returns.
    type Output;
    /// Runs the work with `lanes`.
    fn run<L: Lanes>(self, lanes: L) -> Self::Output;
}

/// Runs `kernel` with the best instruction set this CPU has.
pub(super) fn dispatch<K: Kernel>(kernel: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    if let Some(v3) = pulp::x86::V3::try_new() {
        struct Vectorized<K>(K, pulp::x86::V3);
        impl<K: Kernel> pulp::WithSimd for Vectorized<K> {
            type Output = K::Output;
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _simd: S) -> K::Output {
                self.0.run(Avx2(self.1))
            }
        }
        return pulp::Simd::vectorize(v3, Vectorized(kernel, v3));
    }
    kernel.run(Portable)
}

/// Plain arrays: whatever the compiler makes of them on a CPU without AVX2 + FMA (a product
/// and a sum per lane; Rust never fuses them on its own).
#[derive(Debug, Clone, Copy)]
struct Portable;

impl Lanes for Portable {
    type V = [f32; 8];
    #[inline(always)]
    fn zero(self) -> Self::V {
        [0.0; 8]
    }
    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        [x; 8]
    }
    #[inline(always)]
    fn load(self, x: &[f32; 8]) -> Self::V {
        *x
    }
    #[inline(always)]
    fn madd(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::array::from_fn(|k| a[k] * b[k] + c[k])
    }
    #[inline(always)]
    fn store(self, v: Self::V) -> [f32; 8] {
        v
    }
}

/// AVX2 registers with fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
struct Avx2(pulp::x86::V3);

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    type V = pulp::f32x8;
    #[inline(always)]
    fn zero(self) -> Self::V {
        self.0.splat_f32x8(0.0)
    }
    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        self.0.splat_f32x8(x)
    }
    #[inline(always)]
    fn load(self, x: &[f32; 8]) -> Self::V {
        pulp::cast(*x)
    }
    #[inline(always)]
    fn madd(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        self.0.mul_add_f32x8(a, b, c)
    }
    #[inline(always)]
    fn store(self, v: Self::V) -> [f32; 8] {
        pulp::cast(v)
    }
}
