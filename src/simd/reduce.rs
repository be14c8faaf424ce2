//! The memory-bound passes of the channel and spatial gates: per-channel statistics, statistics
//! across channels, weighted sums, and the gates applied as the output is written. Each reads
//! its input once; sums are kept in as many vector accumulators as there are lanes, so their
//! rounding grows like that of a pairwise sum.
//!
//! Loops here are plain `for` loops, not iterator adapters with closures: an adapter's `fold` may
//! stay a separate function, compiled without the caller's target features, and the vector
//! operations inside it would then be calls instead of instructions.

use super::vector::Simd;

/// Sum of a slice, two vector accumulators wide.
#[inline(always)]
pub fn sum<S: Simd>(s: S, v: &[f32]) -> f32 {
    let mut chunks = v.chunks_exact(2 * S::LANES);
    let (mut a, mut b) = (s.splat(0.0), s.splat(0.0));
    for chunk in &mut chunks {
        a = s.add(a, s.load(chunk));
        b = s.add(b, s.load(&chunk[S::LANES..]));
    }
    chunks.remainder().iter().fold(s.sum(s.add(a, b)), |acc, &x| acc + x)
}

/// Mean of every channel of `(C, positions)`.
#[inline(always)]
pub fn channel_means<S: Simd>(s: S, x: &[f32], positions: usize) -> Vec<f32> {
    let mut means = Vec::with_capacity(x.len() / positions);
    for ch in x.chunks_exact(positions) {
        means.push(sum(s, ch) / positions as f32);
    }
    means
}

/// Mean and maximum of every channel, in one pass.
#[inline(always)]
pub fn channel_means_and_maxes<S: Simd>(s: S, x: &[f32], positions: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut means, mut maxes) = (Vec::with_capacity(x.len() / positions), Vec::with_capacity(x.len() / positions));
    for ch in x.chunks_exact(positions) {
        let (total, max) = sum_and_max(s, ch);
        means.push(total / positions as f32);
        maxes.push(max);
    }
    (means, maxes)
}

/// `sum_p x[c, p] w[p]` for every channel.
#[inline(always)]
pub fn weighted_channel_sums<S: Simd>(s: S, x: &[f32], weights: &[f32]) -> Vec<f32> {
    let mut sums = Vec::with_capacity(x.len() / weights.len());
    for ch in x.chunks_exact(weights.len()) {
        sums.push(dot(s, ch, weights));
    }
    sums
}

/// Sum and maximum of a slice in one pass.
#[inline(always)]
pub fn sum_and_max<S: Simd>(s: S, v: &[f32]) -> (f32, f32) {
    let mut chunks = v.chunks_exact(S::LANES);
    let (mut total, mut max) = (s.splat(0.0), s.splat(f32::NEG_INFINITY));
    for chunk in &mut chunks {
        let x = s.load(chunk);
        total = s.add(total, x);
        max = s.max(max, x);
    }
    chunks.remainder().iter().fold((s.sum(total), s.max_lane(max)), |(t, m), &x| (t + x, m.max(x)))
}

/// `sum_p a[p] b[p]`.
#[inline(always)]
pub fn dot<S: Simd>(s: S, a: &[f32], b: &[f32]) -> f32 {
    let (mut ca, mut cb) = (a.chunks_exact(S::LANES), b.chunks_exact(S::LANES));
    let mut acc = s.splat(0.0);
    for (x, y) in (&mut ca).zip(&mut cb) {
        acc = s.mul_add(s.load(x), s.load(y), acc);
    }
    ca.remainder().iter().zip(cb.remainder()).fold(s.sum(acc), |t, (x, y)| t + x * y)
}

