//! The layers whole networks are made of besides their attention blocks: k x k convolutions with
//! stride, padding, dilation and groups (BatchNorm folded in at load), activations, pooling and
//! the linear classifier. Each has a plain reference and a fast path on the SIMD kernels: a
//! convolution is its patches (im2col) times the fast 1x1 product, group by group.
//!
//! Tensors are one image, channel-major `(C, H, W)`, as PyTorch lays out NCHW.

pub mod params;

use crate::error::{Error, Result, Shape};
use crate::kernels::norm::BatchNorm;
use crate::simd::{Dense, Kernels};

/// How a convolution or pool pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// PyTorch's `padding=(ph, pw)`: the same on both sides.
    Explicit(usize, usize),
    /// TensorFlow's "SAME" (timm's `tf_` models, `Conv2dSame`): the output is `ceil(in / stride)`,
    /// the padding that needs split with the odd pixel after.
    TfSame,
}

/// One side's output size and the padding before it.
fn out_size(input: usize, k: usize, stride: usize, dilation: usize, padding: Padding, axis: usize) -> (usize, usize) {
    let span = dilation * (k - 1) + 1;
    match padding {
        Padding::Explicit(ph, pw) => {
            let p = if axis == 0 { ph } else { pw };
            ((input + 2 * p).saturating_sub(span) / stride + 1, p)
        }
        Padding::TfSame => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + span).saturating_sub(input);
            (out, total / 2)
        }
    }
}

/// Which values a layer's weights hold, for the GPU's cache of uploaded weights
/// (`GpuContext::cached_weights`): a fresh id for every layer built, and again whenever its values
/// change (BatchNorm folded in); clones share it, and they hold the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WeightId(pub u64);

impl WeightId {
    pub fn fresh() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

/// A 2-D convolution `(cout, cin / groups, kh, kw)` with a bias (a BatchNorm after it folded in).
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// Changed whenever `weight` or `bias` is (the GPU keeps uploaded weights by it).
    pub id: WeightId,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub cin: usize,
    pub cout: usize,
    pub kernel: (usize, usize),
    pub stride: usize,
    pub dilation: usize,
    pub groups: usize,
    pub padding: Padding,
}

impl Conv2d {
    /// A convolution of `weight` `(cout, cin / groups, kh, kw)` and an optional bias. `key` names
    /// the weight in messages.
    #[allow(clippy::too_many_arguments)] // PyTorch's Conv2d: weight, bias, groups, stride, dilation, padding
    pub fn new(
        key: &str,
        weight: Vec<f32>,
        shape: &[usize],
        bias: Option<Vec<f32>>,
        groups: usize,
        stride: usize,
        dilation: usize,
        padding: Padding,
    ) -> Result<Self> {
        let &[cout, per_group, kh, kw] = shape else {
            return Err(Error::WrongShape { key: key.into(), expected: "[out, in / groups, kh, kw]".into(), found: Shape(shape.to_vec()) });
        };
        if groups == 0 || cout % groups != 0 || per_group == 0 || kh == 0 || kw == 0 {
            return Err(Error::WrongShape {
                key: key.into(),
                expected: format!("[out, in / groups, kh, kw] with out divisible by {groups} groups"),
                found: Shape(shape.to_vec()),
            });
        }
        if let Some(b) = &bias
            && b.len() != cout
        {
            let key = key.strip_suffix(".weight").map_or_else(|| format!("{key} (bias)"), |k| format!("{k}.bias"));
            return Err(Error::WrongShape { key, expected: format!("[{cout}], one per output channel"), found: Shape(vec![b.len()]) });
        }
        let values = [cout, per_group, kh, kw].iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if values != Some(weight.len()) {
            return Err(Error::WrongShape { key: key.into(), expected: format!("{shape:?}'s values"), found: Shape(vec![weight.len()]) });
        }
        Ok(Self {
            id: WeightId::fresh(),
            weight,
            bias: bias.unwrap_or_else(|| vec![0.0; cout]),
            cin: per_group * groups,
            cout,
            kernel: (kh, kw),
            stride,
            dilation,
            groups,
            padding,
        })
    }

    /// Folds `bn(conv(x))` into the convolution: each output row scaled, the bias shifted
    /// (PyTorch's default `eps`, 1e-5).
    pub fn fold(self, bn: &BatchNorm) -> Self {
        self.fold_with_eps(bn, BatchNorm::EPS)
    }

