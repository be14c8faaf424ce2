//! Reductions over space or over channels, and 2x2 max pooling.

/// Mean of each channel over its positions: `(C, N)` to `(C)`.
pub fn mean_per_channel(x: &[f32], positions: usize) -> Vec<f32> {
    x.chunks_exact(positions).map(|ch| (ch.iter().map(|&v| f64::from(v)).sum::<f64>() / positions as f64) as f32).collect()
}

/// Maximum of each channel over its positions: `(C, N)` to `(C)`.
pub fn max_per_channel(x: &[f32], positions: usize) -> Vec<f32> {
    x.chunks_exact(positions).map(|ch| ch.iter().copied().fold(f32::NEG_INFINITY, super::activation::max_nan)).collect()
}

/// Mean and maximum over channels at every position: `(C, N)` to two `(N)` maps.
pub fn mean_and_max_over_channels(x: &[f32], positions: usize) -> (Vec<f32>, Vec<f32>) {
    let channels = x.len() / positions;
    let mut sum = vec![0.0f64; positions];
    let mut max = vec![f32::NEG_INFINITY; positions];
    for ch in x.chunks_exact(positions) {
        for ((s, m), &v) in sum.iter_mut().zip(max.iter_mut()).zip(ch) {
            *s += f64::from(v);
            *m = super::activation::max_nan(*m, v);
        }
    }
    let mean = sum.iter().map(|&s| (s / channels as f64) as f32).collect();
    (mean, max)
}

/// 2x2 max pooling with stride 2 on `(C, H, W)`; an odd last row or column is dropped, as in
/// PyTorch's `MaxPool2d(2)`. Returns the pooled map and its `(H/2, W/2)`.
pub fn max_pool_2x2(x: &[f32], height: usize, width: usize) -> (Vec<f32>, usize, usize) {
    let (ph, pw) = (height / 2, width / 2);
    let channels = x.len() / (height * width);
    let mut out = Vec::with_capacity(channels * ph * pw);
    for ch in x.chunks_exact(height * width) {
        for y in 0..ph {
            for xx in 0..pw {
                let at = |dy: usize, dx: usize| ch[(2 * y + dy) * width + 2 * xx + dx];
                let max = super::activation::max_nan;
                out.push(max(max(at(0, 0), at(0, 1)), max(at(1, 0), at(1, 1))));
            }
        }
    }
    (out, ph, pw)
}
