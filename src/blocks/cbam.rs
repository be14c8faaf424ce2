//! Convolutional Block Attention Module (Woo et al. 2018), as timm's `CbamModule`, with the
//! official code's variants (MLP bias, `[max, mean]` order) as options.
//!
//! Channel gate `a = sigmoid(mlp(mean_hw(x)) + mlp(max_hw(x)))` with one shared MLP, `x1 = x * a`;
//! spatial gate `s = sigmoid(BN(conv_kxk([mean_c(x1), max_c(x1)])))`, `y = x1 * s`.

use super::options::{BlockOptions, SpatialOrder};
use super::params::{Bias, Conv1x1, load_batchnorm};
use super::{ImageOutput, MapRequest, Trace, check_finite_via, scale_channels, scale_positions};
use crate::error::{Error, Result, Shape};
use crate::gpu::GpuOutput;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::conv::{SpatialOutput, spatial_conv};
use crate::gpu::kernels::gates::{Gating, apply_gates, channel_gate};
use crate::gpu::kernels::linear::conv1x1;
use crate::gpu::kernels::pooling::{ChannelReduction, channel_pool, channel_reduce};
use crate::kernels::activation::Activation;
use crate::kernels::activation::{relu_in_place, sigmoid, sigmoid_in_place};
use crate::kernels::conv::conv2d_same;
use crate::kernels::norm::BatchNorm;
use crate::kernels::pooling::{max_per_channel, mean_and_max_over_channels, mean_per_channel};
use crate::simd::Kernels;
use crate::tensor::Dims;
use crate::weights::WeightReader;

const SPATIAL_CONV: &str = "spatial.conv.conv.weight";

#[derive(Debug, Clone)]
pub struct Cbam {
    fc1: Conv1x1,
    fc2: Conv1x1,
    spatial_kernel: Vec<f32>,
    kernel_size: usize,
    spatial_bn: BatchNorm,
    order: SpatialOrder,
}

impl Cbam {
    /// Keys `channel.fc{1,2}.weight` (biases optional), `spatial.conv.conv.weight (1, 2, k, k)`
    /// with `k` odd, `spatial.conv.bn.*` of one channel.
    pub fn load(r: &mut WeightReader, options: &BlockOptions) -> Result<Self> {
        let (rd, c) = r.conv1x1_dims("channel.fc1.weight")?;
        let k = match *r.shape(SPATIAL_CONV)? {
            [1, 2, k, kw] if k == kw && k % 2 == 1 => k,
            ref found => {
                return Err(Error::WrongShape {
                    key: SPATIAL_CONV.into(),
                    expected: "[1, 2, k, k] with k odd".into(),
                    found: Shape(found.to_vec()),
                });
            }
        };
        Ok(Self {
            fc1: Conv1x1::load(r, "channel.fc1", rd, c, Bias::Optional)?,
            fc2: Conv1x1::load(r, "channel.fc2", c, rd, Bias::Optional)?,
            spatial_kernel: r.require(SPATIAL_CONV, &[1, 2, k, k])?,
            kernel_size: k,
            spatial_bn: load_batchnorm(r, "spatial.conv.bn", 1)?,
            order: options.spatial_order.unwrap_or_default(),
        })
    }

    pub fn channels(&self) -> usize {
        self.fc1.inputs
    }

    fn mlp(&self, v: &[f32], kernels: Kernels) -> Vec<f32> {
        let mut hidden = self.fc1.apply_with(kernels, v, 1);
        relu_in_place(&mut hidden);
        self.fc2.apply_with(kernels, &hidden, 1)
    }

    /// The k x k kernel of the spatial gate `(2, k, k)` (in the block's pooling order) and `k`.
    pub fn spatial_kernel(&self) -> (&[f32], usize) {
        (&self.spatial_kernel, self.kernel_size)
    }

    /// The order of the two maps the spatial gate's convolution reads.
    pub fn spatial_order(&self) -> SpatialOrder {
        self.order
    }

