//! AVX-512 (F): sixteen lanes, fused multiply-add. Chosen at run time where the CPU has it; on
//! CPUs with full-width 512-bit units it doubles the arithmetic per instruction over AVX2.

use std::arch::x86_64::*;

use super::vector::Simd;

/// Proof that the CPU has AVX-512F; only [`Avx512::detect`] makes one.
#[derive(Debug, Clone, Copy)]
pub struct Avx512(());

impl Avx512 {
    pub fn detect() -> Option<Self> {
        is_x86_feature_detected!("avx512f").then_some(Self(()))
    }

    /// Runs `op` compiled for AVX-512F; see [`super::avx2::Avx2Fma::vectorize`].
    #[inline(always)]
    pub fn vectorize<R>(self, op: impl FnOnce(Self) -> R) -> R {
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn with_features<R>(token: Avx512, op: impl FnOnce(Avx512) -> R) -> R {
            op(token)
        }
        // SAFETY: the token exists only where `detect` found the feature.
        unsafe { with_features(self, op) }
    }
}

// SAFETY (every block below): an `Avx512` exists only on a CPU with AVX-512F; loads and stores
// go through slices of at least sixteen values (indexing checks the length).
impl Simd for Avx512 {
    type V = __m512;
    const LANES: usize = 16;

    #[inline(always)]
    fn splat(self, value: f32) -> __m512 {
        unsafe { _mm512_set1_ps(value) }
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> __m512 {
        let src = &src[..16];
        unsafe { _mm512_loadu_ps(src.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32], v: __m512) {
        let dst = &mut dst[..16];
        unsafe { _mm512_storeu_ps(dst.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    fn mul_add(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn max(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    fn min(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_min_ps(a, b) }
    }
    #[inline(always)]
    fn round(self, v: __m512) -> __m512 {
        unsafe { _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v) }
    }
    /// `vscalefps` scales by `2^n` over the whole float range, so only -inf needs clamping.
    #[inline(always)]
    fn exp2(self, x: __m512) -> __m512 {
        let x = self.max(self.splat(-150.0), x);
        let n = self.round(x);
        let p = super::vector::exp2_fraction(self, self.sub(x, n));
        unsafe { _mm512_scalef_ps(p, n) }
    }
    #[inline(always)]
    fn pow2i(self, n: __m512) -> __m512 {
        unsafe {
            let biased = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
            _mm512_castsi512_ps(_mm512_slli_epi32::<23>(biased))
        }
    }
    #[inline(always)]
    fn sum(self, v: __m512) -> f32 {
        unsafe { _mm512_reduce_add_ps(v) }
    }
    #[inline(always)]
    fn max_lane(self, v: __m512) -> f32 {
        unsafe { _mm512_reduce_max_ps(v) }
    }
}
