//! Query-key attention, fused: scores, online softmax and the weighted sum of values in one pass
//! over the keys, a tile at a time, so the N x N matrix never exists.
//!
//! Queries run along the vector lanes. A tile of `QUERY_VECTORS` vectors of queries sweeps the
//! keys `KEYS` at a time, in three register-blocked steps per key tile:
//!
//! 1. scores `(keys, queries)`: each key's channels are broadcast against the queries' vectors;
//! 2. the online softmax down each lane: per-query maxima and sums are plain vectors, with no
//!    horizontal reduction anywhere, in base 2 (the queries carry `scale * log2(e)`);
//! 3. the weighted sum `(value channels, queries)`: each value broadcast against the weights.
//!
//! Every operand is channel-major, as the 1x1 convolutions write them: queries `(dim, nq)`,
//! keys `(dim, nk)`, values `(value_dim, nk)`, and the output `(value_dim, nq)`. Keys are
//! broadcast, never loaded as vectors, so any number of keys needs no tail code; the last
//! query tile is padded with zero queries whose results are dropped.

use super::vector::{Simd, broadcast_mul_add};

/// Vectors of queries per tile.
const QUERY_VECTORS: usize = 2;
/// Keys per tile: the tile's scores stay in L1 between the three steps.
const KEYS: usize = 64;

/// How a query weighs a key.
#[derive(Debug, Clone, Copy)]
pub enum Weighting {
    /// `softmax_j(scale * q_i . k_j)`.
    Softmax { scale: f32 },
    /// `(q_i . k_j) / nk` (Non-local's dot-product form).
    Mean,
}

pub struct AttentionInput<'a> {
    /// `(dim, nq)`.
    pub queries: &'a [f32],
    /// `(dim, nk)`.
    pub keys: &'a [f32],
    /// `(value_dim, nk)`.
    pub values: &'a [f32],
    pub dim: usize,
    pub value_dim: usize,
    pub weighting: Weighting,
}

impl AttentionInput<'_> {
    fn num_queries(&self) -> usize {
        self.queries.len() / self.dim
    }

    fn num_keys(&self) -> usize {
        self.keys.len() / self.dim
    }
}

/// [`in_blocks`] with the block size of both products: as many keys or value channels as leave
/// registers for the sums (AVX-512 has 32, AVX2 16; wasm engines keep fewer of the 16 free;
/// measured: 6 is slower than 4 in wasm, 4 slower than 6 on AVX2).
macro_rules! register_blocks {
    ($S:ty, $n:expr, |$start:ident, $size:ident| $body:expr) => {
        match <$S>::LANES {
            16.. => in_blocks!($n, 8, |$start, $size| $body),
            8 => in_blocks!($n, 6, |$start, $size| $body),
            _ => in_blocks!($n, 4, |$start, $size| $body),
        }
    };
}

/// `out = attention(queries, keys) values`, `(value_dim, nq)`.
#[inline(always)]
pub fn attend<S: Simd>(s: S, a: &AttentionInput, out: &mut [f32]) {
    let (nq, d, dv) = (a.num_queries(), a.dim, a.value_dim);
    debug_assert_eq!(out.len(), nq * dv);
    let width = QUERY_VECTORS * S::LANES;
    // Key-major values put a key's value channels side by side, where a value block
    // broadcasts them from; the copy is `1 / nq` of the work.
    let values_by_key = crate::kernels::linear::transpose(a.values, dv, a.num_keys());
    let mut tile = Tile {
        width,
        queries: vec![0.0; d * width],
        scores: vec![0.0; KEYS * width],
        acc: vec![0.0; dv * width],
        max: vec![0.0; width],
        sum: vec![0.0; width],
        inverse: vec![0.0; width],
    };
    for q0 in (0..nq).step_by(width) {
        let valid = width.min(nq - q0);
        tile.start(a, q0, valid);
        for k0 in (0..a.num_keys()).step_by(KEYS) {
            let tk = KEYS.min(a.num_keys() - k0);
            tile.scores(s, a, k0, tk);
            if let Weighting::Softmax { .. } = a.weighting {
                tile.softmax(s, tk);
            }
            tile.accumulate_values(s, &values_by_key, dv, k0, tk);
        }
        tile.finish(s, a, q0, valid, out);
    }
}

/// One tile of `width` queries: its scratch, all `(rows, width)`.
struct Tile {
    width: usize,
    /// The tile's queries `(dim, width)`, scaled by `scale * log2(e)` for the softmax.
    queries: Vec<f32>,
    /// `(KEYS, width)`: the key tile's scores, then their weights.
    scores: Vec<f32>,
    /// `(value_dim, width)`: the running weighted sums.
    acc: Vec<f32>,
    /// The running maximum (base 2) and sum of the softmax, per query.
    max: Vec<f32>,
    sum: Vec<f32>,
    /// `1 / sum` (or `1 / nk`) per query, for the output.
    inverse: Vec<f32>,
}

impl Tile {
    /// Copies queries `q0..q0 + valid` in (zeros after them) and clears the sums.
    #[inline(always)]
    fn start(&mut self, a: &AttentionInput, q0: usize, valid: usize) {
        let nq = a.num_queries();
        let factor = match a.weighting {
            Weighting::Softmax { scale } => scale * std::f32::consts::LOG2_E,
            Weighting::Mean => 1.0,
        };
        for (row, src) in self.queries.chunks_exact_mut(self.width).zip(a.queries.chunks_exact(nq)) {
            for (q, &x) in row[..valid].iter_mut().zip(&src[q0..q0 + valid]) {
                *q = x * factor;
            }
            row[valid..].fill(0.0);
        }
        self.acc.fill(0.0);
        self.max.fill(f32::NEG_INFINITY);
        self.sum.fill(0.0);
    }

