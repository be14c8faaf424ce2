//! The fast CPU path: SIMD kernels written once against a small vector abstraction
//! ([`vector::Simd`]) and compiled for three instruction sets:
//!
//! - **AVX-512** and **AVX2 + FMA** natively on x86-64, chosen at run time where the CPU has them;
//! - **simd128** in the WebAssembly build (`-C target-feature=+simd128`);
//! - **portable** arrays of four everywhere else (the scalar wasm build, other CPUs).
//!
//! [`Kernels`] names the choice. [`Kernels::Reference`] is the plain code of `crate::kernels`
//! and each block's `forward_reference`, which every variant here is tested against; blocks run
//! their fused fast path (`forward_fast`) for the other three.
//!
//! Layout: one image at a time, channel-major `(C, H*W)` unless a function says otherwise.

/// Runs `$body` with `$start` and the const `$size` over `0..$n` in blocks of `$first`, then
/// the rest in blocks of 4, 2 and 1: register blocks whose size the compiler knows.
macro_rules! in_blocks {
    ($n:expr, $first:literal, |$start:ident, $size:ident| $body:expr) => {{
        let n = $n;
        let mut $start = 0;
        while n - $start >= $first {
            {
                const $size: usize = $first;
                $body;
            }
            $start += $first;
        }
        in_blocks!(@rest n, $start, $size, $body, 4, 2, 1);
    }};
    (@rest $n:ident, $start:ident, $size:ident, $body:expr, $($block:literal),+) => {
        $(
            while $n - $start >= $block {
                {
                    const $size: usize = $block;
                    $body;
                }
                $start += $block;
            }
        )+
    };
}

pub mod attention;
pub mod conv;
pub mod gemm;
pub mod reduce;
pub mod vector;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
pub use attention::{AttentionInput, Weighting};
pub use gemm::Dense;
use vector::Portable;

/// Which CPU kernels run the blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernels {
    /// The plain reference: clear loops, f64 accumulation in reductions.
    Reference,
    /// The fast kernels on plain arrays (no intrinsics).
    Portable,
    /// The fast kernels with AVX2 and FMA (x86-64, detected at run time).
    Avx2Fma,
    /// The fast kernels with AVX-512F (x86-64, detected at run time).
    Avx512,
    /// The fast kernels with WebAssembly SIMD.
    Simd128,
}

impl Kernels {
    pub const ALL: [Kernels; 5] = [Kernels::Reference, Kernels::Portable, Kernels::Avx2Fma, Kernels::Avx512, Kernels::Simd128];

    /// The fastest variant this machine (or this wasm build) runs.
    pub fn best() -> Self {
        if Self::Avx512.is_available() {
            Self::Avx512
        } else if Self::Avx2Fma.is_available() {
            Self::Avx2Fma
        } else if Self::Simd128.is_available() {
            Self::Simd128
        } else {
            Self::Portable
        }
    }

    /// Every variant that runs here, the reference first.
    pub fn available() -> Vec<Self> {
        Self::ALL.into_iter().filter(|k| k.is_available()).collect()
    }

    pub fn is_available(self) -> bool {
        match self {
            Kernels::Reference | Kernels::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2Fma => avx2::Avx2Fma::detect().is_some(),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512 => avx512::Avx512::detect().is_some(),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernels::Simd128 => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernels::Reference => "reference",
            Kernels::Portable => "portable",
            Kernels::Avx2Fma => "avx2",
            Kernels::Avx512 => "avx512",
            Kernels::Simd128 => "simd128",
        }
    }

    /// `out = weight x + bias (+ residual)`: a 1x1 convolution of `(inputs, positions)`.
    pub fn conv1x1(self, layer: Dense, x: &[f32], positions: usize, residual: Option<&[f32]>) -> Vec<f32> {
        let mut out = vec![0.0; layer.weight.len() / layer.inputs * positions];
        dispatch!(self, s => gemm::conv1x1(s, layer, x, positions, residual, &mut out));
        out
    }

    /// Fused attention; see [`attention`]. Writes `(value_dim, nq)`, channel-major, to `out`.
    pub fn attend(self, input: &AttentionInput, out: &mut [f32]) {
        dispatch!(self, s => attention::attend(s, input, out));
    }

    /// Mean of every channel of `(C, positions)`.
    pub fn channel_means(self, x: &[f32], positions: usize) -> Vec<f32> {
        dispatch!(self, s => reduce::channel_means(s, x, positions))
    }

    /// Mean and maximum of every channel, in one pass.
    pub fn channel_means_and_maxes(self, x: &[f32], positions: usize) -> (Vec<f32>, Vec<f32>) {
        dispatch!(self, s => reduce::channel_means_and_maxes(s, x, positions))
    }

    /// `sum_p x[c, p] w[p]` for every channel.
    pub fn weighted_channel_sums(self, x: &[f32], weights: &[f32]) -> Vec<f32> {
        dispatch!(self, s => reduce::weighted_channel_sums(s, x, weights))
    }

    /// Mean and maximum across channels of `x * gate[c]`, per position.
    pub fn gated_mean_and_max_over_channels(self, x: &[f32], gate: &[f32], positions: usize) -> (Vec<f32>, Vec<f32>) {
        dispatch!(self, s => reduce::gated_mean_and_max_over_channels(s, x, gate, positions))
    }

