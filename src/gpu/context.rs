//! The GPU context, created once per backend: adapter and device (with the adapter's own limits,
//! not WebGPU's 128 MiB default), compiled pipelines cached by kernel, and a pool of buffers
//! reused across forward passes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::kernels::Kernel;
use crate::error::{Error, Result};

/// Bytes a pooled buffer is rounded up to, at least: small parameter and weight buffers then
/// share a handful of size classes.
const MIN_BUFFER_BYTES: u64 = 256;
/// Bytes of free buffers the pool keeps for later passes; beyond it, released buffers go back to
/// the driver.
const FREE_BYTES_KEPT: u64 = 512 << 20;

/// What the adapter is, for reports ("ran on the gpu backend (llvmpipe, Vulkan)").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    /// A software rasteriser (Mesa's lavapipe/llvmpipe, SwiftShader natively): correct but no
    /// faster than the CPU path, so `auto` does not pick it natively.
    pub software: bool,
}

/// Bytes of a network's weights kept on the device between passes, at most; past it the weights
/// used longest ago are let go (and uploaded again when a pass needs them).
const WEIGHT_CACHE_BYTES: u64 = 1 << 30;

/// Device-memory accounting of the buffer pool and of the weights kept between passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Bytes of a network's weights kept on the device for the next pass.
    pub cached_weight_bytes: u64,
    /// Bytes of weights uploaded since the context was made: a network's first pass uploads its
    /// weights, later passes nothing (while they fit [`WEIGHT_CACHE_BYTES`]).
    pub weight_bytes_uploaded: u64,
    /// Bytes of buffers alive now (in use or free in the pool).
    pub allocated_bytes: u64,
    /// The most that was ever alive at once.
    pub peak_bytes: u64,
    /// Buffers created since the context was made; stays flat once passes reuse the pool.
    pub buffers_created: u64,
    /// Bytes of buffers waiting in the pool for the next pass.
    pub free_bytes: u64,
}