    /// `scores[j, :] = k_{k0+j} . queries` for `j < tk`, a block of keys at a time.
    #[inline(always)]
    fn scores<S: Simd>(&mut self, s: S, a: &AttentionInput, k0: usize, tk: usize) {
        register_blocks!(S, tk, |j, B| self.score_block::<S, B>(s, a, k0 + j, j));
    }

    /// Scores of keys `key..key + B` against the tile, into score rows `row..row + B`: `B` by
    /// `QUERY_VECTORS` sums in registers, one broadcast key channel per `QUERY_VECTORS` products.
    #[inline(always)]
    fn score_block<S: Simd, const B: usize>(&mut self, s: S, a: &AttentionInput, key: usize, row: usize) {
        let (nk, w) = (a.num_keys(), self.width);
        let mut sums = [[s.splat(0.0); QUERY_VECTORS]; B];
        for (q, keys) in self.queries.chunks_exact(w).zip(a.keys.chunks_exact(nk)) {
            let keys: &[f32; B] = keys[key..key + B].try_into().expect("B keys");
            broadcast_mul_add(s, &mut sums, [s.load(q), s.load(&q[S::LANES..])], keys);
        }
        for (b, sum) in sums.iter().enumerate() {
            let dst = &mut self.scores[(row + b) * w..(row + b + 1) * w];
            s.store(dst, sum[0]);
            s.store(&mut dst[S::LANES..], sum[1]);
        }
    }

    /// The online softmax over the tile's `tk` score rows, lane by lane: the new maximum, the
    /// sums and weighted sums so far rescaled to it, and the scores replaced by `2^(s - max)`.
    #[inline(always)]
    fn softmax<S: Simd>(&mut self, s: S, tk: usize) {
        let w = self.width;
        for lane in (0..w).step_by(S::LANES) {
            let column = |j: usize| j * w + lane;
            let mut tile_max = s.load(&self.scores[column(0)..]);
            for j in 1..tk {
                tile_max = s.max(tile_max, s.load(&self.scores[column(j)..]));
            }
            let old_max = s.load(&self.max[lane..]);
            let new_max = s.max(old_max, tile_max);
            // What was summed under the old maximum, rescaled (2^-inf = 0 on the first tile).
            let correction = s.exp2(s.sub(old_max, new_max));
            for row in self.acc.chunks_exact_mut(w) {
                let scaled = s.mul(s.load(&row[lane..]), correction);
                s.store(&mut row[lane..], scaled);
            }
            let mut sum = s.mul(s.load(&self.sum[lane..]), correction);
            for j in 0..tk {
                let p = s.exp2(s.sub(s.load(&self.scores[column(j)..]), new_max));
                sum = s.add(sum, p);
                s.store(&mut self.scores[column(j)..], p);
            }
            s.store(&mut self.max[lane..], new_max);
            s.store(&mut self.sum[lane..], sum);
        }
    }

    /// `acc[c, :] += sum_j weights[j, :] v[k0 + j, c]` for values `(nk, dv)`, a block of value
    /// channels at a time.
    #[inline(always)]
    fn accumulate_values<S: Simd>(&mut self, s: S, values: &[f32], dv: usize, k0: usize, tk: usize) {
        let values = &values[k0 * dv..(k0 + tk) * dv];
        register_blocks!(S, dv, |c, B| self.value_block::<S, B>(s, values, dv, c));
    }

    /// Value channels `c0..c0 + B`: `B` by `QUERY_VECTORS` sums in registers across the tile's
    /// keys, one broadcast value per `QUERY_VECTORS` products.
    #[inline(always)]
    fn value_block<S: Simd, const B: usize>(&mut self, s: S, values: &[f32], dv: usize, c0: usize) {
        let w = self.width;
        let acc = &mut self.acc[c0 * w..(c0 + B) * w];
        let mut sums = [[s.splat(0.0); QUERY_VECTORS]; B];
        for (sum, row) in sums.iter_mut().zip(acc.chunks_exact(w)) {
            *sum = [s.load(row), s.load(&row[S::LANES..])];
        }
        for (weights, key_values) in self.scores.chunks_exact(w).zip(values.chunks_exact(dv)) {
            let key_values: &[f32; B] = key_values[c0..c0 + B].try_into().expect("B values");
            broadcast_mul_add(s, &mut sums, [s.load(weights), s.load(&weights[S::LANES..])], key_values);
        }
        for (sum, row) in sums.iter().zip(acc.chunks_exact_mut(w)) {
            s.store(row, sum[0]);
            s.store(&mut row[S::LANES..], sum[1]);
        }
    }

    /// `out[c, q0 + i] = acc[c, i] / sum[i]` (or `/ nk` for the mean) for the valid queries.
    #[inline(always)]
    fn finish<S: Simd>(&mut self, s: S, a: &AttentionInput, q0: usize, valid: usize, out: &mut [f32]) {
        let (nq, w) = (a.num_queries(), self.width);
        for lane in (0..w).step_by(S::LANES) {
            let total = match a.weighting {
                Weighting::Softmax { .. } => s.load(&self.sum[lane..]),
                Weighting::Mean => s.splat(a.num_keys() as f32),
            };
            s.store(&mut self.inverse[lane..], s.div(s.splat(1.0), total));
        }
        for (row, dst) in self.acc.chunks_exact_mut(w).zip(out.chunks_exact_mut(nq)) {
            for lane in (0..w).step_by(S::LANES) {
                let normalised = s.mul(s.load(&row[lane..]), s.load(&self.inverse[lane..]));
                s.store(&mut row[lane..], normalised);
            }
            dst[q0..q0 + valid].copy_from_slice(&row[..valid]);
        }
    }
}
