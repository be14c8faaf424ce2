//! Convolutional Block Attention Module (Woo et al. 2018), as timm's `CbamModule`, with the
//! official code's variants (MLP bias, `[max, mean]` order) as options.
//!
//! Channel gate `a = sigmoid(mlp(mean_hw(x)) + mlp(max_hw(x)))` with one shared MLP, `x1 = x * a`;
//! spatial gate `s = sigmoid(BN(conv_kxk([mean_c(x1), max_c(x1)])))`, `y = x1 * s`.

use super::options::{BlockOptions, SpatialOrder};
use super::params::{Bias, Conv1x1, load_batchnorm};
use super::{ImageOutput, check_finite_via, scale_channels, scale_positions};
use crate::error::{Error, Result, Shape};
use crate::gpu::GpuOutput;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::conv::spatial_gate;
use crate::gpu::kernels::gates::{Gating, apply_gates, channel_gate};
use crate::gpu::kernels::linear::{Activation, conv1x1};
use crate::gpu::kernels::pooling::{ChannelReduction, channel_pool, channel_reduce};
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

    /// The channel gate `a` of one image `(C, N)`.
    pub fn channel_gate(&self, img: &[f32], positions: usize) -> Vec<f32> {
        let from_mean = self.mlp(&mean_per_channel(img, positions), Kernels::Reference);
        let from_max = self.mlp(&max_per_channel(img, positions), Kernels::Reference);
        let mut gate: Vec<f32> = from_mean.iter().zip(&from_max).map(|(a, b)| a + b).collect();
        sigmoid_in_place(&mut gate);
        gate
    }

    /// The spatial gate `s` of a channel-refined image `x1`, one value per position.
    pub fn spatial_gate(&self, x1: &[f32], dims: Dims) -> Vec<f32> {
        let (mean, max) = mean_and_max_over_channels(x1, dims.positions());
        let pooled = match self.order {
            SpatialOrder::MeanMax => [mean, max].concat(),
            SpatialOrder::MaxMean => [max, mean].concat(),
        };
        let mut s = conv2d_same(&pooled, &self.spatial_kernel, 2, dims.h, dims.w, self.kernel_size);
        self.spatial_bn.apply(&mut s, dims.positions());
        s.iter_mut().for_each(|v| *v = sigmoid(*v));
        s
    }

    pub(crate) fn forward_image(&self, img: &[f32], dims: Dims, kernels: Kernels) -> Result<ImageOutput> {
        match kernels {
            Kernels::Reference => Ok(self.forward_reference(img, dims)),
            fast => self.forward_fast(img, dims, fast),
        }
    }

    /// Three passes over `x`: its channel statistics, the statistics across channels of
    /// `x * a` (never written), and the output with both gates applied as it is written.
    fn forward_fast(&self, img: &[f32], dims: Dims, k: Kernels) -> Result<ImageOutput> {
        let positions = dims.positions();
        let (means, maxes) = k.channel_means_and_maxes(img, positions);
        check_finite_via(&means, img)?;
        let mut channel: Vec<f32> = self.mlp(&means, k).iter().zip(self.mlp(&maxes, k)).map(|(a, b)| a + b).collect();
        sigmoid_in_place(&mut channel);
        let (mean, max) = k.gated_mean_and_max_over_channels(img, &channel, positions);
        let pooled = match self.order {
            SpatialOrder::MeanMax => [mean, max].concat(),
            SpatialOrder::MaxMean => [max, mean].concat(),
        };
        let mut spatial = k.conv2d_same(&pooled, &self.spatial_kernel, 2, dims.h, dims.w, self.kernel_size);
        let (scale, shift) = self.spatial_bn.scale_and_shift(0);
        k.affine_sigmoid_in_place(&mut spatial, scale, shift);
        Ok(ImageOutput {
            y: k.apply_gates(img, &channel, Some(&spatial), positions),
            maps: vec![("channel", vec![dims.c], channel), ("spatial", vec![dims.h, dims.w], spatial)],
        })
    }

    fn forward_reference(&self, img: &[f32], dims: Dims) -> ImageOutput {
        let channel = self.channel_gate(img, dims.positions());
        let x1 = scale_channels(img, &channel, dims.positions());
        let spatial = self.spatial_gate(&x1, dims);
        ImageOutput {
            y: scale_positions(&x1, &spatial),
            maps: vec![("channel", vec![dims.c], channel), ("spatial", vec![dims.h, dims.w], spatial)],
        }
    }

    /// The same gates on the GPU: the shared MLP runs once over the mean and the max side by side
    /// (two "positions"), and `x * a` is never stored, only pooled and finally scaled.
    pub(crate) fn record_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims) -> Result<GpuOutput> {
        let (c, positions) = (dims.c, dims.positions());
        let mean_and_max = channel_reduce(g, x, c, positions, ChannelReduction::MeanAndMax)?;
        let hidden = conv1x1(g, &self.fc1, &mean_and_max, 2, Activation::Relu, None)?;
        let logits = conv1x1(g, &self.fc2, &hidden, 2, Activation::None, None)?;
        let channel = channel_gate(g, &logits, 2)?;
        let pooled = channel_pool(g, x, &channel, c, positions, self.order)?;
        let spatial = spatial_gate(g, &pooled, dims.h, dims.w, &self.spatial_kernel, self.kernel_size, &self.spatial_bn)?;
        let y = apply_gates(g, x, c, positions, Gating::ChannelAndSpatial(&channel, &spatial))?;
        Ok(GpuOutput { y, maps: vec![("channel", vec![c], channel), ("spatial", vec![dims.h, dims.w], spatial)] })
    }
}