pub(crate) struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub limits: wgpu::Limits,
    pub adapter: AdapterSummary,
    pipelines: RefCell<HashMap<Kernel, wgpu::ComputePipeline>>,
    /// Per kernel, the size in bytes of its uniform (binding 0) as the WGSL lays it out: debug
    /// builds check every dispatch's Rust parameters against it.
    #[cfg(all(debug_assertions, not(target_arch = "wasm32")))]
    uniform_sizes: RefCell<HashMap<Kernel, Option<u32>>>,
    free: RefCell<HashMap<(u64, wgpu::BufferUsages), Vec<wgpu::Buffer>>>,
    /// Uploaded weights by (layer, slot): the buffer and the pass that last used it.
    weights: RefCell<HashMap<(u64, u8), (wgpu::Buffer, u64)>>,
    passes: std::cell::Cell<u64>,
    stats: RefCell<PoolStats>,
    lost: Arc<AtomicBool>,
    uncaptured: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Finds an adapter and opens a device with `choose_limits(adapter limits)`.
    pub async fn new(choose_limits: impl FnOnce(wgpu::Limits) -> wgpu::Limits) -> Result<Self> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Error::GpuUnavailable(if cfg!(target_arch = "wasm32") {
                    // wgpu's own text lists its backends, which mean nothing to a reader of the page.
                    "this browser offers no WebGPU adapter (WebGPU is off, unsupported, or blocked for this GPU); choose the CPU backend, or auto, which falls back to it".into()
                } else {
                    format!("no GPU adapter found ({e})")
                })
            })?;
        let info = adapter.get_info();
        let limits = choose_limits(adapter.limits());
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("attention-playground"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::GpuUnavailable(format!("the adapter {} refused a device ({e})", info.name)))?;

        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        device.set_device_lost_callback(move |_, _| flag.store(true, Ordering::SeqCst));
        // Errors outside an error scope would otherwise panic natively; keep them for the report.
        let uncaptured = Arc::new(Mutex::new(None));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut slot) = sink.lock() {
                *slot = Some(e.to_string());
            }
        }));

        let name = if info.name.is_empty() { "WebGPU adapter".to_string() } else { info.name.clone() };
        Ok(Self {
            device,
            queue,
            limits,
            adapter: AdapterSummary { name, backend: info.backend.to_string(), software: info.device_type == wgpu::DeviceType::Cpu },
            pipelines: RefCell::default(),
            #[cfg(all(debug_assertions, not(target_arch = "wasm32")))]
            uniform_sizes: RefCell::default(),
            free: RefCell::default(),
            weights: RefCell::default(),
            passes: std::cell::Cell::new(0),
            stats: RefCell::default(),
            lost,
            uncaptured,
        })
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// An error reported outside any error scope since the last call, if any.
    pub fn take_uncaptured_error(&self) -> Option<String> {
        self.uncaptured.lock().ok().and_then(|mut slot| slot.take())
    }

    pub fn stats(&self) -> PoolStats {
        *self.stats.borrow()
    }

    /// The kernel's pipeline, compiled on first use.
    pub fn pipeline(&self, kernel: Kernel) -> wgpu::ComputePipeline {
        self.pipelines
            .borrow_mut()
            .entry(kernel)
            .or_insert_with(|| {
                let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel.file_name()),
                    source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
                });
                self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(kernel.file_name()),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })
            .clone()
    }

    /// The size of `kernel`'s uniform block (its one `var<uniform>`) as WGSL lays it out, by
    /// naga's layouter; `None` for a shader without one.
    #[cfg(all(debug_assertions, not(target_arch = "wasm32")))]
    pub fn uniform_size(&self, kernel: Kernel) -> Option<u32> {
        *self.uniform_sizes.borrow_mut().entry(kernel).or_insert_with(|| {
            let module = naga::front::wgsl::parse_str(kernel.source()).expect("the shaders parse (a unit test checks it)");
            let mut layouter = naga::proc::Layouter::default();
            layouter.update(module.to_ctx()).expect("the shaders lay out");
            module.global_variables.iter().find(|(_, var)| var.space == naga::AddressSpace::Uniform).map(|(_, var)| layouter[var.ty].size)
        })
    }

    /// A buffer of at least `bytes` with `usage`, from the pool when one is free.
    pub fn acquire(&self, bytes: u64, usage: wgpu::BufferUsages) -> Result<wgpu::Buffer> {
        if bytes > self.limits.max_buffer_size {
            return Err(Error::GpuFailed(format!(
                "a buffer of {} MiB is over the device's limit of {} MiB",
                bytes >> 20,
                self.limits.max_buffer_size >> 20
            )));
        }
        let class = size_class(bytes, self.limits.max_buffer_size);
        if let Some(buffer) = self.free.borrow_mut().get_mut(&(class, usage)).and_then(Vec::pop) {
            self.stats.borrow_mut().free_bytes -= class;
            return Ok(buffer);
        }
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor { label: None, size: class, usage, mapped_at_creation: false });
        let mut stats = self.stats.borrow_mut();
        stats.allocated_bytes += class;
        stats.peak_bytes = stats.peak_bytes.max(stats.allocated_bytes);
        stats.buffers_created += 1;
        Ok(buffer)
    }

    /// A new pass begins (for [`GpuContext::cached_weights`]' notion of "used longest ago").
    pub fn begin_pass(&self) {
        self.passes.set(self.passes.get() + 1);
    }

    /// The buffer holding `data`, the weights of layer `layer` in slot `slot` (weight, bias):
    /// uploaded on first use and kept for later passes. The caller guarantees that `layer` names
    /// these values (`crate::layers::WeightId`). Past [`WEIGHT_CACHE_BYTES`] the weights
    /// used longest ago are dropped first, never those of the pass under way.
    pub fn cached_weights(&self, layer: u64, slot: u8, data: &[f32]) -> Result<wgpu::Buffer> {
        let pass = self.passes.get();
        let mut weights = self.weights.borrow_mut();
        if let Some((buffer, used)) = weights.get_mut(&(layer, slot)) {
            *used = pass;
            return Ok(buffer.clone());
        }
        let bytes = (data.len().max(1) * 4) as u64;
        if bytes > self.limits.max_buffer_size {
            return Err(Error::GpuFailed(format!(
                "a weight of {} MiB is over the device's limit of {} MiB",
                bytes >> 20,
                self.limits.max_buffer_size >> 20
            )));
        }
        let mut stats = self.stats.borrow_mut();
        while stats.cached_weight_bytes + bytes > WEIGHT_CACHE_BYTES {
            let oldest = weights.iter().filter(|(_, (_, used))| *used < pass).min_by_key(|(_, (_, used))| *used).map(|(k, _)| *k);
            let Some(key) = oldest else { break };
            let (buffer, _) = weights.remove(&key).expect("an entry just found");
            stats.cached_weight_bytes -= buffer.size();
            stats.allocated_bytes -= buffer.size();
            buffer.destroy();
        }
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let buffer =
            self.device.create_buffer(&wgpu::BufferDescriptor { label: Some("weights"), size: bytes, usage, mapped_at_creation: false });
        if !data.is_empty() {
            self.queue.write_buffer(&buffer, 0, bytemuck::cast_slice(data));
        }
        stats.cached_weight_bytes += bytes;
        stats.weight_bytes_uploaded += bytes;
        stats.allocated_bytes += bytes;
        stats.peak_bytes = stats.peak_bytes.max(stats.allocated_bytes);
        stats.buffers_created += 1;
        weights.insert((layer, slot), (buffer.clone(), pass));
        Ok(buffer)
    }

    /// Gives a buffer back to the pool (or to the driver when its class is full).
    pub fn release(&self, buffer: wgpu::Buffer) {
        let mut stats = self.stats.borrow_mut();
        if stats.free_bytes + buffer.size() <= FREE_BYTES_KEPT {
            stats.free_bytes += buffer.size();
            self.free.borrow_mut().entry((buffer.size(), buffer.usage())).or_default().push(buffer);
        } else {
            drop(stats);
            self.discard(buffer);
        }
    }

    /// Gives a buffer back to the driver instead of the pool.
    pub fn discard(&self, buffer: wgpu::Buffer) {
        self.stats.borrow_mut().allocated_bytes -= buffer.size();
        buffer.destroy();
    }
}

/// The next power of two (at least [`MIN_BUFFER_BYTES`]), or `bytes` itself (rounded to 4) when
/// the power of two would pass the device's limit.
fn size_class(bytes: u64, max: u64) -> u64 {
    let class = bytes.max(MIN_BUFFER_BYTES).next_power_of_two();
    if class <= max { class } else { bytes.div_ceil(4) * 4 }
}