    /// [`Conv2d::fold`] for a BatchNorm with another `eps` (1e-3 in TensorFlow ports and
    /// torchvision's MobileNetV3).
    pub fn fold_with_eps(mut self, bn: &BatchNorm, eps: f32) -> Self {
        let row = self.weight.len() / self.cout;
        for (o, weights) in self.weight.chunks_exact_mut(row).enumerate() {
            let scale = bn.weight[o] / (bn.running_var[o] + eps).sqrt();
            let shift = bn.bias[o] - bn.running_mean[o] * scale;
            weights.iter_mut().for_each(|w| *w *= scale);
            self.bias[o] = self.bias[o] * scale + shift;
        }
        self.id = WeightId::fresh();
        self
    }

    /// The output size for an `height x width` input.
    pub fn output_size(&self, height: usize, width: usize) -> (usize, usize) {
        let (ho, _) = out_size(height, self.kernel.0, self.stride, self.dilation, self.padding, 0);
        let (wo, _) = out_size(width, self.kernel.1, self.stride, self.dilation, self.padding, 1);
        (ho, wo)
    }

    /// The padding before the first row and column for an `height x width` input (TF "same"
    /// puts the odd pixel after).
    pub(crate) fn padding_before(&self, height: usize, width: usize) -> (usize, usize) {
        let (_, pad_y) = out_size(height, self.kernel.0, self.stride, self.dilation, self.padding, 0);
        let (_, pad_x) = out_size(width, self.kernel.1, self.stride, self.dilation, self.padding, 1);
        (pad_y, pad_x)
    }

    fn is_pointwise(&self) -> bool {
        self.kernel == (1, 1)
            && self.stride == 1
            && self.output_size(1, 1) == (1, 1)
            && matches!(self.padding, Padding::Explicit(0, 0) | Padding::TfSame)
    }

    /// `(cin, H, W)` to `(cout, Ho, Wo)`.
    pub fn forward(&self, x: &[f32], height: usize, width: usize, kernels: Kernels) -> (Vec<f32>, usize, usize) {
        let (ho, wo) = self.output_size(height, width);
        let out = match kernels {
            Kernels::Reference => self.forward_reference(x, height, width, ho, wo),
            fast => self.forward_fast(x, height, width, ho, wo, fast),
        };
        (out, ho, wo)
    }