    /// `x[c, p] * channel[c] (* spatial[p])`.
    pub fn apply_gates(self, x: &[f32], channel: &[f32], spatial: Option<&[f32]>, positions: usize) -> Vec<f32> {
        dispatch!(self, s => reduce::apply_gates(s, x, channel, spatial, positions))
    }

    pub fn softmax_in_place(self, v: &mut [f32]) {
        dispatch!(self, s => reduce::softmax_in_place(s, v));
    }

    /// `v = sigmoid(v * scale + shift)`.
    pub fn affine_sigmoid_in_place(self, v: &mut [f32], scale: f32, shift: f32) {
        dispatch!(self, s => reduce::affine_sigmoid_in_place(s, v, scale, shift));
    }

    /// [`Kernels::conv2d_same`] computing only the output rows `offset + j * step` (the rest are zero).
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d_same_rows(
        self,
        x: &[f32],
        weight: &[f32],
        cin: usize,
        height: usize,
        width: usize,
        k: usize,
        rows: (usize, usize),
    ) -> Vec<f32> {
        let mut out = vec![0.0; weight.len() / (cin * k * k) * height * width];
        dispatch!(self, s => conv::conv2d_same_rows(s, x, weight, cin, height, width, k, rows, &mut out));
        // The padding these skip is multiplied in PyTorch: a non-finite weight makes NaN there.
        crate::kernels::conv::nan_where_padding_meets_non_finite(&mut out, weight, cin, height, width, k, rows);
        out
    }

    /// `v = act(v)` for a pointwise activation.
    pub fn pointwise_in_place(self, v: &mut [f32], act: crate::kernels::activation::Activation) {
        dispatch!(self, s => reduce::pointwise_in_place(s, v, act));
    }

    /// Zero-padded "same" convolution, stride 1, no bias; see [`conv`].
    pub fn conv2d_same(self, x: &[f32], weight: &[f32], cin: usize, height: usize, width: usize, k: usize) -> Vec<f32> {
        self.conv2d_same_rows(x, weight, cin, height, width, k, (1, 0))
    }
}

/// Runs `$body` with `$s` bound to the chosen instruction set's token, compiled for it. The
/// reference and any variant this build or CPU lacks run the portable code.
macro_rules! dispatch {
    ($kernels:expr, $s:ident => $body:expr) => {{
        match $kernels {
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2Fma if avx2::Avx2Fma::detect().is_some() => {
                let token = avx2::Avx2Fma::detect().expect("detected just now");
                token.vectorize(
                    #[inline(always)]
                    |$s| $body,
                )
            }
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512 if avx512::Avx512::detect().is_some() => {
                let token = avx512::Avx512::detect().expect("detected just now");
                token.vectorize(
                    #[inline(always)]
                    |$s| $body,
                )
            }
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernels::Simd128 => {
                let $s = simd128::Simd128;
                $body
            }
            _ => {
                let $s = Portable;
                $body
            }
        }
    }};
}
use dispatch;

impl fmt::Display for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kernels {
    type Err = Error;
    /// A variant by name; refuses one this machine cannot run.
    fn from_str(s: &str) -> Result<Self> {
        let names = || Self::available().iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
        let kernels = Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::BadOption { option: "--kernels", reason: format!("unknown value `{s}` (one of: {})", names()) })?;
        if !kernels.is_available() {
            return Err(Error::BadOption {
                option: "--kernels",
                reason: format!("`{s}` does not run on this machine (available: {})", names()),
            });
        }
        Ok(kernels)
    }
}

#[cfg(test)]
mod tests {
    use super::vector::Simd;
    use super::*;

    /// `f` on every value of `xs`, a vector at a time (the last one padded with zeros).
    fn lanewise<S: Simd>(s: S, xs: &[f32], f: impl Fn(S, S::V) -> S::V) -> Vec<f32> {
        let mut out = Vec::with_capacity(xs.len() + S::LANES);
        for chunk in xs.chunks(S::LANES) {
            let mut lanes = vec![0.0; S::LANES];
            lanes[..chunk.len()].copy_from_slice(chunk);
            let result = f(s, s.load(&lanes));
            s.store(&mut lanes, result);
            out.extend_from_slice(&lanes[..chunk.len()]);
        }
        out
    }

    /// `exp` and `exp2` on every instruction set: within 4e-7 relative of the exact value over
    /// the normal range, about zero below it (the softmax relies on both ends).
    #[test]
    fn exponentials_are_accurate_on_every_variant() {
        let xs: Vec<f32> = (-1400..=800).map(|i| i as f32 * 0.1 + 0.013).chain([f32::NEG_INFINITY, -1e30]).collect();
        for kernels in Kernels::available() {
            let exp2 = dispatch!(kernels, s => lanewise(s, &xs, |s, v| s.exp2(v)));
            let exp = dispatch!(kernels, s => lanewise(s, &xs, |s, v| s.exp(v)));
            for ((&x, &e2), &e) in xs.iter().zip(&exp2).zip(&exp) {
                for (name, got, exact) in [("exp2", e2, (x as f64).exp2()), ("exp", e, (x as f64).exp())] {
                    let ok = if exact > 1e-37 { ((got as f64) / exact - 1.0).abs() < 4e-7 } else { (0.0..1.01e-37).contains(&got) };
                    assert!(ok, "[{kernels}] {name}({x}) = {got:e}, exactly {exact:e}");
                }
            }
        }
    }
}
