//! Normalisations in eval form.

/// BatchNorm with running statistics: `(v - mean) / sqrt(var + eps) * weight + bias` per channel.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub running_mean: Vec<f32>,
    pub running_var: Vec<f32>,
}

impl BatchNorm {
    /// PyTorch's default `eps`.
    pub const EPS: f32 = 1e-5;

    /// Channel `c`'s normalisation as one multiply-add: `v * scale + shift`.
    pub fn scale_and_shift(&self, c: usize) -> (f32, f32) {
        let scale = self.weight[c] / (self.running_var[c] + Self::EPS).sqrt();
        (scale, self.bias[c] - self.running_mean[c] * scale)
    }

    /// Applies the normalisation in place to `(C, N)`.
    pub fn apply(&self, x: &mut [f32], positions: usize) {
        for (c, ch) in x.chunks_exact_mut(positions).enumerate() {
            let (scale, shift) = self.scale_and_shift(c);
            ch.iter_mut().for_each(|v| *v = *v * scale + shift);
        }
    }
}

/// LayerNorm over a vector with affine weight and bias (timm `LayerNorm2d` on a 1x1 map).
pub fn layer_norm_in_place(v: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
    let inv = 1.0 / (var + f64::from(eps)).sqrt();
    for ((x, &w), &b) in v.iter_mut().zip(weight).zip(bias) {
        *x = ((f64::from(*x) - mean) * inv) as f32 * w + b;
    }
}
