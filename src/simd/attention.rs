//! Query-key attention, fused: scores, online softmax and the weighted sum of values in one pass
//! over the keys, a tile at a time, so the N x N matrix never exists.
//!
//! Layouts are chosen so every inner loop runs along contiguous memory: queries position-major
//! `(nq, d)` (one query's vector is broadcast lane by lane), keys and values channel-major
//! `(d, nk)`, `(dv, nk)`, as the 1x1 convolutions write them (a vector of keys per channel). The
//! weighted sum of values runs along value channels when they fill a vector (the values are
//! transposed once for it), else along keys, with one horizontal sum per tile. The output is
//! position-major `(nq, dv)`.

use super::reduce::scale_in_place;
use super::vector::Simd;

/// Queries sharing one pass over a key tile.
const QUERIES: usize = 4;
/// Keys per tile: the tile's keys and values stay in L1/L2 while the queries sweep it.
const KEYS: usize = 128;

/// How a query weighs a key.
#[derive(Debug, Clone, Copy)]
pub enum Weighting {
    /// `softmax_j(scale * q_i . k_j)`.
    Softmax { scale: f32 },
    /// `(q_i . k_j) / nk` (Non-local's dot-product form).
    Mean,
}

pub struct AttentionInput<'a> {
    /// `(nq, dim)`.
    pub queries: &'a [f32],
    /// `(dim, nk)`.
    pub keys: &'a [f32],
    /// `(value_dim, nk)`.
    pub values: &'a [f32],
    pub dim: usize,
    pub value_dim: usize,
    pub weighting: Weighting,
}

#[inline(always)]
pub fn attend<S: Simd>(s: S, a: &AttentionInput, out: &mut [f32]) {
    let nq = a.queries.len() / a.dim;
    let dv = a.value_dim;
    debug_assert_eq!(out.len(), nq * dv);
    let nk = a.values.len() / dv.max(1);
    let values_by_key = (dv >= S::LANES).then(|| crate::kernels::linear::transpose(a.values, dv, nk));
    let values = match &values_by_key {
        Some(by_key) => Values::ByKey(by_key),
        None => Values::ByChannel(a.values),
    };
    let mut work = Work { scores: vec![0.0; QUERIES * KEYS], acc: vec![0.0; QUERIES * dv], max: [0.0; QUERIES], sum: [0.0; QUERIES] };
    let mut q = 0;
    while q + QUERIES <= nq {
        query_tile::<S, QUERIES>(s, a, values, q, &mut work, out);
        q += QUERIES;
    }
    while q < nq {
        query_tile::<S, 1>(s, a, values, q, &mut work, out);
        q += 1;
    }
}

