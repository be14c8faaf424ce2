//! Query-key attention without the N x N matrix.
//!
//! [`Affinity`] describes how query `i` weighs key `j`; [`Affinity::attend`] computes
//! `out_i = sum_j f(i, j) v_j` tile by tile (a flash-attention style online softmax where `f` is a
//! softmax), so memory stays `O(N * C)` plus one small tile. [`Affinity::row`] gives the weights of
//! one query, which is what the playground draws when a user clicks a pixel; [`Affinity::matrix`]
//! builds the whole matrix only when a caller asks for it.

/// Queries that sweep one tile of keys and values while it is in cache, and keys per tile.
const QUERY_TILE: usize = 16;
const KEY_TILE: usize = 128;

/// The pairwise function `f(i, j)`, normalised over the keys `j`.
///
/// Queries and keys are position-major: `queries` is `(num_queries, dim)`, `keys` `(num_keys, dim)`.
#[derive(Debug, Clone, Copy)]
pub enum Affinity<'a> {
    /// `softmax_j(scale * q_i . k_j)`: embedded Gaussian, Gaussian, multi-head attention.
    Softmax { queries: &'a [f32], keys: &'a [f32], dim: usize, scale: f32 },
    /// `(q_i . k_j) / num_keys`: Non-local's dot-product form.
    DotMean { queries: &'a [f32], keys: &'a [f32], dim: usize },
    /// `relu(a_i + b_j) / num_keys`: Non-local's concatenation form, after `w . [theta_i; phi_j]`
    /// is split into a query term `a_i = w_theta . theta_i` and a key term `b_j = w_phi . phi_j`.
    ConcatReluMean { query_terms: &'a [f32], key_terms: &'a [f32] },
}

impl Affinity<'_> {
    pub fn num_queries(&self) -> usize {
        match *self {
            Affinity::Softmax { queries, dim, .. } | Affinity::DotMean { queries, dim, .. } => queries.len() / dim,
            Affinity::ConcatReluMean { query_terms, .. } => query_terms.len(),
        }
    }

    pub fn num_keys(&self) -> usize {
        match *self {
            Affinity::Softmax { keys, dim, .. } | Affinity::DotMean { keys, dim, .. } => keys.len() / dim,
            Affinity::ConcatReluMean { key_terms, .. } => key_terms.len(),
        }
    }

    fn is_softmax(&self) -> bool {
        matches!(self, Affinity::Softmax { .. })
    }

    /// Scores of query `i` against keys `k0..k0 + out.len()`: logits for the softmax form, final
    /// weights for the others.
    fn scores(&self, i: usize, k0: usize, out: &mut [f32]) {
        match *self {
            Affinity::Softmax { queries, keys, dim, scale } => {
                let q = &queries[i * dim..(i + 1) * dim];
                for (j, s) in out.iter_mut().enumerate() {
                    *s = scale * dot(q, &keys[(k0 + j) * dim..(k0 + j + 1) * dim]);
                }
            }
            Affinity::DotMean { queries, keys, dim } => {
                let inv = 1.0 / self.num_keys() as f32;
                let q = &queries[i * dim..(i + 1) * dim];
                for (j, s) in out.iter_mut().enumerate() {
                    *s = dot(q, &keys[(k0 + j) * dim..(k0 + j + 1) * dim]) * inv;
                }
            }
            Affinity::ConcatReluMean { query_terms, key_terms } => {
                let inv = 1.0 / self.num_keys() as f32;
                let a = query_terms[i];
                for (s, &b) in out.iter_mut().zip(&key_terms[k0..]) {
                    *s = (a + b).max(0.0) * inv;
                }
            }
        }
    }

    /// The scores of query `i` over all keys before they are normalised: `scale * q_i . k_j`
    /// (softmax), `q_i . k_j` (dot product, before `/ num_keys`), `relu(a_i + b_j)`
    /// (concatenation, before `/ num_keys`). [`Affinity::row`] is these, normalised.
    pub fn logits(&self, i: usize) -> Vec<f32> {
        match *self {
            Affinity::Softmax { queries, keys, dim, scale } => {
                let q = &queries[i * dim..(i + 1) * dim];
                keys.chunks_exact(dim).map(|k| scale * dot(q, k)).collect()
            }
            Affinity::DotMean { queries, keys, dim } => {
                let q = &queries[i * dim..(i + 1) * dim];
                keys.chunks_exact(dim).map(|k| dot(q, k)).collect()
            }
            Affinity::ConcatReluMean { query_terms, key_terms } => key_terms.iter().map(|&b| (query_terms[i] + b).max(0.0)).collect(),
        }
    }

    /// The attention weights of query `i` over all keys.
    pub fn row(&self, i: usize) -> Vec<f32> {
        let mut row = vec![0.0; self.num_keys()];
        self.scores(i, 0, &mut row);
        if self.is_softmax() {
            super::activation::softmax_in_place(&mut row);
        }
        row
    }

    /// The whole `(num_queries, num_keys)` matrix. Only for callers that asked for it.
    pub fn matrix(&self) -> Vec<f32> {
        (0..self.num_queries()).flat_map(|i| self.row(i)).collect()
    }

    /// `out_i = sum_j f(i, j) v_j` for `values` of shape `(num_keys, value_dim)`; returns
    /// `(num_queries, value_dim)`. Never holds more than one tile of scores.
    pub fn attend(&self, values: &[f32], value_dim: usize) -> Vec<f32> {
        let (nq, nk) = (self.num_queries(), self.num_keys());
        debug_assert_eq!(values.len(), nk * value_dim);
        let mut out = vec![0.0f32; nq * value_dim];
        let mut scores = [0.0f32; KEY_TILE];
        // Online softmax state per query of the tile: running max and running sum.
        let mut running_max = [f32::NEG_INFINITY; QUERY_TILE];
        let mut running_sum = [0.0f32; QUERY_TILE];
        let softmax = self.is_softmax();

        for q0 in (0..nq).step_by(QUERY_TILE) {
            let tile_queries = QUERY_TILE.min(nq - q0);
            running_max.fill(f32::NEG_INFINITY);
            running_sum.fill(0.0);
            for k0 in (0..nk).step_by(KEY_TILE) {
                let tile_keys = KEY_TILE.min(nk - k0);
                for t in 0..tile_queries {
                    let s = &mut scores[..tile_keys];
                    self.scores(q0 + t, k0, s);
                    let acc = &mut out[(q0 + t) * value_dim..(q0 + t + 1) * value_dim];
                    if softmax {
                        let tile_max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let new_max = running_max[t].max(tile_max);
                        // Rescale what was accumulated under the old maximum.
                        let correction = (running_max[t] - new_max).exp();
                        running_sum[t] *= correction;
                        acc.iter_mut().for_each(|a| *a *= correction);
                        for p in s.iter_mut() {
                            *p = (*p - new_max).exp();
                            running_sum[t] += *p;
                        }
                        running_max[t] = new_max;
                    }
                    for (j, &p) in s.iter().enumerate() {
                        let v = &values[(k0 + j) * value_dim..(k0 + j + 1) * value_dim];
                        acc.iter_mut().zip(v).for_each(|(a, &vv)| *a += p * vv);
                    }
                }
            }
            if softmax {
                for t in 0..tile_queries {
                    let inv = 1.0 / running_sum[t];
                    out[(q0 + t) * value_dim..(q0 + t + 1) * value_dim].iter_mut().for_each(|a| *a *= inv);
                }
            }
        }
        out
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