    /// Direct loops over every output, input channel and tap.
    fn forward_reference(&self, x: &[f32], height: usize, width: usize, ho: usize, wo: usize) -> Vec<f32> {
        let (kh, kw) = self.kernel;
        let (_, pad_y) = out_size(height, kh, self.stride, self.dilation, self.padding, 0);
        let (_, pad_x) = out_size(width, kw, self.stride, self.dilation, self.padding, 1);
        let (cin_g, cout_g) = (self.cin / self.groups, self.cout / self.groups);
        let mut out = vec![0.0f32; self.cout * ho * wo];
        for o in 0..self.cout {
            let g = o / cout_g;
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = self.bias[o];
                    for ci in 0..cin_g {
                        let c = g * cin_g + ci;
                        for ky in 0..kh {
                            let iy = (oy * self.stride + ky * self.dilation) as isize - pad_y as isize;
                            if iy < 0 || iy >= height as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * self.stride + kx * self.dilation) as isize - pad_x as isize;
                                if ix < 0 || ix >= width as isize {
                                    continue;
                                }
                                acc += self.weight[((o * cin_g + ci) * kh + ky) * kw + kx]
                                    * x[(c * height + iy as usize) * width + ix as usize];
                            }
                        }
                    }
                    out[(o * ho + oy) * wo + ox] = acc;
                }
            }
        }
        out
    }

    /// Each group's patches times its rows of the weight, on the fast 1x1 product; depthwise
    /// convolutions (one group per channel) directly, channel by channel.
    fn forward_fast(&self, x: &[f32], height: usize, width: usize, ho: usize, wo: usize, kernels: Kernels) -> Vec<f32> {
        if let Some(out) = self.depthwise(x, height, width, ho, wo, kernels) {
            return out;
        }
        let (cin_g, cout_g) = (self.cin / self.groups, self.cout / self.groups);
        let (kh, kw) = self.kernel;
        let taps = cin_g * kh * kw;
        let positions = ho * wo;
        let mut out = Vec::with_capacity(self.cout * positions);
        for g in 0..self.groups {
            let input = &x[g * cin_g * height * width..(g + 1) * cin_g * height * width];
            let patches;
            let columns = if self.is_pointwise() {
                input
            } else {
                patches = self.patches(input, cin_g, height, width, ho, wo);
                &patches[..]
            };
            let rows = &self.weight[g * cout_g * taps..(g + 1) * cout_g * taps];
            let bias = &self.bias[g * cout_g..(g + 1) * cout_g];
            out.extend(kernels.conv1x1(Dense { weight: rows, bias: Some(bias), inputs: taps }, columns, positions, None));
        }
        out
    }

    /// A depthwise k x k convolution (odd k, no dilation) as the stride-1 "same" convolution of
    /// each channel on the vector kernels, read at every `stride`-th position from the offset
    /// the padding gives: `None` for any other convolution. (Only the rows the stride keeps are
    /// computed; a stride of 2 still computes twice the columns it keeps, far fewer operations
    /// than patches of one row each.)
    fn depthwise(&self, x: &[f32], height: usize, width: usize, ho: usize, wo: usize, kernels: Kernels) -> Option<Vec<f32>> {
        let (k, kw) = self.kernel;
        if self.groups != self.cin || self.cout != self.cin || self.dilation != 1 || k != kw || k % 2 == 0 {
            return None;
        }
        let (_, pad_y) = out_size(height, k, self.stride, 1, self.padding, 0);
        let (_, pad_x) = out_size(width, k, self.stride, 1, self.padding, 1);
        let (off_y, off_x) = ((k / 2).checked_sub(pad_y)?, (k / 2).checked_sub(pad_x)?);
        if (ho - 1) * self.stride + off_y >= height || (wo - 1) * self.stride + off_x >= width {
            return None;
        }
        let plane = height * width;
        let mut out = Vec::with_capacity(self.cout * ho * wo);
        for (c, channel) in x.chunks_exact(plane).enumerate() {
            // Only the rows the stride keeps are computed.
            let full =
                kernels.conv2d_same_rows(channel, &self.weight[c * k * k..(c + 1) * k * k], 1, height, width, k, (self.stride, off_y));
            let bias = self.bias[c];
            for oy in 0..ho {
                let row = &full[(oy * self.stride + off_y) * width..][..width];
                out.extend((0..wo).map(|ox| row[ox * self.stride + off_x] + bias));
            }
        }
        Some(out)
    }

    /// `(cin * kh * kw, Ho * Wo)`: row `(c, ky, kx)` holds, for every output position, the input
    /// pixel that tap reads (zero in the padding), in the order of PyTorch's weight rows.
    fn patches(&self, x: &[f32], channels: usize, height: usize, width: usize, ho: usize, wo: usize) -> Vec<f32> {
        let (kh, kw) = self.kernel;
        let (_, pad_y) = out_size(height, kh, self.stride, self.dilation, self.padding, 0);
        let (_, pad_x) = out_size(width, kw, self.stride, self.dilation, self.padding, 1);
        let positions = ho * wo;
        let mut rows = vec![0.0f32; channels * kh * kw * positions];
        for (c, plane) in x.chunks_exact(height * width).enumerate().take(channels) {
            for ky in 0..kh {
                for kx in 0..kw {
                    let row = &mut rows[((c * kh + ky) * kw + kx) * positions..][..positions];
                    for oy in 0..ho {
                        let iy = (oy * self.stride + ky * self.dilation) as isize - pad_y as isize;
                        if iy < 0 || iy >= height as isize {
                            continue;
                        }
                        let src = &plane[iy as usize * width..][..width];
                        let dst = &mut row[oy * wo..][..wo];
                        for (ox, d) in dst.iter_mut().enumerate() {
                            let ix = (ox * self.stride + kx * self.dilation) as isize - pad_x as isize;
                            if ix >= 0 && ix < width as isize {
                                *d = src[ix as usize];
                            }
                        }
                    }
                }
            }
        }
        rows
    }
}

pub use crate::kernels::activation::Activation;