/// Mean and maximum across the channels of `x * gate[c]` at every position, without writing
/// `x * gate` (CBAM's spatial pooling of the channel-refined features).
#[inline(always)]
pub fn gated_mean_and_max_over_channels<S: Simd>(s: S, x: &[f32], gate: &[f32], positions: usize) -> (Vec<f32>, Vec<f32>) {
    let mut sum = vec![0.0f32; positions];
    let mut max = vec![f32::NEG_INFINITY; positions];
    let vectors = positions / S::LANES * S::LANES;
    for (ch, &g) in x.chunks_exact(positions).zip(gate) {
        let gv = s.splat(g);
        for p in (0..vectors).step_by(S::LANES) {
            let v = s.mul(s.load(&ch[p..]), gv);
            let (acc, m) = (s.add(s.load(&sum[p..]), v), s.max(s.load(&max[p..]), v));
            s.store(&mut sum[p..], acc);
            s.store(&mut max[p..], m);
        }
        for p in vectors..positions {
            let v = ch[p] * g;
            sum[p] += v;
            max[p] = max[p].max(v);
        }
    }
    let inv = 1.0 / gate.len() as f32;
    scale_in_place(s, &mut sum, inv);
    (sum, max)
}

/// `out[c, p] = x[c, p] * channel[c] * spatial[p]`; `spatial` may be absent.
#[inline(always)]
pub fn apply_gates<S: Simd>(s: S, x: &[f32], channel: &[f32], spatial: Option<&[f32]>, positions: usize, out: &mut [f32]) {
    let vectors = positions / S::LANES * S::LANES;
    for ((src, dst), &g) in x.chunks_exact(positions).zip(out.chunks_exact_mut(positions)).zip(channel) {
        let gv = s.splat(g);
        match spatial {
            Some(sp) => {
                for p in (0..vectors).step_by(S::LANES) {
                    let v = s.mul(s.mul(s.load(&src[p..]), gv), s.load(&sp[p..]));
                    s.store(&mut dst[p..], v);
                }
                for p in vectors..positions {
                    dst[p] = src[p] * g * sp[p];
                }
            }
            None => {
                for p in (0..vectors).step_by(S::LANES) {
                    let v = s.mul(s.load(&src[p..]), gv);
                    s.store(&mut dst[p..], v);
                }
                for p in vectors..positions {
                    dst[p] = src[p] * g;
                }
            }
        }
    }
}

/// `v *= factor`, in place.
#[inline(always)]
pub fn scale_in_place<S: Simd>(s: S, v: &mut [f32], factor: f32) {
    let f = s.splat(factor);
    let mut chunks = v.chunks_exact_mut(S::LANES);
    for chunk in &mut chunks {
        let scaled = s.mul(s.load(chunk), f);
        s.store(chunk, scaled);
    }
    chunks.into_remainder().iter_mut().for_each(|x| *x *= factor);
}

/// Softmax over the whole slice, in place.
#[inline(always)]
pub fn softmax_in_place<S: Simd>(s: S, v: &mut [f32]) {
    let (_, max) = sum_and_max(s, v);
    let neg_max = s.splat(-max);
    let mut chunks = v.chunks_exact_mut(S::LANES);
    let mut acc = s.splat(0.0);
    for chunk in &mut chunks {
        let e = s.exp(s.add(s.load(chunk), neg_max));
        acc = s.add(acc, e);
        s.store(chunk, e);
    }
    let mut total = s.sum(acc);
    for x in chunks.into_remainder() {
        *x = (*x - max).exp();
        total += *x;
    }
    scale_in_place(s, v, 1.0 / total);
}

/// `v = sigmoid(v * scale + shift)` in place (CBAM's spatial BatchNorm and gate in one pass).
#[inline(always)]
pub fn affine_sigmoid_in_place<S: Simd>(s: S, v: &mut [f32], scale: f32, shift: f32) {
    let (sv, hv) = (s.splat(scale), s.splat(shift));
    let mut chunks = v.chunks_exact_mut(S::LANES);
    for chunk in &mut chunks {
        let g = s.sigmoid(s.mul_add(s.load(chunk), sv, hv));
        s.store(chunk, g);
    }
    for x in chunks.into_remainder() {
        *x = 1.0 / (1.0 + (-(*x * scale + shift)).exp());
    }
}
