//! The network's own trained layers around the attention blocks: two 3x3 convolutions and the
//! linear classifier. They run on the CPU on every backend (together a few milliseconds at the
//! working size); the attention blocks are what the backends accelerate.

use crate::error::Result;
use crate::kernels::activation::relu_in_place;
use crate::kernels::conv::conv2d_same;
use crate::kernels::pooling::max_pool_2x2;
use crate::tensor::Tensor;
use crate::weights::WeightReader;

/// A 3x3 "same" convolution with bias and ReLU, optionally followed by a 2x2 max pool
/// (PyTorch `Conv2d(cin, cout, 3, padding=1)`, `ReLU`, `MaxPool2d(2)`).
#[derive(Debug, Clone)]
pub struct ConvRelu {
    weight: Vec<f32>,
    bias: Vec<f32>,
    cin: usize,
    cout: usize,
    pool: bool,
}

pub const KERNEL: usize = 3;

impl ConvRelu {
    /// Reads `weight (cout, cin, 3, 3)` and `bias (cout)`.
    pub fn load(r: &mut WeightReader, cin: usize, cout: usize, pool: bool) -> Result<Self> {
        let weight = r.require("weight", &[cout, cin, KERNEL, KERNEL])?;
        let bias = r.require("bias", &[cout])?;
        Ok(Self { weight, bias, cin, cout, pool })
    }

    /// `(1, cin, H, W)` to `(1, cout, H, W)`, or `(1, cout, H/2, W/2)` when pooling.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let (height, width) = (x.shape()[2], x.shape()[3]);
        let mut y = conv2d_same(x.data(), &self.weight, self.cin, height, width, KERNEL);
        for (plane, b) in y.chunks_exact_mut(height * width).zip(&self.bias) {
            plane.iter_mut().for_each(|v| *v += b);
        }
        relu_in_place(&mut y);
        let (y, h, w) = if self.pool { max_pool_2x2(&y, height, width) } else { (y, height, width) };
        Tensor::new(vec![1, self.cout, h, w], y).expect("conv output matches its shape")
    }
}

/// Global average pool, then a linear layer to class logits (PyTorch `Linear(cin, classes)`).
#[derive(Debug, Clone)]
pub struct Classifier {
    weight: Vec<f32>,
    bias: Vec<f32>,
    cin: usize,
}

impl Classifier {
    pub fn load(r: &mut WeightReader, cin: usize, classes: usize) -> Result<Self> {
        let weight = r.require("weight", &[classes, cin])?;
        let bias = r.require("bias", &[classes])?;
        Ok(Self { weight, bias, cin })
    }

    /// `(1, cin, H, W)` to one logit per class.
    pub fn logits(&self, x: &Tensor) -> Vec<f32> {
        let positions = x.shape()[2] * x.shape()[3];
        let pooled: Vec<f32> = x.data().chunks_exact(positions).map(|p| p.iter().sum::<f32>() / positions as f32).collect();
        self.weight
            .chunks_exact(self.cin)
            .zip(&self.bias)
            .map(|(row, b)| b + row.iter().zip(&pooled).map(|(w, v)| w * v).sum::<f32>())
            .collect()
    }
}
