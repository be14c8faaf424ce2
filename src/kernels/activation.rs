//! Element-wise activations and the softmax.

pub fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

pub fn sigmoid_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = sigmoid(*v));
}

pub fn relu_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = v.max(0.0));
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
