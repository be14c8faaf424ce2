//! WebAssembly SIMD (simd128): four lanes. Compiled in when the wasm build enables the feature
//! (`-C target-feature=+simd128`); the browser loads the scalar build where it is missing.

use std::arch::wasm32::*;

use super::vector::Simd;

/// The simd128 instruction set; the build that contains this type validates only in browsers
/// that have it.
#[derive(Debug, Clone, Copy)]
pub struct Simd128;

impl Simd for Simd128 {
    type V = v128;
    const LANES: usize = 4;

    #[inline(always)]
    fn splat(self, value: f32) -> v128 {
        f32x4_splat(value)
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> v128 {
        let src = &src[..4];
        // SAFETY: the slice holds the sixteen bytes read; v128_load takes unaligned addresses.
        unsafe { v128_load(src.as_ptr().cast()) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32], v: v128) {
        let dst = &mut dst[..4];
        // SAFETY: as for load.
        unsafe { v128_store(dst.as_mut_ptr().cast(), v) }
    }
    #[inline(always)]
    fn add(self, a: v128, b: v128) -> v128 {
        f32x4_add(a, b)
    }
    #[inline(always)]
    fn sub(self, a: v128, b: v128) -> v128 {
        f32x4_sub(a, b)
    }
    #[inline(always)]
    fn mul(self, a: v128, b: v128) -> v128 {
        f32x4_mul(a, b)
    }
    #[inline(always)]
    fn div(self, a: v128, b: v128) -> v128 {
        f32x4_div(a, b)
    }
    #[inline(always)]
    fn mul_add(self, a: v128, b: v128, c: v128) -> v128 {
        // simd128 has no fused multiply-add (relaxed-simd has, but not in every browser).
        f32x4_add(f32x4_mul(a, b), c)
    }
    #[inline(always)]
    fn max(self, a: v128, b: v128) -> v128 {
        // pmax(b, a) is `b < a ? a : b`: x86's maxps, `b` where either is NaN (see Simd::max).
        f32x4_pmax(b, a)
    }
    #[inline(always)]
    fn min(self, a: v128, b: v128) -> v128 {
        // pmin(b, a) is `a < b ? a : b`: x86's minps.
        f32x4_pmin(b, a)
    }
    #[inline(always)]
    fn round(self, v: v128) -> v128 {
        f32x4_nearest(v)
    }
    #[inline(always)]
    fn pow2i(self, n: v128) -> v128 {
        i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23)
    }
    #[inline(always)]
    fn sum(self, v: v128) -> f32 {
        (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<2>(v)) + (f32x4_extract_lane::<1>(v) + f32x4_extract_lane::<3>(v))
    }
    #[inline(always)]
    fn max_lane(self, v: v128) -> f32 {
        f32x4_extract_lane::<0>(v).max(f32x4_extract_lane::<1>(v)).max(f32x4_extract_lane::<2>(v).max(f32x4_extract_lane::<3>(v)))
    }
}