    /// The spatial gate's BatchNorm as one scale and shift: `bn(v) = scale * v + shift`.
    pub fn spatial_bn_affine(&self) -> (f32, f32) {
        self.spatial_bn.scale_and_shift(0)
    }

    /// The channel gate `a = sigmoid(mlp(means) + mlp(maxes))` from one image's channel means and
    /// maxes, keeping `trace.squeeze` and `trace.mlp` (each `(C, 2)`: mean, max) when tracing.
    fn gate_from_pools(&self, means: &[f32], maxes: &[f32], kernels: Kernels, trace: &mut Trace) -> Vec<f32> {
        let (from_mean, from_max) = (self.mlp(means, kernels), self.mlp(maxes, kernels));
        if trace.on() {
            let c = means.len();
            trace.keep_shaped("trace.squeeze", &[c, 2], &interleave(means, maxes));
            trace.keep_shaped("trace.mlp", &[c, 2], &interleave(&from_mean, &from_max));
        }
        let mut gate: Vec<f32> = from_mean.iter().zip(&from_max).map(|(a, b)| a + b).collect();
        sigmoid_in_place(&mut gate);
        gate
    }

    /// The channel gate `a` of one image `(C, N)`.
    pub fn channel_gate(&self, img: &[f32], positions: usize) -> Vec<f32> {
        self.channel_gate_traced(img, positions, &mut Trace::off())
    }

    fn channel_gate_traced(&self, img: &[f32], positions: usize, trace: &mut Trace) -> Vec<f32> {
        self.gate_from_pools(&mean_per_channel(img, positions), &max_per_channel(img, positions), Kernels::Reference, trace)
    }

    /// The two maps over the channels, in the block's order: `(2, H, W)`.
    fn order_pooled(&self, mean: Vec<f32>, max: Vec<f32>) -> Vec<f32> {
        match self.order {
            SpatialOrder::MeanMax => [mean, max].concat(),
            SpatialOrder::MaxMean => [max, mean].concat(),
        }
    }

    /// The spatial gate `s` of a channel-refined image `x1`, one value per position.
    pub fn spatial_gate(&self, x1: &[f32], dims: Dims) -> Vec<f32> {
        self.spatial_gate_traced(x1, dims, &mut Trace::off())
    }

    fn spatial_gate_traced(&self, x1: &[f32], dims: Dims, trace: &mut Trace) -> Vec<f32> {
        let (mean, max) = mean_and_max_over_channels(x1, dims.positions());
        let pooled = self.order_pooled(mean, max);
        trace.keep_shaped("trace.pooled", &[2, dims.h, dims.w], &pooled);
        let mut s = conv2d_same(&pooled, &self.spatial_kernel, 2, dims.h, dims.w, self.kernel_size);
        trace.keep_shaped("trace.conv", &[dims.h, dims.w], &s);
        self.spatial_bn.apply(&mut s, dims.positions());
        trace.keep_shaped("trace.logits", &[dims.h, dims.w], &s);
        s.iter_mut().for_each(|v| *v = sigmoid(*v));
        s
    }

    pub(crate) fn forward_image(&self, img: &[f32], dims: Dims, trace: Trace, kernels: Kernels) -> Result<ImageOutput> {
        match kernels {
            Kernels::Reference => Ok(self.forward_reference(img, dims, trace)),
            fast => self.forward_fast(img, dims, fast, trace),
        }
    }

