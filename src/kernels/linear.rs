//! 1x1 convolutions (matrix products over channels) and layout changes.

/// `out[o, p] = bias[o] + sum_c weight[o, c] * x[c, p]` for `x` of shape `(cin, positions)`.
/// `weight` is `(cout, cin)` (a `(cout, cin, 1, 1)` conv weight read flat). Returns `(cout, positions)`.
pub fn conv1x1(weight: &[f32], bias: Option<&[f32]>, x: &[f32], cin: usize, positions: usize) -> Vec<f32> {
    debug_assert_eq!(x.len(), cin * positions);
    debug_assert_eq!(weight.len() % cin, 0);
    let cout = weight.len() / cin;
    let mut out = vec![0.0f32; cout * positions];
    for (o, row) in out.chunks_exact_mut(positions).enumerate() {
        row.fill(bias.map_or(0.0, |b| b[o]));
        for (c, x_row) in x.chunks_exact(positions).enumerate() {
            let w = weight[o * cin + c];
            row.iter_mut().zip(x_row).for_each(|(acc, &xv)| *acc += w * xv);
        }
    }
    out
}

/// `(rows, cols)` row-major to `(cols, rows)` row-major.
pub fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    debug_assert_eq!(x.len(), rows * cols);
    let mut out = vec![0.0f32; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    out
}