impl Activation {
    /// [`Activation::apply_in_place`] on `kernels`: vectorised on the fast kernels (their exp
    /// for SiLU and the sigmoid), as written here on the reference kernels and for GELU.
    pub fn apply_on(self, values: &mut [f32], kernels: Kernels) {
        match kernels {
            Kernels::Reference => self.apply_in_place(values),
            fast => fast.pointwise_in_place(values, self),
        }
    }
}

/// Max or average pooling over `k x k` windows (PyTorch `MaxPool2d`, `AvgPool2d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub max: bool,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    /// `ceil_mode=True`: a last window that starts inside the input (or its left padding) counts.
    pub ceil_mode: bool,
    /// Average pooling: whether padded pixels count in the divisor.
    pub count_include_pad: bool,
}

impl Pool {
    /// PyTorch's `pooling_output_shape`: windows that start inside the input (or its left
    /// padding) count; with `ceil_mode` a partial last window does too.
    pub(crate) fn out_size(&self, input: usize) -> usize {
        let span = (input + 2 * self.padding) as isize - self.kernel as isize + if self.ceil_mode { self.stride as isize - 1 } else { 0 };
        let mut out = (span.div_euclid(self.stride as isize) + 1).max(1) as usize;
        // PyTorch: the last window must start inside the input or the left padding.
        if self.ceil_mode && (out - 1) * self.stride >= input + self.padding {
            out -= 1;
        }
        out
    }

    /// `(C, H, W)` to `(C, Ho, Wo)`.
    pub fn forward(&self, x: &[f32], channels: usize, height: usize, width: usize) -> (Vec<f32>, usize, usize) {
        let (ho, wo) = (self.out_size(height), self.out_size(width));
        let mut out = vec![0.0f32; channels * ho * wo];
        for c in 0..channels {
            let plane = &x[c * height * width..][..height * width];
            for oy in 0..ho {
                for ox in 0..wo {
                    let y0 = (oy * self.stride) as isize - self.padding as isize;
                    let x0 = (ox * self.stride) as isize - self.padding as isize;
                    let (mut acc, mut count, mut padded) = (if self.max { f32::NEG_INFINITY } else { 0.0 }, 0usize, 0usize);
                    for iy in y0..y0 + self.kernel as isize {
                        for ix in x0..x0 + self.kernel as isize {
                            let inside_padded = iy < (height + self.padding) as isize && ix < (width + self.padding) as isize;
                            if iy < 0 || ix < 0 || iy >= height as isize || ix >= width as isize {
                                padded += usize::from(inside_padded);
                                continue;
                            }
                            let v = plane[iy as usize * width + ix as usize];
                            if self.max {
                                acc = crate::kernels::activation::max_nan(acc, v);
                            } else {
                                acc += v;
                            }
                            count += 1;
                        }
                    }
                    out[(c * ho + oy) * wo + ox] =
                        if self.max { acc } else { acc / (if self.count_include_pad { count + padded } else { count }).max(1) as f32 };
                }
            }
        }
        (out, ho, wo)
    }
}

/// A linear layer `(out, in)` with bias (the classifier, or a fully connected layer of an SE).
#[derive(Debug, Clone)]
pub struct Linear {
    /// Changed whenever `weight` or `bias` is (the GPU keeps uploaded weights by it).
    pub id: WeightId,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub inputs: usize,
}

impl Linear {
    pub fn forward(&self, v: &[f32]) -> Vec<f32> {
        self.weight
            .chunks_exact(self.inputs)
            .zip(&self.bias)
            .map(|(row, b)| b + row.iter().zip(v).map(|(w, x)| w * x).sum::<f32>())
            .collect()
    }
}

