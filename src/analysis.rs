//! Is Non-local attention the same for every query? Cao et al. (2019, "GCNet: Non-local Networks
//! Meet Squeeze-Excitation and Beyond", section 3) found that the attention maps of different query
//! positions in a trained Non-local block are nearly the same, and built the GC block on that: one
//! query-independent map (its context weights) for every position. This measures it on the
//! current input: the attention rows of a grid of queries and the mean Jensen-Shannon divergence
//! between every pair of them, in bits: 0 when every query attends the same way (what GC assumes),
//! 1 when any two queries attend to disjoint positions (a one-hot attention on each query itself).

use crate::backend::AnyBackend;
use crate::blocks::Block;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The rows of a `side x side` grid of queries and how much they differ.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryIndependence {
    /// Queries per side of the grid.
    pub side: usize,
    /// `(height, width)` of the block's input, on which the queries lie.
    pub grid: (usize, usize),
    /// The query positions (row-major on the block's input grid), row by row of the grid.
    pub queries: Vec<usize>,
    /// Each query's row: `(heads, Hk, Wk)` (one head for Non-local).
    pub rows: Vec<Tensor>,
    /// Per head, the mean Jensen-Shannon divergence in bits over every pair of queries.
    pub js_bits: Vec<f64>,
}

/// The Jensen-Shannon divergence of two distributions in bits (base-2 logarithm), in `[0, 1]`.
pub fn js_divergence_bits(p: &[f32], q: &[f32]) -> f64 {
    let mut sum = 0.0f64;
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (f64::from(a), f64::from(b));
        let m = 0.5 * (a + b);
        if a > 0.0 {
            sum += 0.5 * a * (a / m).log2();
        }
        if b > 0.0 {
            sum += 0.5 * b * (b / m).log2();
        }
    }
    sum.clamp(0.0, 1.0)
}

/// The mean [`js_divergence_bits`] over every pair of `rows` (0 for fewer than two).
pub fn mean_pairwise_js_bits(rows: &[&[f32]]) -> f64 {
    let mut total = 0.0;
    let mut pairs = 0usize;
    for (i, p) in rows.iter().enumerate() {
        for q in &rows[i + 1..] {
            total += js_divergence_bits(p, q);
            pairs += 1;
        }
    }
    if pairs == 0 { 0.0 } else { total / pairs as f64 }
}

/// The query positions of a `side x side` grid over an `height x width` map: each cell's centre.
pub fn grid_queries(side: usize, height: usize, width: usize) -> Vec<usize> {
    let at = |i: usize, n: usize| ((2 * i + 1) * n / (2 * side)).min(n - 1);
    (0..side).flat_map(|gy| (0..side).map(move |gx| at(gy, height) * width + at(gx, width))).collect()
}

/// Measures `block` (Non-local or MHSA) on its input `x` `(1, C, H, W)` with a `side x side`
/// grid of queries, on `backend`. Fails for a block without attention rows and for rows that are
/// no distributions (the dot-product and concatenation forms of Non-local divide by N' instead of
/// taking a softmax, so their rows are not).
pub async fn query_independence(backend: &AnyBackend, block: &Block, x: &Tensor, side: usize) -> Result<QueryIndependence> {
    let dims = x.dims4()?;
    if side == 0 || side > dims.h.min(dims.w) {
        return Err(Error::BadOption { option: "side", reason: format!("{side} queries a side do not fit a {} x {} map", dims.w, dims.h) });
    }
    let queries = grid_queries(side, dims.h, dims.w);
    let mut rows = Vec::with_capacity(queries.len());
    for &query in &queries {
        let row = backend.attention_row(block, x, query).await?.row;
        // (1, Hk, Wk) for Non-local, (1, heads, H, W) for MHSA: as (heads, keys).
        let shape = row.shape();
        let heads = if shape.len() == 4 { shape[1] } else { 1 };
        let keys = row.data().len() / heads;
        for head in row.data().chunks_exact(keys) {
            let total: f32 = head.iter().sum();
            if head.iter().any(|&v| v < 0.0) || (total - 1.0).abs() > 1e-3 {
                return Err(Error::BadOption {
                    option: "block",
                    reason: "its attention rows are not distributions (the dot-product and concatenation forms divide by N' \
                        instead of taking a softmax): the measure is for softmax attention"
                        .into(),
                });
            }
        }
        let out_shape = if shape.len() == 4 { shape[1..].to_vec() } else { vec![1, shape[1], shape[2]] };
        rows.push(Tensor::new(out_shape, row.into_data()).expect("a row of its shape"));
    }
    let heads = rows[0].shape()[0];
    let keys = rows[0].data().len() / heads;
    let js_bits = (0..heads)
        .map(|h| {
            let per_query: Vec<&[f32]> = rows.iter().map(|r| &r.data()[h * keys..(h + 1) * keys]).collect();
            mean_pairwise_js_bits(&per_query)
        })
        .collect();
    Ok(QueryIndependence { side, grid: (dims.h, dims.w), queries, rows, js_bits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_divergence_is_0_for_the_same_rows_1_for_disjoint_ones_and_symmetric() {
        let uniform = [0.25f32; 4];
        assert_eq!(js_divergence_bits(&uniform, &uniform), 0.0);
        let (a, b) = ([1.0f32, 0.0, 0.0, 0.0], [0.0f32, 1.0, 0.0, 0.0]);
        assert!((js_divergence_bits(&a, &b) - 1.0).abs() < 1e-12, "one-hot rows on different positions: 1 bit");
        let (p, q) = ([0.7f32, 0.2, 0.1, 0.0], [0.1f32, 0.3, 0.3, 0.3]);
        assert!((js_divergence_bits(&p, &q) - js_divergence_bits(&q, &p)).abs() < 1e-12);
        // Against a hand computation: M = (0.4, 0.25, 0.2, 0.15).
        let m = [0.4f64, 0.25, 0.2, 0.15];
        let kl =
            |x: &[f32]| x.iter().zip(&m).filter(|(v, _)| **v > 0.0).map(|(&v, &m)| f64::from(v) * (f64::from(v) / m).log2()).sum::<f64>();
        // (The f32 inputs are 0.7, 0.1, ... to 1e-8, so the two agree to about that.)
        assert!((js_divergence_bits(&p, &q) - 0.5 * (kl(&p) + kl(&q))).abs() < 1e-6);
        // Every query attending only to itself: every pair disjoint.
        let rows: Vec<[f32; 4]> = (0..4).map(|i| std::array::from_fn(|j| f32::from(u8::from(i == j)))).collect();
        let refs: Vec<&[f32]> = rows.iter().map(|r| &r[..]).collect();
        assert!((mean_pairwise_js_bits(&refs) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_grid_queries_are_cell_centres() {
        assert_eq!(grid_queries(2, 4, 4), vec![5, 7, 13, 15]);
        assert_eq!(grid_queries(1, 5, 7), vec![2 * 7 + 3]);
    }
}
