// The activation functions of whole networks, by code, as PyTorch defines them (the GPU side of
// `crate::layers::Activation`; `layers.rs` gives the codes):
//   0 identity, 1 relu, 2 relu6, 3 silu (x * sigmoid(x)), 4 hardswish (x * relu6(x + 3) / 6),
//   5 hardsigmoid (relu6(x + 3) / 6), 6 gelu (exact: x * Phi(x)), 7 sigmoid.
// A fragment: the shaders that use it are joined after it.

// The logistic function without overflow: exp of a large positive number is not representable
// and WGSL leaves its value undefined, so only exp of a non-positive number is taken.
fn logistic(v: f32) -> f32 {
    if (v >= 0.0) {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

// The error function from the complementary error function's Chebyshev fit (Numerical Recipes'
// `erfc`, relative error below 1.2e-7), as the CPU's `layers::erf` computes it.
fn erf_fit(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = 1.0 - t * exp(poly);
    return select(-r, r, x >= 0.0);
}

// ReLU and ReLU6 by comparisons, which are false for a NaN: it passes through as PyTorch passes it
// (WGSL leaves max() and clamp() of a NaN undefined).
fn relu(v: f32) -> f32 {
    return select(v, 0.0, v < 0.0);
}

fn relu6(v: f32) -> f32 {
    return select(relu(v), 6.0, v > 6.0);
}

fn activate(code: u32, v: f32) -> f32 {
    switch code {
        case 1u: { return relu(v); }
        case 2u: { return relu6(v); }
        case 3u: { return v * logistic(v); }
        case 4u: { return v * relu6(v + 3.0) / 6.0; }
        case 5u: { return relu6(v + 3.0) / 6.0; }
        case 6u: { return 0.5 * v * (1.0 + erf_fit(v * 0.70710678)); }
        case 7u: { return logistic(v); }
        default: { return v; }
    }
}
