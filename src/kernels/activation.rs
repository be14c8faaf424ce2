//! Element-wise activations and the softmax.

pub fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

pub fn sigmoid_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = sigmoid(*v));
}

/// `max(v, 0)` as PyTorch's ReLU computes it: a NaN stays NaN (`f32::max` would drop it).
#[inline(always)]
pub fn relu(v: f32) -> f32 {
    if v < 0.0 { 0.0 } else { v }
}

/// The larger of `a` and `b`, NaN if either is (as PyTorch's max pooling and `amax` give it;
/// `f32::max` returns the other).
#[inline(always)]
pub fn max_nan(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() { f32::NAN } else { a.max(b) }
}

pub fn relu_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = relu(*v));
}

/// Numerically stable softmax over the whole slice.
pub fn softmax_in_place(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += f64::from(*v);
    }
    let inv = (1.0 / sum) as f32;
    values.iter_mut().for_each(|v| *v *= inv);
}
