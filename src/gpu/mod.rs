//! The GPU backend: every block as WGSL compute shaders through wgpu, which drives Vulkan, Metal
//! or DX12 natively and WebGPU in the browser with the same code.
//!
//! ```text
//! GpuBackend ── GpuContext (device, limits, pipeline cache, buffer pool)      context.rs
//!     │
//!     └─ forward: Graph ── block.record_gpu(...)  (blocks/*.rs)               graph.rs
//!                   │         └─ kernels::*  dispatch one .wgsl shader each   kernels/
//!                   └─ run(): one submission, one readback of what was asked
//! ```
//!
//! When a pass cannot run on the device (the device was lost, a tensor is over the device's
//! limits, a driver error), the backend runs the same pass on the CPU reference and says so in
//! [`RanOn::fallback`]. The entry points are async because the browser can only wait for the
//! GPU asynchronously; natively, [`GpuBackend`] also implements the blocking [`Backend`](crate::backend::Backend) trait.

mod context;
pub(crate) mod graph;
pub(crate) mod kernels;

pub use context::{AdapterSummary, PoolStats};
/// The device limits [`GpuBackend::with_limits`] chooses from.
pub use wgpu::Limits;

use crate::backend::{AttentionRow, BackendKind, RanOn};
use crate::blocks::{Block, BlockOutput, MapRequest};
use crate::error::{Error, Result};
use crate::tensor::{Dims, Tensor};
use context::GpuContext;
use graph::{GpuTensor, Graph};

/// A block's result still on the device: `y` and its maps, each map with one image's shape.
pub(crate) struct GpuOutput {
    pub y: GpuTensor,
    pub maps: Vec<(&'static str, Vec<usize>, GpuTensor)>,
}

/// Runs blocks on a GPU adapter. Create it once: it compiles pipelines and pools buffers for all
/// later calls.
pub struct GpuBackend {
    ctx: GpuContext,
}

impl GpuBackend {
    /// Opens the first adapter the system offers, with the adapter's own limits.
    pub async fn new() -> Result<Self> {
        Self::with_limits(|adapter_limits| adapter_limits).await
    }

    /// Opens a device with `choose(adapter limits)`: tests use it to give a pass less room than
    /// it needs.
    pub async fn with_limits(choose: impl FnOnce(Limits) -> Limits) -> Result<Self> {
        Ok(Self { ctx: GpuContext::new(choose).await? })
    }

    pub fn adapter(&self) -> &AdapterSummary {
        &self.ctx.adapter
    }

    /// Device memory the buffer pool holds, now and at its peak.
    pub fn pool_stats(&self) -> PoolStats {
        self.ctx.stats()
    }

    /// Destroys the device, as a driver reset would; later passes fall back to the CPU. For
    /// tests of that fallback.
    pub fn simulate_device_loss(&self) {
        self.ctx.device.destroy();
    }

    /// A new forward pass on this device (a network's nodes record into it: `net::gpu`).
    pub(crate) fn graph(&self) -> Graph<'_> {
        Graph::new(&self.ctx)
    }

    pub(crate) fn ran_on(&self) -> RanOn {
        RanOn {
            backend: BackendKind::Gpu,
            adapter: Some(format!("{}, {}", self.ctx.adapter.name, self.ctx.adapter.backend)),
            fallback: None,
        }
    }

    /// The block's output and maps; see [`Backend::forward`](crate::backend::Backend::forward).
    pub async fn forward_async(&self, block: &Block, x: &Tensor, request: MapRequest) -> Result<BlockOutput> {
        let dims = if request.propagate_non_finite { block.check_shape(x)? } else { block.check_input(x)? };
        block.check_request(dims, request)?;
        match self.forward_on_device(block, x, dims, request).await {
            Err(Error::GpuFailed(reason)) => {
                let mut out = match block.forward_cpu(x, dims, request, crate::simd::Kernels::best()) {
                    // As the CPU backend does: a NaN to carry through goes by the plain code.
                    Err(Error::NonFinite { .. }) if request.propagate_non_finite => {
                        block.forward_cpu(x, dims, request, crate::simd::Kernels::Reference)?
                    }
                    other => other?,
                };
                out.ran_on = RanOn::cpu_instead_of_gpu(reason);
                Ok(out)
            }
            other => other,
        }
    }

    /// One query's attention weights; see [`Backend::attention_row`](crate::backend::Backend::attention_row).
    pub async fn attention_row_async(&self, block: &Block, x: &Tensor, query: usize) -> Result<AttentionRow> {
        let dims = block.check_input(x)?;
        block.check_query(dims, query)?;
        match self.attention_row_on_device(block, x, dims, query).await {
            Err(Error::GpuFailed(reason)) => {
                Ok(AttentionRow { row: block.attention_row_cpu(x, dims, query)?, ran_on: RanOn::cpu_instead_of_gpu(reason) })
            }
            other => other,
        }
    }

    async fn forward_on_device(&self, block: &Block, x: &Tensor, dims: Dims, request: MapRequest) -> Result<BlockOutput> {
        let mut g = Graph::new(&self.ctx);
        let input = g.upload(x.data())?;
        let out = block.record_gpu(&mut g, &input, dims, request)?;
        g.read(&out.y);
        for (_, _, map) in &out.maps {
            g.read(map);
        }
        let mut data = g.run().await?.into_iter();
        let y = Tensor::new(x.shape().to_vec(), data.next().expect("y was read")).expect("y has the shape of x");
        let maps = out.maps.into_iter().zip(data).map(|((name, shape, _), values)| (name, batched(dims, &shape, values))).collect();
        Ok(BlockOutput { y, maps, ran_on: self.ran_on() })
    }

    async fn attention_row_on_device(&self, block: &Block, x: &Tensor, dims: Dims, query: usize) -> Result<AttentionRow> {
        let mut g = Graph::new(&self.ctx);
        let input = g.upload(x.data())?;
        let (shape, row) = block.record_attention_row_gpu(&mut g, &input, dims, query)?;
        g.read(&row);
        let values = g.run().await?.pop().expect("the row was read");
        Ok(AttentionRow { row: batched(dims, &shape, values), ran_on: self.ran_on() })
    }
}

/// `(N, ...shape)` from the data of all images.
fn batched(dims: Dims, shape: &[usize], values: Vec<f32>) -> Tensor {
    let mut full = vec![dims.n];
    full.extend_from_slice(shape);
    Tensor::new(full, values).expect("a map has its declared shape")
}

#[cfg(not(target_arch = "wasm32"))]
impl crate::backend::Backend for GpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Gpu
    }

    fn forward(&self, block: &Block, x: &Tensor, request: MapRequest) -> Result<BlockOutput> {
        pollster::block_on(self.forward_async(block, x, request))
    }

    fn attention_row(&self, block: &Block, x: &Tensor, query: usize) -> Result<AttentionRow> {
        pollster::block_on(self.attention_row_async(block, x, query))
    }
}
