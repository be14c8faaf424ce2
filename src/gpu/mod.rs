//! The GPU device library: WGSL compute shaders through wgpu, which drives Vulkan, Metal or DX12
//! natively and WebGPU in the browser with the same code. It knows tensors and layers, not
//! blocks: the blocks record their passes into its graph, and `crate::backend::GpuBackend` runs
//! them (with the CPU fallback).
//!
//! ```text
//! GpuDevice ── GpuContext (device, limits, pipeline cache, buffer pool)       context.rs
//!     │
//!     └─ graph(): Graph ── block.record_gpu(...)  (blocks/*.rs)               graph.rs
//!                   │         └─ kernels::*  dispatch one .wgsl shader each   kernels/
//!                   └─ run(): one submission, one readback of what was asked
//! ```

mod context;
pub(crate) mod graph;
pub(crate) mod kernels;

pub use context::{AdapterSummary, PoolStats};
/// The device limits [`GpuDevice::with_limits`] chooses from.
pub use wgpu::Limits;

use crate::error::Result;
use crate::ran_on::{BackendKind, RanOn};
use context::GpuContext;
use graph::{GpuTensor, Graph};

/// A block's result still on the device: `y` and its maps, each map with one image's shape.
pub(crate) struct GpuOutput {
    pub y: GpuTensor,
    pub maps: Vec<(&'static str, Vec<usize>, GpuTensor)>,
}

/// A GPU adapter and device, with its pipeline cache and buffer pool: what every pass records
/// into ([`crate::backend::GpuBackend`] runs blocks on it, `net::gpu` a network's nodes).
pub struct GpuDevice {
    ctx: GpuContext,
}

impl GpuDevice {
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
}