    /// Three passes over `x`: its channel statistics, the statistics across channels of
    /// `x * a` (never written), and the output with both gates applied as it is written.
    fn forward_fast(&self, img: &[f32], dims: Dims, k: Kernels, mut trace: Trace) -> Result<ImageOutput> {
        let positions = dims.positions();
        let (means, maxes) = k.channel_means_and_maxes(img, positions);
        check_finite_via(&means, img)?;
        let channel = self.gate_from_pools(&means, &maxes, k, &mut trace);
        let (mean, max) = k.gated_mean_and_max_over_channels(img, &channel, positions);
        let pooled = self.order_pooled(mean, max);
        trace.keep_shaped("trace.pooled", &[2, dims.h, dims.w], &pooled);
        let mut spatial = k.conv2d_same(&pooled, &self.spatial_kernel, 2, dims.h, dims.w, self.kernel_size);
        let (scale, shift) = self.spatial_bn_affine();
        if trace.on() {
            trace.keep_shaped("trace.conv", &[dims.h, dims.w], &spatial);
            let logits: Vec<f32> = spatial.iter().map(|&v| v * scale + shift).collect();
            trace.keep_shaped("trace.logits", &[dims.h, dims.w], &logits);
        }
        k.affine_sigmoid_in_place(&mut spatial, scale, shift);
        let mut maps = vec![("channel", vec![dims.c], channel), ("spatial", vec![dims.h, dims.w], spatial)];
        maps.extend(trace.steps);
        Ok(ImageOutput { y: k.apply_gates(img, &maps[0].2, Some(&maps[1].2), positions), maps })
    }

    fn forward_reference(&self, img: &[f32], dims: Dims, mut trace: Trace) -> ImageOutput {
        let channel = self.channel_gate_traced(img, dims.positions(), &mut trace);
        let x1 = scale_channels(img, &channel, dims.positions());
        let spatial = self.spatial_gate_traced(&x1, dims, &mut trace);
        let mut maps = vec![("channel", vec![dims.c], channel), ("spatial", vec![dims.h, dims.w], spatial)];
        maps.extend(trace.steps);
        ImageOutput { y: scale_positions(&x1, &maps[1].2), maps }
    }

    /// The same gates on the GPU: the shared MLP runs once over the mean and the max side by side
    /// (two "positions"), and `x * a` is never stored, only pooled and finally scaled. Traced, the
    /// spatial convolution also runs without its BatchNorm and without the sigmoid.
    pub(crate) fn record_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims, request: MapRequest) -> Result<GpuOutput> {
        let (c, positions, (h, w)) = (dims.c, dims.positions(), (dims.h, dims.w));
        let mean_and_max = channel_reduce(g, x, c, positions, ChannelReduction::MeanAndMax)?;
        let hidden = conv1x1(g, &self.fc1, &mean_and_max, 2, Activation::Relu, None)?;
        let logits = conv1x1(g, &self.fc2, &hidden, 2, Activation::Identity, None)?;
        let channel = channel_gate(g, &logits, 2)?;
        let pooled = channel_pool(g, x, &channel, c, positions, self.order)?;
        let conv = |g: &mut Graph, output| spatial_conv(g, &pooled, h, w, &self.spatial_kernel, self.kernel_size, output);
        let spatial = conv(g, SpatialOutput::Gate(self.spatial_bn_affine()))?;
        let y = apply_gates(g, x, c, positions, Gating::ChannelAndSpatial(&channel, &spatial))?;
        let mut maps = vec![("channel", vec![c], channel), ("spatial", vec![h, w], spatial)];
        if request.trace {
            let before_bn = conv(g, SpatialOutput::Convolution)?;
            let after_bn = conv(g, SpatialOutput::Logits(self.spatial_bn_affine()))?;
            maps.extend([
                ("trace.squeeze", vec![c, 2], mean_and_max),
                ("trace.mlp", vec![c, 2], logits),
                ("trace.pooled", vec![2, h, w], pooled),
                ("trace.conv", vec![h, w], before_bn),
                ("trace.logits", vec![h, w], after_bn),
            ]);
        }
        Ok(GpuOutput { y, maps })
    }
}

/// `[a0, b0, a1, b1, ...]`: two per-channel vectors as one `(C, 2)`.
fn interleave(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).flat_map(|(&a, &b)| [a, b]).collect()
}