/// The values in the layout the weighted sum runs along.
#[derive(Clone, Copy)]
enum Values<'a> {
    /// `(nk, dv)`: a vector of value channels per key.
    ByKey(&'a [f32]),
    /// `(dv, nk)`: a vector of keys per value channel.
    ByChannel(&'a [f32]),
}

struct Work {
    /// `(QUERIES, KEYS)` scores of the current tile, then their weights.
    scores: Vec<f32>,
    /// `(QUERIES, dv)` running weighted sums.
    acc: Vec<f32>,
    /// Running maximum and sum of the softmax, per query.
    max: [f32; QUERIES],
    sum: [f32; QUERIES],
}

/// Queries `q..q + R` against every key.
#[inline(always)]
fn query_tile<S: Simd, const R: usize>(s: S, a: &AttentionInput, values: Values, q: usize, work: &mut Work, out: &mut [f32]) {
    let (d, dv) = (a.dim, a.value_dim);
    let nk = a.keys.len() / d;
    work.acc[..R * dv].fill(0.0);
    work.max = [f32::NEG_INFINITY; QUERIES];
    work.sum = [0.0; QUERIES];
    for k0 in (0..nk).step_by(KEYS) {
        let tk = KEYS.min(nk - k0);
        scores::<S, R>(s, a, q, k0, tk, &mut work.scores);
        match a.weighting {
            Weighting::Softmax { scale } => {
                for r in 0..R {
                    let row = &mut work.scores[r * KEYS..r * KEYS + tk];
                    let tile_max = max_of(s, row) * scale;
                    let new_max = work.max[r].max(tile_max);
                    // Rescale what was summed under the old maximum (e^-inf = 0 on the first tile).
                    let correction = (work.max[r] - new_max).exp();
                    work.sum[r] = work.sum[r] * correction + exp_scaled_in_place(s, row, scale, new_max);
                    work.max[r] = new_max;
                    scale_in_place(s, &mut work.acc[r * dv..(r + 1) * dv], correction);
                }
            }
            Weighting::Mean => {
                let inv = 1.0 / nk as f32;
                for r in 0..R {
                    scale_in_place(s, &mut work.scores[r * KEYS..r * KEYS + tk], inv);
                }
            }
        }
        match values {
            Values::ByKey(by_key) => accumulate_values::<S, R>(s, by_key, dv, k0, tk, &work.scores, &mut work.acc),
            Values::ByChannel(by_channel) => accumulate_values_by_channel::<S, R>(s, by_channel, dv, k0, tk, &work.scores, &mut work.acc),
        }
    }
    for r in 0..R {
        let dst = &mut out[(q + r) * dv..(q + r + 1) * dv];
        dst.copy_from_slice(&work.acc[r * dv..(r + 1) * dv]);
        if let Weighting::Softmax { .. } = a.weighting {
            scale_in_place(s, dst, 1.0 / work.sum[r]);
        }
    }
}

/// `scores[r, j] = q_{q+r} . k_{k0+j}` for `j < tk`: two vectors of keys by `R` queries.
#[inline(always)]
fn scores<S: Simd, const R: usize>(s: S, a: &AttentionInput, q: usize, k0: usize, tk: usize, scores: &mut [f32]) {
    let (d, nk) = (a.dim, a.keys.len() / a.dim);
    let query = |r: usize, c: usize| a.queries[(q + r) * d + c];
    let mut j = 0;
    while j + 2 * S::LANES <= tk {
        let mut acc = [[s.splat(0.0); 2]; R];
        for c in 0..d {
            let ks = &a.keys[c * nk + k0 + j..];
            let (k_lo, k_hi) = (s.load(ks), s.load(&ks[S::LANES..]));
            for (r, row) in acc.iter_mut().enumerate() {
                let qv = s.splat(query(r, c));
                row[0] = s.mul_add(qv, k_lo, row[0]);
                row[1] = s.mul_add(qv, k_hi, row[1]);
            }
        }
        for (r, row) in acc.iter().enumerate() {
            s.store(&mut scores[r * KEYS + j..], row[0]);
            s.store(&mut scores[r * KEYS + j + S::LANES..], row[1]);
        }
        j += 2 * S::LANES;
    }
    for j in j..tk {
        for r in 0..R {
            scores[r * KEYS + j] = (0..d).map(|c| query(r, c) * a.keys[c * nk + k0 + j]).sum();
        }
    }
}

/// `acc[r, :] += sum_j weights[r, j] v_{k0+j}` for values `(nk, dv)`, a vector of value
/// channels at a time.
#[inline(always)]
fn accumulate_values<S: Simd, const R: usize>(s: S, values: &[f32], dv: usize, k0: usize, tk: usize, weights: &[f32], acc: &mut [f32]) {
    let mut c = 0;
    while c + 2 * S::LANES <= dv {
        let mut sums = [[s.splat(0.0); 2]; R];
        for (r, row) in sums.iter_mut().enumerate() {
            *row = [s.load(&acc[r * dv + c..]), s.load(&acc[r * dv + c + S::LANES..])];
        }
        for j in 0..tk {
            let vs = &values[(k0 + j) * dv + c..];
            let (v_lo, v_hi) = (s.load(vs), s.load(&vs[S::LANES..]));
            for (r, row) in sums.iter_mut().enumerate() {
                let wv = s.splat(weights[r * KEYS + j]);
                row[0] = s.mul_add(wv, v_lo, row[0]);
                row[1] = s.mul_add(wv, v_hi, row[1]);
            }
        }
        for (r, row) in sums.iter().enumerate() {
            s.store(&mut acc[r * dv + c..], row[0]);
            s.store(&mut acc[r * dv + c + S::LANES..], row[1]);
        }
        c += 2 * S::LANES;
    }
    if c + S::LANES <= dv {
        let mut sums = [s.splat(0.0); R];
        for (r, sum) in sums.iter_mut().enumerate() {
            *sum = s.load(&acc[r * dv + c..]);
        }
        for j in 0..tk {
            let v = s.load(&values[(k0 + j) * dv + c..]);
            for (r, sum) in sums.iter_mut().enumerate() {
                *sum = s.mul_add(s.splat(weights[r * KEYS + j]), v, *sum);
            }
        }
        for (r, &sum) in sums.iter().enumerate() {
            s.store(&mut acc[r * dv + c..], sum);
        }
        c += S::LANES;
    }
    for c in c..dv {
        for r in 0..R {
            acc[r * dv + c] += (0..tk).map(|j| weights[r * KEYS + j] * values[(k0 + j) * dv + c]).sum::<f32>();
        }
    }
}

/// The same for values `(dv, nk)` narrower than a vector: per value channel, a dot product of
/// each query's weights with that channel's values along the keys.
#[inline(always)]
fn accumulate_values_by_channel<S: Simd, const R: usize>(
    s: S,
    values: &[f32],
    dv: usize,
    k0: usize,
    tk: usize,
    weights: &[f32],
    acc: &mut [f32],
) {
    let nk = values.len() / dv;
    let vectors = tk / S::LANES * S::LANES;
    for c in 0..dv {
        let channel = &values[c * nk + k0..c * nk + k0 + tk];
        let mut sums = [s.splat(0.0); R];
        for j in (0..vectors).step_by(S::LANES) {
            let v = s.load(&channel[j..]);
            for (r, sum) in sums.iter_mut().enumerate() {
                *sum = s.mul_add(s.load(&weights[r * KEYS + j..]), v, *sum);
            }
        }
        for (r, &sum) in sums.iter().enumerate() {
            let mut total = s.sum(sum);
            for j in vectors..tk {
                total += weights[r * KEYS + j] * channel[j];
            }
            acc[r * dv + c] += total;
        }
    }
}

#[inline(always)]
fn max_of<S: Simd>(s: S, v: &[f32]) -> f32 {
    let mut chunks = v.chunks_exact(S::LANES);
    let mut m = s.splat(f32::NEG_INFINITY);
    for chunk in &mut chunks {
        m = s.max(m, s.load(chunk));
    }
    chunks.remainder().iter().fold(s.max_lane(m), |acc, &x| acc.max(x))
}

/// `v = e^(scale * v - max)` in place; returns the sum.
#[inline(always)]
fn exp_scaled_in_place<S: Simd>(s: S, v: &mut [f32], scale: f32, max: f32) -> f32 {
    let (scale_v, max_v) = (s.splat(scale), s.splat(max));
    let mut sum = s.splat(0.0);
    let mut chunks = v.chunks_exact_mut(S::LANES);
    for chunk in &mut chunks {
        let e = s.exp(s.mul_add(s.load(chunk), scale_v, s.sub(s.splat(0.0), max_v)));
        sum = s.add(sum, e);
        s.store(chunk, e);
    }
    let mut total = s.sum(sum);
    for x in chunks.into_remainder() {
        *x = (*x * scale - max).exp();
        total += *x;
    }
    total
}
