//! Squeeze-and-Excitation (Hu et al. 2018), as timm's `SEModule`:
//! `a = sigmoid(fc2(relu(fc1(mean_hw(x)))))`, `y = x * a`.

use super::params::{Bias, Conv1x1};
use super::{ImageOutput, MapRequest, Trace};
use crate::error::Result;
use crate::gpu::GpuOutput;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::gates::channel_gate;
use crate::gpu::kernels::linear::conv1x1;
use crate::gpu::kernels::pooling::{ChannelReduction, channel_reduce};
use crate::kernels::activation::Activation;
use crate::kernels::activation::{relu_in_place, sigmoid_in_place};
use crate::simd::Kernels;
use crate::tensor::Dims;
use crate::weights::WeightReader;

#[derive(Debug, Clone)]
pub struct Se {
    fc1: Conv1x1,
    fc2: Conv1x1,
}

impl Se {
    /// Keys `fc1.weight (rd, C, 1, 1)`, `fc2.weight (C, rd, 1, 1)`, biases optional (the
    /// moskomule port has none). `C` and `rd` are read off `fc1.weight`.
    pub fn load(r: &mut WeightReader) -> Result<Self> {
        let (rd, c) = r.conv1x1_dims("fc1.weight")?;
        Ok(Self { fc1: Conv1x1::load(r, "fc1", rd, c, Bias::Optional)?, fc2: Conv1x1::load(r, "fc2", c, rd, Bias::Optional)? })
    }

    pub fn channels(&self) -> usize {
        self.fc1.inputs
    }

    fn gate_from_means(&self, means: &[f32], kernels: Kernels, trace: &mut Trace) -> Vec<f32> {
        let mut hidden = self.fc1.apply_with(kernels, means, 1);
        relu_in_place(&mut hidden);
        trace.keep("trace.hidden", &hidden);
        let mut gate = self.fc2.apply_with(kernels, &hidden, 1);
        trace.keep("trace.logits", &gate);
        sigmoid_in_place(&mut gate);
        gate
    }

    pub(crate) fn forward_image(&self, img: &[f32], dims: Dims, trace: Trace, kernels: Kernels) -> Result<ImageOutput> {
        ImageOutput::gated_by_means(img, dims, kernels, trace, |means, trace| self.gate_from_means(means, kernels, trace))
    }

    pub(crate) fn record_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims, request: MapRequest) -> Result<GpuOutput> {
        let means = channel_reduce(g, x, dims.c, dims.positions(), ChannelReduction::Mean)?;
        let hidden = conv1x1(g, &self.fc1, &means, 1, Activation::Relu, None)?;
        let logits = conv1x1(g, &self.fc2, &hidden, 1, Activation::Identity, None)?;
        let gate = channel_gate(g, &logits, 1)?;
        let mut out = GpuOutput::channel_gated(g, x, gate, dims)?;
        if request.trace {
            let rd = self.fc1.outputs;
            out.maps.extend([
                ("trace.squeeze", vec![dims.c], means),
                ("trace.hidden", vec![rd], hidden),
                ("trace.logits", vec![dims.c], logits),
            ]);
        }
        Ok(out)
    }
}
