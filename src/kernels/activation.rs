//! Element-wise activations and the softmax: the one definition of each (the SIMD kernels
//! vectorise these, `activations.wgsl` mirrors them on the GPU under [`Activation::code`]).

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
    // A NaN logit makes every probability NaN, as in PyTorch (`f32::max` would skip it).
    let max = values.iter().copied().fold(f32::NEG_INFINITY, max_nan);
    let mut sum = 0.0f64;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += f64::from(*v);
    }
    let inv = (1.0 / sum) as f32;
    values.iter_mut().for_each(|v| *v *= inv);
}

/// The activation functions of the families, as PyTorch defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
    Relu6,
    /// `x * sigmoid(x)` (PyTorch `SiLU`, timm's `swish`).
    Silu,
    /// `x * relu6(x + 3) / 6` (PyTorch `Hardswish`).
    HardSwish,
    /// `relu6(x + 3) / 6` (PyTorch `Hardsigmoid`).
    HardSigmoid,
    /// `x * Φ(x)` with the exact normal CDF (PyTorch `GELU()`, approximate='none').
    Gelu,
    Sigmoid,
}

impl Activation {
    /// Every activation, for the tests that check each one on every path.
    pub const ALL: [Activation; 8] = [
        Activation::Identity,
        Activation::Relu,
        Activation::Relu6,
        Activation::Silu,
        Activation::HardSwish,
        Activation::HardSigmoid,
        Activation::Gelu,
        Activation::Sigmoid,
    ];

    /// The name a reader knows it by: `ReLU`, `SiLU`, `hard-sigmoid`, ...
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "ReLU",
            Activation::Relu6 => "ReLU6",
            Activation::Silu => "SiLU",
            Activation::HardSwish => "hard-swish",
            Activation::HardSigmoid => "hard-sigmoid",
            Activation::Gelu => "GELU",
            Activation::Sigmoid => "sigmoid",
        }
    }

    /// The code `activations.wgsl` (and `conv1x1.wgsl`, for identity and ReLU) switches on.
    pub fn code(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::Relu6 => 2,
            Activation::Silu => 3,
            Activation::HardSwish => 4,
            Activation::HardSigmoid => 5,
            Activation::Gelu => 6,
            Activation::Sigmoid => 7,
        }
    }

    pub fn apply(self, v: f32) -> f32 {
        match self {
            Activation::Identity => v,
            Activation::Relu => relu(v),
            Activation::Relu6 => v.clamp(0.0, 6.0),
            Activation::Silu => v / (1.0 + (-v).exp()),
            Activation::HardSwish => v * (v + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::HardSigmoid => (v + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::Gelu => 0.5 * v * (1.0 + erf(v / std::f32::consts::SQRT_2)),
            Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        }
    }

    pub fn apply_in_place(self, values: &mut [f32]) {
        if self != Activation::Identity {
            values.iter_mut().for_each(|v| *v = self.apply(*v));
        }
    }
}

/// The error function, to float32 precision (Abramowitz and Stegun 7.1.26 is too coarse for
/// GELU's exactness; this is the complementary-error-function series of Numerical Recipes'
/// `erfc` Chebyshev fit, relative error below 1.2e-7, evaluated in f64).
fn erf(x: f32) -> f32 {
    let z = f64::from(x).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let r = 1.0 - erfc;
    (if x >= 0.0 { r } else { -r }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_a_nan_makes_every_value_nan_as_in_pytorch() {
        let mut p = [1.0f32, 2.0, 3.0];
        softmax_in_place(&mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6 && p[2] > p[1] && p[1] > p[0]);
        for at in 0..3 {
            let mut q = [1.0f32, 2.0, 3.0];
            q[at] = f32::NAN;
            softmax_in_place(&mut q);
            assert!(q.iter().all(|v| v.is_nan()), "NaN at {at}: {q:?}");
        }
    }
}
