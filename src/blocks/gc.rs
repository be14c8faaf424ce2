//! Global Context block (Cao et al. 2019), as timm's `GlobalContext`.
//!
//! `w = softmax_hw(conv_attn(x))`, `ctx = sum_hw(x * w)`, `T(ctx) = fc2(relu(LN(fc1(ctx))))`;
//! fusion `scale`: `y = x * sigmoid(T(ctx))`, fusion `add`: `y = x + T(ctx)`.

use super::options::{BlockOptions, Fusion};
use super::params::{Bias, Conv1x1};
use super::{ImageOutput, MapRequest, Trace, check_finite_via};
use crate::error::Result;
use crate::gpu::GpuOutput;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::gates::{Gating, apply_gates, channel_gate, softmax_positions};
use crate::gpu::kernels::linear::conv1x1;
use crate::gpu::kernels::norm::layer_norm_relu;
use crate::gpu::kernels::pooling::{ChannelReduction, channel_reduce};
use crate::kernels::activation::Activation;
use crate::kernels::activation::{relu_in_place, sigmoid_in_place, softmax_in_place};
use crate::kernels::norm::layer_norm_in_place;
use crate::simd::Kernels;
use crate::tensor::Dims;
use crate::weights::WeightReader;

/// timm's `LayerNorm2d` default.
const LAYER_NORM_EPS: f32 = 1e-6;

#[derive(Debug, Clone)]
pub struct Gc {
    conv_attn: Conv1x1,
    fc1: Conv1x1,
    norm_weight: Vec<f32>,
    norm_bias: Vec<f32>,
    fc2: Conv1x1,
    fusion: Fusion,
}

impl Gc {
    /// Keys `conv_attn.{weight (1, C, 1, 1), bias}` and `mlp_scale.*` or `mlp_add.*` (by fusion):
    /// `fc1 (rd, C)`, `norm (rd)`, `fc2 (C, rd)`, all with bias.
    pub fn load(r: &mut WeightReader, options: &BlockOptions) -> Result<Self> {
        let fusion = options.fusion.unwrap_or_default();
        let mlp = match fusion {
            Fusion::Scale => "mlp_scale",
            Fusion::Add => "mlp_add",
        };
        let (rd, c) = r.conv1x1_dims(&format!("{mlp}.fc1.weight"))?;
        Ok(Self {
            conv_attn: Conv1x1::load(r, "conv_attn", 1, c, Bias::Required)?,
            fc1: Conv1x1::load(r, &format!("{mlp}.fc1"), rd, c, Bias::Required)?,
            norm_weight: r.require(&format!("{mlp}.norm.weight"), &[rd])?,
            norm_bias: r.require(&format!("{mlp}.norm.bias"), &[rd])?,
            fc2: Conv1x1::load(r, &format!("{mlp}.fc2"), c, rd, Bias::Required)?,
            fusion,
        })
    }

    pub fn channels(&self) -> usize {
        self.fc1.inputs
    }

    /// The context weights `w` of one image, one per position, summing to 1.
    pub fn context_weights(&self, img: &[f32], positions: usize) -> Vec<f32> {
        let mut w = self.conv_attn.apply(img, positions);
        softmax_in_place(&mut w);
        w
    }

    /// `T(ctx)` for the pooled context vector, keeping `trace.hidden` (fc1), `trace.normed`
    /// (LayerNorm then ReLU) and `trace.transform` when tracing.
    fn transform(&self, context: &[f32], kernels: Kernels, trace: &mut Trace) -> Vec<f32> {
        let mut hidden = self.fc1.apply_with(kernels, context, 1);
        trace.keep("trace.hidden", &hidden);
        layer_norm_in_place(&mut hidden, &self.norm_weight, &self.norm_bias, LAYER_NORM_EPS);
        relu_in_place(&mut hidden);
        trace.keep("trace.normed", &hidden);
        let t = self.fc2.apply_with(kernels, &hidden, 1);
        trace.keep("trace.transform", &t);
        t
    }

    pub(crate) fn forward_image(&self, img: &[f32], dims: Dims, mut trace: Trace, kernels: Kernels) -> Result<ImageOutput> {
        let positions = dims.positions();
        let mut weights = match kernels {
            Kernels::Reference => self.conv_attn.apply(img, positions),
            fast => {
                let logits = fast.conv1x1(self.conv_attn.dense(), img, positions, None);
                // Each logit sums a weight times every channel's value at its position.
                check_finite_via(&logits, img)?;
                logits
            }
        };
        trace.keep_shaped("trace.logits", &[dims.h, dims.w], &weights);
        let context: Vec<f32> = match kernels {
            Kernels::Reference => {
                softmax_in_place(&mut weights);
                img.chunks_exact(positions)
                    .map(|ch| ch.iter().zip(&weights).map(|(&v, &w)| f64::from(v) * f64::from(w)).sum::<f64>() as f32)
                    .collect()
            }
            fast => {
                fast.softmax_in_place(&mut weights);
                fast.weighted_channel_sums(img, &weights)
            }
        };
        trace.keep("trace.context", &context);
        let mut t = self.transform(&context, kernels, &mut trace);
        let context_map = ("context", vec![dims.h, dims.w], weights);
        let mut out = match self.fusion {
            Fusion::Scale => {
                sigmoid_in_place(&mut t);
                let mut out = ImageOutput::channel_gated(img, t, dims, kernels);
                out.maps.push(context_map);
                out
            }
            Fusion::Add => {
                let y = img.chunks_exact(positions).zip(&t).flat_map(|(ch, &add)| ch.iter().map(move |&v| v + add)).collect();
                ImageOutput { y, maps: vec![context_map] }
            }
        };
        out.maps.extend(trace.steps);
        Ok(out)
    }

    pub(crate) fn record_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims, request: MapRequest) -> Result<GpuOutput> {
        let (c, positions) = (dims.c, dims.positions());
        let logits = conv1x1(g, &self.conv_attn, x, positions, Activation::Identity, None)?;
        let weights = softmax_positions(g, &logits, positions)?;
        let context = channel_reduce(g, x, c, positions, ChannelReduction::WeightedSum(&weights))?;
        let hidden = conv1x1(g, &self.fc1, &context, 1, Activation::Identity, None)?;
        let normed = layer_norm_relu(g, &hidden, &self.norm_weight, &self.norm_bias, LAYER_NORM_EPS)?;
        let t = conv1x1(g, &self.fc2, &normed, 1, Activation::Identity, None)?;
        let mut maps = vec![("context", vec![dims.h, dims.w], weights)];
        let y = match self.fusion {
            Fusion::Scale => {
                let gate = channel_gate(g, &t, 1)?;
                let y = apply_gates(g, x, c, positions, Gating::Channel(&gate))?;
                maps.push(("channel", vec![c], gate));
                y
            }
            Fusion::Add => apply_gates(g, x, c, positions, Gating::AddChannel(&t))?,
        };
        if request.trace {
            let rd = self.fc1.outputs;
            maps.extend([
                ("trace.logits", vec![dims.h, dims.w], logits),
                ("trace.context", vec![c], context),
                ("trace.hidden", vec![rd], hidden),
                ("trace.normed", vec![rd], normed),
                ("trace.transform", vec![c], t),
            ]);
        }
        Ok(GpuOutput { y, maps })
    }
}
