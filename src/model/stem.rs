//! The feature extractor in front of the attention blocks: two 3x3 convolutions, each followed
//! by ReLU and a 2x2 max pool, so a `(3, H, W)` photo becomes `(32, H/4, W/4)` features.
//!
//! Until the default network is trained (issue 5), its weights are seeded (He-uniform, zero
//! bias) under the names `stem.conv1.*` and `stem.conv2.*`; a trained state dict with the same
//! names drops in through [`super::Model::load`].

use crate::error::Result;
use crate::kernels::activation::relu_in_place;
use crate::kernels::conv::conv2d_same;
use crate::kernels::pooling::max_pool_2x2;
use crate::tensor::Tensor;
use crate::weights::WeightReader;

/// Channels after each convolution.
pub const WIDTHS: [usize; 2] = [16, 32];
/// Kernel size of both convolutions.
pub const KERNEL: usize = 3;
/// How much smaller than the image the features are (two 2x2 pools).
pub const STRIDE: usize = 4;

struct ConvRelu {
    weight: Vec<f32>,
    bias: Vec<f32>,
    cin: usize,
}

impl ConvRelu {
    /// `(cin, H, W)` to `(cout, H/2, W/2)`: convolution ("same" zero padding), bias, ReLU, max pool.
    fn apply(&self, x: &[f32], height: usize, width: usize) -> (Vec<f32>, usize, usize) {
        let mut y = conv2d_same(x, &self.weight, self.cin, height, width, KERNEL);
        for (plane, b) in y.chunks_exact_mut(height * width).zip(&self.bias) {
            plane.iter_mut().for_each(|v| *v += b);
        }
        relu_in_place(&mut y);
        max_pool_2x2(&y, height, width)
    }
}

/// Each convolution's name, input and output channels: `conv1` 3 -> 16, `conv2` 16 -> 32.
fn layer_shapes() -> impl Iterator<Item = (String, usize, usize)> {
    WIDTHS.iter().enumerate().map(|(i, &cout)| (format!("conv{}", i + 1), if i == 0 { 3 } else { WIDTHS[i - 1] }, cout))
}

pub struct Stem {
    layers: Vec<ConvRelu>,
}

impl Stem {
    pub fn load(r: &mut WeightReader) -> Result<Self> {
        let mut layers = Vec::new();
        for (name, cin, cout) in layer_shapes() {
            let weight = r.require(&format!("{name}.weight"), &[cout, cin, KERNEL, KERNEL])?;
            let bias = r.require(&format!("{name}.bias"), &[cout])?;
            layers.push(ConvRelu { weight, bias, cin });
        }
        Ok(Self { layers })
    }

    /// The keys and shapes [`Stem::load`] reads, for seeding.
    pub fn keys() -> Vec<(String, Vec<usize>)> {
        layer_shapes()
            .flat_map(|(name, cin, cout)| {
                [(format!("{name}.weight"), vec![cout, cin, KERNEL, KERNEL]), (format!("{name}.bias"), vec![cout])]
            })
            .collect()
    }

    pub fn channels(&self) -> usize {
        WIDTHS[WIDTHS.len() - 1]
    }

    /// `(1, 3, H, W)` to `(1, 32, H/4, W/4)`.
    pub fn forward(&self, image: &Tensor) -> Tensor {
        let (mut h, mut w) = (image.shape()[2], image.shape()[3]);
        let mut x = image.data().to_vec();
        for layer in &self.layers {
            (x, h, w) = layer.apply(&x, h, w);
        }
        Tensor::new(vec![1, self.channels(), h, w], x).expect("stem output matches its shape")
    }
}
