//! The small vector abstraction every fast kernel is written against, once.
//!
//! A [`Simd`] value is a token: holding one proves its instruction set can run here, so its
//! methods are safe. Kernels are `#[inline(always)]` generic functions over `S: Simd`; the
//! dispatcher in `mod.rs` calls them inside a function compiled for the instruction set
//! (`#[target_feature]`), so the whole kernel, these methods included, is compiled for it.

/// An f32 vector of `LANES` lanes and the operations the kernels need.
pub trait Simd: Copy {
    type V: Copy;
    const LANES: usize;

    fn splat(self, value: f32) -> Self::V;
    /// The first `LANES` values of `src` (which must hold that many).
    fn load(self, src: &[f32]) -> Self::V;
    /// Writes the vector to the first `LANES` values of `dst`.
    fn store(self, dst: &mut [f32], v: Self::V);
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c`, fused where the instruction set has it.
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a > b ? a : b`: the larger, and `b` where either is NaN (x86's `maxps`; every
    /// instruction set's implementation keeps this), so `max(c, x)` passes a NaN `x` through as
    /// PyTorch's clamps and ReLU do.
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a < b ? a : b`: the smaller, and `b` where either is NaN (x86's `minps`).
    fn min(self, a: Self::V, b: Self::V) -> Self::V;
    /// Round to the nearest integer, ties to even.
    fn round(self, v: Self::V) -> Self::V;
    /// `2^n` for lanes holding integers in `-126..=127`, built from the exponent bits.
    fn pow2i(self, n: Self::V) -> Self::V;
    /// The sum of the lanes.
    fn sum(self, v: Self::V) -> f32;
    /// The largest lane.
    fn max_lane(self, v: Self::V) -> f32;

    /// `e^x` to about 1 ulp: `x = n ln 2 + r` with `|r| <= ln2 / 2`, `e^r` by its Taylor
    /// polynomial to degree 6 (truncation error below 2e-7), times `2^n`. Inputs are clamped to
    /// `[-87.3, 88]`, so far-negative logits give about 1e-38 where the exact value underflows.
    #[inline(always)]
    fn exp(self, x: Self::V) -> Self::V {
        const LN2_HI: f32 = 0.693_145_75;
        const LN2_LO: f32 = 1.428_606_8e-6;
        // Clamped with the bound first, so a NaN passes through (and gives NaN, as in PyTorch).
        let x = self.min(self.splat(88.0), self.max(self.splat(-87.3), x));
        let n = self.round(self.mul(x, self.splat(std::f32::consts::LOG2_E)));
        let r = self.mul_add(n, self.splat(-LN2_HI), x);
        let r = self.mul_add(n, self.splat(-LN2_LO), r);
        let mut p = self.splat(1.0 / 720.0);
        for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            p = self.mul_add(p, r, self.splat(c));
        }
        self.mul(p, self.pow2i(n))
    }

    /// `2^x` to about 2 ulp, for the softmax of the fused attention (which works in base 2):
    /// `x = n + r` with `|r| <= 1/2`, `2^r` by a degree-5 polynomial fitted to the relative
    /// error on that interval (below 2.4e-7 in f32), times `2^n`. Inputs are clamped to
    /// `[-126, 126]`, so far-negative ones (and -inf) give about 1e-38.
    #[inline(always)]
    fn exp2(self, x: Self::V) -> Self::V {
        let x = self.min(self.splat(126.0), self.max(self.splat(-126.0), x));
        let n = self.round(x);
        self.mul_pow2(exp2_fraction(self, self.sub(x, n)), n)
    }

    /// `p * 2^n` for lanes of `n` holding integers in `-126..=126`.
    #[inline(always)]
    fn mul_pow2(self, p: Self::V, n: Self::V) -> Self::V {
        self.mul(p, self.pow2i(n))
    }

    /// `1 / (1 + e^-x)`.
    #[inline(always)]
    fn sigmoid(self, x: Self::V) -> Self::V {
        let one = self.splat(1.0);
        self.div(one, self.add(one, self.exp(self.sub(self.splat(0.0), x))))
    }
}

/// `sums[i][v] += vectors[v] * scalars[i]`: the step of every register-blocked product (a
/// block of broadcast scalars against two vectors).
#[inline(always)]
pub fn broadcast_mul_add<S: Simd, const B: usize>(s: S, sums: &mut [[S::V; 2]; B], vectors: [S::V; 2], scalars: &[f32; B]) {
    for (sum, &scalar) in sums.iter_mut().zip(scalars) {
        let scalar = s.splat(scalar);
        sum[0] = s.mul_add(vectors[0], scalar, sum[0]);
        sum[1] = s.mul_add(vectors[1], scalar, sum[1]);
    }
}

/// `2^r` for `|r| <= 1/2`: the polynomial of [`Simd::exp2`], for the instruction sets that
/// override it.
#[inline(always)]
pub fn exp2_fraction<S: Simd>(s: S, r: S::V) -> S::V {
    const C: [f32; 6] = [1.000_000_1, 0.693_146_94, 0.240_221_2, 0.055_507_13, 0.009_675_542, 0.001_327_647_1];
    let mut p = s.splat(C[5]);
    for &c in C[..5].iter().rev() {
        p = s.mul_add(p, r, s.splat(c));
    }
    p
}

/// The portable fallback: plain arrays of four, no intrinsics. The compiler turns the lane loops
/// into whatever vector instructions the target's baseline has (SSE2 natively, none in the
/// scalar wasm build).
#[derive(Debug, Clone, Copy)]
pub struct Portable;

type F4 = [f32; 4];

#[inline(always)]
fn lanes(f: impl Fn(usize) -> f32) -> F4 {
    [f(0), f(1), f(2), f(3)]
}

impl Simd for Portable {
    type V = F4;
    const LANES: usize = 4;

    #[inline(always)]
    fn splat(self, value: f32) -> F4 {
        [value; 4]
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> F4 {
        src[..4].try_into().expect("four lanes")
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32], v: F4) {
        dst[..4].copy_from_slice(&v);
    }
    #[inline(always)]
    fn add(self, a: F4, b: F4) -> F4 {
        lanes(|i| a[i] + b[i])
    }
    #[inline(always)]
    fn sub(self, a: F4, b: F4) -> F4 {
        lanes(|i| a[i] - b[i])
    }
    #[inline(always)]
    fn mul(self, a: F4, b: F4) -> F4 {
        lanes(|i| a[i] * b[i])
    }
    #[inline(always)]
    fn div(self, a: F4, b: F4) -> F4 {
        lanes(|i| a[i] / b[i])
    }
    #[inline(always)]
    fn mul_add(self, a: F4, b: F4, c: F4) -> F4 {
        // Unfused, as the scalar wasm build has no fused multiply-add.
        lanes(|i| a[i] * b[i] + c[i])
    }
    #[inline(always)]
    fn max(self, a: F4, b: F4) -> F4 {
        lanes(|i| if a[i] > b[i] { a[i] } else { b[i] })
    }
    #[inline(always)]
    fn min(self, a: F4, b: F4) -> F4 {
        lanes(|i| if a[i] < b[i] { a[i] } else { b[i] })
    }
    #[inline(always)]
    fn round(self, v: F4) -> F4 {
        lanes(|i| v[i].round_ties_even())
    }
    #[inline(always)]
    fn pow2i(self, n: F4) -> F4 {
        lanes(|i| f32::from_bits(((n[i] as i32 + 127) as u32) << 23))
    }
    #[inline(always)]
    fn sum(self, v: F4) -> f32 {
        (v[0] + v[2]) + (v[1] + v[3])
    }
    #[inline(always)]
    fn max_lane(self, v: F4) -> f32 {
        v[0].max(v[1]).max(v[2].max(v[3]))
    }
}
