//! A plain dense float32 tensor in row-major (C-contiguous) order. Activations are NCHW, as in
//! PyTorch, so weights and inputs cross from a state dict without reordering.

use crate::error::{Error, Result, Shape};

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Tensor {
    /// Wraps `data`; returns `None` when its length does not match the shape.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Option<Self> {
        (shape.iter().product::<usize>() == data.len()).then_some(Self { shape, data })
    }

    pub fn zeros(shape: Vec<usize>) -> Self {
        let len = shape.iter().product();
        Self { shape, data: vec![0.0; len] }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// The dimensions of an NCHW activation, or an error naming the shape that was found.
    pub fn dims4(&self) -> Result<Dims> {
        match self.shape[..] {
            [n, c, h, w] if n > 0 && c > 0 && h > 0 && w > 0 => Ok(Dims { n, c, h, w }),
            _ => Err(Error::InputShape {
                expected: "4-D (N, C, H, W) with every dimension above 0".into(),
                found: Shape(self.shape.clone()),
            }),
        }
    }

    /// Fails on the first NaN or infinity: every block would spread it over its whole output.
    pub fn check_finite(&self) -> Result<()> {
        check_finite(&self.data)
    }
}

/// [`Tensor::check_finite`] on plain values; the index is into `values`.
pub(crate) fn check_finite(values: &[f32]) -> Result<()> {
    // A branch-free test per block (which the compiler vectorises), the exact index only in the
    // block that failed.
    const BLOCK: usize = 4096;
    for (b, block) in values.chunks(BLOCK).enumerate() {
        if block.iter().fold(false, |bad, v| bad | !v.is_finite()) {
            let index = b * BLOCK + block.iter().position(|v| !v.is_finite()).expect("found in this block");
            return Err(Error::NonFinite { index, value: values[index] });
        }
    }
    Ok(())
}

/// Sizes of an NCHW activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Dims {
    /// Spatial positions per image (`H * W`).
    pub fn positions(&self) -> usize {
        self.h * self.w
    }

    /// Floats per image (`C * H * W`).
    pub fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }
}

/// `n` pseudo-random values in [-0.5, 0.5) from `seed` (xorshift32), for the unit tests.
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as f32 / u32::MAX as f32 - 0.5
        })
        .collect()
}
