//! Blocks on the GPU: each pass recorded into one graph on a [`GpuDevice`], one submission, one
//! readback. When a pass cannot run on the device (the device was lost, a tensor is over the
//! device's limits, a driver error), the same pass runs on the CPU reference and says so in
//! [`RanOn::fallback`]. The entry points are async because the browser can only wait for the GPU
//! asynchronously; natively, [`GpuBackend`] also implements the blocking [`Backend`](super::Backend)
//! trait.

use crate::blocks::{Block, BlockOutput, MapRequest};
use crate::error::{Error, Result};
use crate::gpu::{AdapterSummary, GpuDevice, Limits, PoolStats};
use crate::ran_on::{AttentionRow, RanOn};
use crate::tensor::{Dims, Tensor};

/// Runs blocks on a GPU adapter. Create it once: it compiles pipelines and pools buffers for all
/// later calls.
pub struct GpuBackend {
    device: GpuDevice,
}

impl GpuBackend {
    /// Opens the first adapter the system offers, with the adapter's own limits.
    pub async fn new() -> Result<Self> {
        Ok(Self { device: GpuDevice::new().await? })
    }

    /// Opens a device with `choose(adapter limits)`: tests use it to give a pass less room than
    /// it needs.
    pub async fn with_limits(choose: impl FnOnce(Limits) -> Limits) -> Result<Self> {
        Ok(Self { device: GpuDevice::with_limits(choose).await? })
    }

    pub fn adapter(&self) -> &AdapterSummary {
        self.device.adapter()
    }

    /// Device memory the buffer pool holds, now and at its peak.
    pub fn pool_stats(&self) -> PoolStats {
        self.device.pool_stats()
    }

    /// Destroys the device, as a driver reset would; later passes fall back to the CPU. For
    /// tests of that fallback.
    pub fn simulate_device_loss(&self) {
        self.device.simulate_device_loss()
    }

    /// The device, for a network's passes (`net::gpu`).
    pub(crate) fn device(&self) -> &GpuDevice {
        &self.device
    }

    pub(crate) fn ran_on(&self) -> RanOn {
        self.device.ran_on()
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
        let mut g = self.device.graph();
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
        let mut g = self.device.graph();
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
impl super::Backend for GpuBackend {
    fn kind(&self) -> crate::ran_on::BackendKind {
        crate::ran_on::BackendKind::Gpu
    }

    fn forward(&self, block: &Block, x: &Tensor, request: MapRequest) -> Result<BlockOutput> {
        pollster::block_on(self.forward_async(block, x, request))
    }

    fn attention_row(&self, block: &Block, x: &Tensor, query: usize) -> Result<AttentionRow> {
        pollster::block_on(self.attention_row_async(block, x, query))
    }
}