/// The mean of every channel of `(C, positions)` (PyTorch `AdaptiveAvgPool2d(1)`): the blocks'
/// squeeze, [`crate::kernels::pooling::mean_per_channel`], summed in f64.
pub fn global_average(x: &[f32], positions: usize) -> Vec<f32> {
    crate::kernels::pooling::mean_per_channel(x, positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tensor::test_values as values;

    /// Every shape of convolution the families use, fast against the reference, on every variant.
    #[test]
    fn fast_convolutions_equal_the_reference() {
        let cases = [
            // cin, cout, k, stride, dilation, groups, padding, h, w
            (3, 8, 7, 2, 1, 1, Padding::Explicit(3, 3), 23, 19),
            (8, 8, 3, 1, 1, 1, Padding::Explicit(1, 1), 9, 11),
            (8, 16, 1, 2, 1, 1, Padding::Explicit(0, 0), 9, 11),
            (8, 16, 1, 1, 1, 1, Padding::Explicit(0, 0), 9, 11),
            (16, 16, 3, 2, 1, 4, Padding::Explicit(1, 1), 9, 11),
            (12, 12, 5, 2, 1, 12, Padding::TfSame, 10, 13),
            (12, 12, 3, 1, 2, 12, Padding::Explicit(2, 2), 7, 8),
            (4, 6, 3, 2, 1, 1, Padding::TfSame, 1, 1),
            // depthwise, as the mobile nets have them: stride 1 and 2, PyTorch's and TF's padding,
            // odd and even sizes, a map smaller than the kernel
            (8, 8, 3, 1, 1, 8, Padding::Explicit(1, 1), 9, 12),
            (8, 8, 5, 2, 1, 8, Padding::Explicit(2, 2), 11, 10),
            (8, 8, 3, 2, 1, 8, Padding::TfSame, 12, 9),
            (8, 8, 5, 2, 1, 8, Padding::TfSame, 13, 14),
            (8, 8, 5, 1, 1, 8, Padding::TfSame, 2, 3),
            (8, 8, 3, 2, 1, 8, Padding::Explicit(1, 1), 1, 1),
        ];
        for (i, (cin, cout, k, stride, dilation, groups, padding, h, w)) in cases.into_iter().enumerate() {
            let shape = [cout, cin / groups, k, k];
            let conv = Conv2d::new(
                "w",
                values(shape.iter().product(), 1 + i as u32),
                &shape,
                Some(values(cout, 40 + i as u32)),
                groups,
                stride,
                dilation,
                padding,
            )
            .unwrap();
            let x = values(cin * h * w, 90 + i as u32);
            let (expected, ho, wo) = conv.forward(&x, h, w, Kernels::Reference);
            for kernels in Kernels::available() {
                let (got, gh, gw) = conv.forward(&x, h, w, kernels);
                assert_eq!((gh, gw), (ho, wo));
                for (j, (a, b)) in got.iter().zip(&expected).enumerate() {
                    assert!((a - b).abs() <= 1e-5 + 1e-4 * b.abs(), "[{kernels}] case {i}, value {j}: {a} against {b}");
                }
            }
        }
    }

    #[test]
    fn output_sizes_follow_pytorch_and_tensorflow() {
        let conv = |k, s, p| Conv2d::new("w", vec![0.0; k * k], &[1, 1, k, k], None, 1, s, 1, p).unwrap();
        assert_eq!(conv(7, 2, Padding::Explicit(3, 3)).output_size(224, 224), (112, 112));
        assert_eq!(conv(3, 2, Padding::TfSame).output_size(224, 225), (112, 113));
        let avg = Pool { max: false, kernel: 2, stride: 2, padding: 0, ceil_mode: true, count_include_pad: false };
        let (out, ho, wo) = avg.forward(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1, 1, 3 * 2);
        assert_eq!((ho, wo), (1, 3));
        assert_eq!(out, vec![1.5, 3.5, 5.5]);
        let (out, ho, wo) = avg.forward(&[1.0, 2.0, 3.0], 1, 1, 3);
        assert_eq!((ho, wo, out), (1, 2, vec![1.5, 3.0]), "the ceil window divides by its pixels inside");
        let max = Pool { max: true, kernel: 3, stride: 2, padding: 1, ceil_mode: false, count_include_pad: true };
        assert_eq!(max.out_size(112), 56);
        assert_eq!(max.out_size(23), 12);
    }

    #[test]
    fn activations_are_pytorch_s() {
        assert_eq!(Activation::HardSigmoid.apply(0.0), 0.5);
        assert_eq!(Activation::HardSwish.apply(-4.0), 0.0);
        assert_eq!(Activation::Relu6.apply(7.0), 6.0);
        assert!((Activation::Gelu.apply(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((Activation::Gelu.apply(-2.5) - (-0.015_524_757)).abs() < 1e-6);
        assert!((Activation::Silu.apply(2.0) - 1.761_594_2).abs() < 1e-6);
    }
}
