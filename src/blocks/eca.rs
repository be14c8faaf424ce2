//! Efficient Channel Attention (Wang et al. 2020), as timm's `EcaModule` / `CecaModule`:
//! `a = sigmoid(conv1d_k(mean_hw(x)))` along the channel axis, `y = x * a`. Its weights do not
//! fix the channel count, so it runs on any C.

use super::options::{BlockOptions, EcaPadding};
use super::{ImageOutput, MapRequest, Trace};
use crate::error::{Error, Result, Shape};
use crate::gpu::GpuOutput;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::conv::channel_conv1d;
use crate::gpu::kernels::gates::channel_gate;
use crate::gpu::kernels::pooling::{ChannelReduction, channel_reduce};
use crate::kernels::activation::sigmoid_in_place;
use crate::kernels::conv::conv1d_channels;
use crate::simd::Kernels;
use crate::tensor::Dims;
use crate::weights::WeightReader;

#[derive(Debug, Clone)]
pub struct Eca {
    kernel: Vec<f32>,
    padding: EcaPadding,
}

impl Eca {
    /// Key `conv.weight (1, 1, k)` with `k` odd.
    pub fn load(r: &mut WeightReader, options: &BlockOptions) -> Result<Self> {
        let k = match *r.shape("conv.weight")? {
            [1, 1, k] if k % 2 == 1 => k,
            ref found => {
                return Err(Error::WrongShape {
                    key: "conv.weight".into(),
                    expected: "[1, 1, k] with k odd".into(),
                    found: Shape(found.to_vec()),
                });
            }
        };
        Ok(Self { kernel: r.require("conv.weight", &[1, 1, k])?, padding: options.padding.unwrap_or_default() })
    }

    fn gate_from_means(&self, means: &[f32], trace: &mut Trace) -> Vec<f32> {
        let mut gate = conv1d_channels(means, &self.kernel, self.padding.into());
        trace.keep("trace.logits", &gate);
        sigmoid_in_place(&mut gate);
        gate
    }

    pub(crate) fn forward_image(&self, img: &[f32], dims: Dims, trace: Trace, kernels: Kernels) -> Result<ImageOutput> {
        ImageOutput::gated_by_means(img, dims, kernels, trace, |means, trace| self.gate_from_means(means, trace))
    }

    pub(crate) fn record_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims, request: MapRequest) -> Result<GpuOutput> {
        let means = channel_reduce(g, x, dims.c, dims.positions(), ChannelReduction::Mean)?;
        let logits = channel_conv1d(g, &means, dims.c, &self.kernel, self.padding.into())?;
        let gate = channel_gate(g, &logits, 1)?;
        let mut out = GpuOutput::channel_gated(g, x, gate, dims)?;
        if request.trace {
            out.maps.extend([("trace.squeeze", vec![dims.c], means), ("trace.logits", vec![dims.c], logits)]);
        }
        Ok(out)
    }
}
