//! The network's own trained layers around the attention blocks: three 3x3 convolutions (the
//! last after [`max_pool_to`]) and the linear classifier. They run on the CPU on every backend, on the CPU kernels it names (the
//! GPU backend on the fastest); the attention blocks are what the backends accelerate.

use crate::error::Result;
use crate::kernels::activation::relu_in_place;
use crate::kernels::conv::conv2d_same;
use crate::kernels::pooling::max_pool_2x2;
use crate::simd::{Dense, Kernels};
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
    pub fn forward(&self, x: &Tensor, kernels: Kernels) -> Tensor {
        let (height, width) = (x.shape()[2], x.shape()[3]);
        let mut y = match kernels {
            Kernels::Reference => {
                let mut y = conv2d_same(x.data(), &self.weight, self.cin, height, width, KERNEL);
                for (plane, b) in y.chunks_exact_mut(height * width).zip(&self.bias) {
                    plane.iter_mut().for_each(|v| *v += b);
                }
                y
            }
            // The 3x3 convolution as a 1x1 one over the 9 shifted copies of every channel, in
            // the order of PyTorch's `(cout, cin, 3, 3)` weight rows.
            fast => {
                let layer = Dense { weight: &self.weight, bias: Some(&self.bias), inputs: self.cin * KERNEL * KERNEL };
                fast.conv1x1(layer, &patches_3x3(x.data(), height, width), height * width, None)
            }
        };
        relu_in_place(&mut y);
        let (y, h, w) = if self.pool { max_pool_2x2(&y, height, width) } else { (y, height, width) };
        Tensor::new(vec![1, self.cout, h, w], y).expect("conv output matches its shape")
    }
}

/// Max pooling of `(1, C, H, W)` down to at most `side x side`: an axis longer than `side` is cut
/// into `side` bins as PyTorch's `AdaptiveMaxPool2d` cuts it (bin `i` spans `floor(i L / side)`
/// to `ceil((i + 1) L / side)`), a shorter one is kept. The network puts it before `body.conv3`,
/// so that conv3 sees an object at the cell size it was trained at (96 px scenes give a 6 x 6
/// grid there, which passes unchanged) whatever the photo's size: its receptive field covers the
/// object at 224 px too.
pub fn max_pool_to(x: &Tensor, side: usize) -> Tensor {
    let (c, h, w) = (x.shape()[1], x.shape()[2], x.shape()[3]);
    let bins = |len: usize| -> Vec<(usize, usize)> {
        if len <= side {
            (0..len).map(|i| (i, i + 1)).collect()
        } else {
            (0..side).map(|i| (i * len / side, ((i + 1) * len).div_ceil(side))).collect()
        }
    };
    let (rows, cols) = (bins(h), bins(w));
    let mut out = Vec::with_capacity(c * rows.len() * cols.len());
    for plane in x.data().chunks_exact(h * w) {
        for &(y0, y1) in &rows {
            for &(x0, x1) in &cols {
                let mut m = f32::NEG_INFINITY;
                for y in y0..y1 {
                    for v in &plane[y * w + x0..y * w + x1] {
                        m = m.max(*v);
                    }
                }
                out.push(m);
            }
        }
    }
    Tensor::new(vec![1, c, rows.len(), cols.len()], out).expect("pooled to its shape")
}

/// `(C * 9, H * W)`: row `(c, ky, kx)` is channel `c` shifted by `(ky - 1, kx - 1)`, zero
/// outside the image.
fn patches_3x3(x: &[f32], height: usize, width: usize) -> Vec<f32> {
    let plane = height * width;
    let mut rows = vec![0.0; x.len() * KERNEL * KERNEL];
    for (channel, out) in x.chunks_exact(plane).zip(rows.chunks_exact_mut(plane * KERNEL * KERNEL)) {
        for (tap, row) in out.chunks_exact_mut(plane).enumerate() {
            let (dy, dx) = ((tap / KERNEL) as isize - 1, (tap % KERNEL) as isize - 1);
            for y in 0..height {
                let sy = y as isize + dy;
                if sy < 0 || sy >= height as isize {
                    continue;
                }
                let (x0, x1) = ((-dx).max(0) as usize, (width as isize - dx).min(width as isize) as usize);
                let src = &channel[sy as usize * width..][..width];
                for x in x0..x1 {
                    row[y * width + x] = src[(x as isize + dx) as usize];
                }
            }
        }
    }
    rows
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tensor::test_values as values;

    /// The 3x3 convolution as patches times a 1x1 product equals the plain one, on every
    /// variant, on sizes down to a single pixel (every tap in the padding but the centre).
    #[test]
    fn fast_convolution_equals_the_reference() {
        for (i, (cin, cout, h, w, pool)) in
            [(3, 5, 1, 1, false), (4, 6, 7, 9, true), (16, 32, 13, 20, true), (8, 3, 2, 33, false)].into_iter().enumerate()
        {
            let layer = ConvRelu { weight: values(cout * cin * 9, 1 + i as u32), bias: values(cout, 50 + i as u32), cin, cout, pool };
            let x = Tensor::new(vec![1, cin, h, w], values(cin * h * w, 100 + i as u32)).unwrap();
            let expected = layer.forward(&x, Kernels::Reference);
            for kernels in Kernels::available() {
                let got = layer.forward(&x, kernels);
                assert_eq!(got.shape(), expected.shape());
                for (j, (a, b)) in got.data().iter().zip(expected.data()).enumerate() {
                    assert!((a - b).abs() <= 1e-5 + 1e-4 * b.abs(), "[{kernels}] case {i}, value {j}: {a} against {b}");
                }
            }
        }
    }
}
