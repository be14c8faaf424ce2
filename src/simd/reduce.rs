//! The memory-bound passes of the channel and spatial gates: per-channel statistics, statistics
//! across channels, weighted sums, and the gates applied as the output is written. Each reads
//! its input once. Reductions keep four vector accumulators: one would make every addition wait
//! for the previous one (four cycles), and the lanes make their rounding grow like that of a
//! pairwise sum.
//!
//! Loops here are plain `for` loops, not iterator adapters with closures: an adapter's `fold` may
//! stay a separate function, compiled without the caller's target features, and the vector
//! operations inside it would then be calls instead of instructions.

use super::vector::Simd;
use crate::kernels::activation::Activation;

/// Sum of a slice.
#[inline(always)]
pub fn sum<S: Simd>(s: S, v: &[f32]) -> f32 {
    let mut acc = [s.splat(0.0); 4];
    let mut chunks = v.chunks_exact(4 * S::LANES);
    for chunk in &mut chunks {
        for (i, a) in acc.iter_mut().enumerate() {
            *a = s.add(*a, s.load(&chunk[i * S::LANES..]));
        }
    }
    let mut vectors = chunks.remainder().chunks_exact(S::LANES);
    for chunk in &mut vectors {
        acc[0] = s.add(acc[0], s.load(chunk));
    }
    let mut total = s.sum(s.add(s.add(acc[0], acc[1]), s.add(acc[2], acc[3])));
    for &x in vectors.remainder() {
        total += x;
    }
    total
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
    let (mut total, mut max) = ([s.splat(0.0); 4], [s.splat(f32::NEG_INFINITY); 4]);
    let mut chunks = v.chunks_exact(4 * S::LANES);
    for chunk in &mut chunks {
        for i in 0..4 {
            let x = s.load(&chunk[i * S::LANES..]);
            total[i] = s.add(total[i], x);
            max[i] = s.max(max[i], x);
        }
    }
    let mut vectors = chunks.remainder().chunks_exact(S::LANES);
    for chunk in &mut vectors {
        let x = s.load(chunk);
        total[0] = s.add(total[0], x);
        max[0] = s.max(max[0], x);
    }
    let mut sum = s.sum(s.add(s.add(total[0], total[1]), s.add(total[2], total[3])));
    let mut largest = s.max_lane(s.max(s.max(max[0], max[1]), s.max(max[2], max[3])));
    for &x in vectors.remainder() {
        sum += x;
        largest = largest.max(x);
    }
    // A NaN anywhere makes the sum NaN; the maximum is then NaN too, as PyTorch's amax gives it.
    if sum.is_nan() && v.iter().any(|x| x.is_nan()) {
        largest = f32::NAN;
    }
    (sum, largest)
}

/// `sum_p a[p] b[p]` over the length of `a` (`b` at least as long).
#[inline(always)]
pub fn dot<S: Simd>(s: S, a: &[f32], b: &[f32]) -> f32 {
    let b = &b[..a.len()];
    let mut acc = [s.splat(0.0); 4];
    let step = 4 * S::LANES;
    let whole = a.len() / step * step;
    for p in (0..whole).step_by(step) {
        let (x, y) = (&a[p..p + step], &b[p..p + step]);
        for (i, acc) in acc.iter_mut().enumerate() {
            *acc = s.mul_add(s.load(&x[i * S::LANES..]), s.load(&y[i * S::LANES..]), *acc);
        }
    }
    let mut p = whole;
    while p + S::LANES <= a.len() {
        acc[0] = s.mul_add(s.load(&a[p..]), s.load(&b[p..]), acc[0]);
        p += S::LANES;
    }
    let mut total = s.sum(s.add(s.add(acc[0], acc[1]), s.add(acc[2], acc[3])));
    for p in p..a.len() {
        total += a[p] * b[p];
    }
    total
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
            max[p] = crate::kernels::activation::max_nan(max[p], v);
        }
    }
    // The vector max drops a NaN (Simd::max); a NaN anywhere makes the sum NaN, and there the
    // maximum is taken again as PyTorch's amax takes it (NaN if any value is).
    for p in (0..positions).filter(|&p| sum[p].is_nan()) {
        max[p] = x.chunks_exact(positions).zip(gate).map(|(ch, &g)| ch[p] * g).fold(f32::NEG_INFINITY, crate::kernels::activation::max_nan);
    }
    let inv = 1.0 / gate.len() as f32;
    scale_in_place(s, &mut sum, inv);
    (sum, max)
}

/// `x[c, p] * channel[c] * spatial[p]`; `spatial` may be absent.
///
/// The output grows by a few vectors at a time from a buffer on the stack instead of being
/// allocated zeroed and overwritten: the zeroing was a fifth of SE's time.
#[inline(always)]
pub fn apply_gates<S: Simd>(s: S, x: &[f32], channel: &[f32], spatial: Option<&[f32]>, positions: usize) -> Vec<f32> {
    const STAGED: usize = 64;
    let step = STAGED / S::LANES * S::LANES;
    let mut out = Vec::with_capacity(x.len());
    let mut staged = [0.0f32; STAGED];
    for (src, &g) in x.chunks_exact(positions).zip(channel) {
        let gv = s.splat(g);
        let mut p = 0;
        while p + step <= positions {
            for i in (0..step).step_by(S::LANES) {
                let v = s.mul(s.load(&src[p + i..]), gv);
                let v = match spatial {
                    Some(sp) => s.mul(v, s.load(&sp[p + i..])),
                    None => v,
                };
                s.store(&mut staged[i..], v);
            }
            out.extend_from_slice(&staged[..step]);
            p += step;
        }
        for p in p..positions {
            out.push(src[p] * g * spatial.map_or(1.0, |sp| sp[p]));
        }
    }
    out
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

/// `v = f(v)` lane by lane, `g` for the remainder.
#[inline(always)]
fn map_in_place<S: Simd>(s: S, v: &mut [f32], f: impl Fn(S::V) -> S::V, g: impl Fn(f32) -> f32) {
    let mut chunks = v.chunks_exact_mut(S::LANES);
    for chunk in &mut chunks {
        let y = f(s.load(chunk));
        s.store(chunk, y);
    }
    chunks.into_remainder().iter_mut().for_each(|x| *x = g(*x));
}

/// `v = act(v)`, vectorised (GELU's error function lane by lane, as defined).
#[inline(always)]
pub fn pointwise_in_place<S: Simd>(s: S, v: &mut [f32], act: Activation) {
    let (zero, three, six) = (s.splat(0.0), s.splat(3.0), s.splat(6.0));
    // The bound first: a NaN passes through (Simd::max), as PyTorch's ReLU and clamps pass it.
    let relu6 = move |x: S::V| s.min(six, s.max(zero, x));
    let g = move |x: f32| act.apply(x);
    match act {
        Activation::Identity => {}
        Activation::Gelu => act.apply_in_place(v),
        Activation::Relu => map_in_place(s, v, |x| s.max(zero, x), g),
        Activation::Relu6 => map_in_place(s, v, relu6, g),
        Activation::Silu => map_in_place(s, v, |x| s.mul(x, s.sigmoid(x)), g),
        Activation::HardSwish => map_in_place(s, v, |x| s.div(s.mul(x, relu6(s.add(x, three))), six), g),
        Activation::HardSigmoid => map_in_place(s, v, |x| s.div(relu6(s.add(x, three)), six), g),
        Activation::Sigmoid => map_in_place(s, v, |x| s.sigmoid(x), g),
    }
}
