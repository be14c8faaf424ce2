//! One forward pass on the GPU, recorded then run: buffers come from the context's pool,
//! dispatches are recorded in order, and [`Graph::run`] encodes them into one compute pass,
//! copies only what the caller asked to read into one staging buffer, submits once and maps
//! once. Everything goes back to the pool afterwards.

use std::num::NonZeroU64;

use bytemuck::Pod;

use super::context::GpuContext;
use super::kernels::Kernel;
use crate::error::{Error, Result};

/// Threads per workgroup of the element-wise kernels (their `@workgroup_size(256)`).
const ELEMENTWISE_GROUP: u32 = 256;
/// Bytes of a pooled uniform buffer; every kernel's `Params` fits.
const PARAMS_BYTES: u64 = 256;

/// A float32 array on the device, part of one [`Graph`].
#[derive(Debug, Clone)]
pub(crate) struct GpuTensor {
    buffer: wgpu::Buffer,
    pub len: usize,
}

impl GpuTensor {
    fn binding(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.buffer,
            offset: 0,
            size: NonZeroU64::new(self.len.max(1) as u64 * 4),
        })
    }
}

struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

pub(crate) struct Graph<'c> {
    ctx: &'c GpuContext,
    dispatches: Vec<Dispatch>,
    reads: Vec<GpuTensor>,
    held: Vec<wgpu::Buffer>,
    // Error scopes around everything the graph does, shader compilation included; popped in
    // [`Graph::run`]. Declared inner scope first, so that dropping pops them in order.
    validation_scope: Option<wgpu::ErrorScopeGuard>,
    memory_scope: Option<wgpu::ErrorScopeGuard>,
}

impl<'c> Graph<'c> {
    pub fn new(ctx: &'c GpuContext) -> Self {
        let memory_scope = Some(ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory));
        let validation_scope = Some(ctx.device.push_error_scope(wgpu::ErrorFilter::Validation));
        ctx.begin_pass();
        Self { ctx, dispatches: Vec::new(), reads: Vec::new(), held: Vec::new(), validation_scope, memory_scope }
    }

    /// A tensor of `len` floats that a kernel will write (contents undefined until then).
    pub fn output(&mut self, len: usize) -> Result<GpuTensor> {
        let bytes = len.max(1) as u64 * 4;
        if bytes > self.ctx.limits.max_storage_buffer_binding_size {
            return Err(Error::GpuFailed(format!(
                "a tensor of {} MiB is over the device's storage binding limit of {} MiB",
                bytes >> 20,
                self.ctx.limits.max_storage_buffer_binding_size >> 20
            )));
        }
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
        let buffer = self.ctx.acquire(bytes, usage)?;
        self.held.push(buffer.clone());
        Ok(GpuTensor { buffer, len })
    }

    /// A device copy of `data`.
    /// A layer's weights (slot 0) or bias (slot 1), uploaded on the first pass that needs them and
    /// kept on the device for the next ([`GpuContext::cached_weights`]).
    pub fn weights(&mut self, layer: crate::layers::WeightId, slot: u8, data: &[f32]) -> Result<GpuTensor> {
        let buffer = self.ctx.cached_weights(layer.0, slot, data)?;
        Ok(GpuTensor { buffer, len: data.len() })
    }

    pub fn upload(&mut self, data: &[f32]) -> Result<GpuTensor> {
        let tensor = self.output(data.len())?;
        if !data.is_empty() {
            self.ctx.queue.write_buffer(&tensor.buffer, 0, bytemuck::cast_slice(data));
        }
        Ok(tensor)
    }

    /// Records `kernel` over `groups` workgroups; binding 0 is `params`, bindings 1.. are
    /// `tensors` in order (as the shader declares them).
    pub fn dispatch<P: Pod>(&mut self, kernel: Kernel, params: &P, tensors: &[&GpuTensor], groups: [u32; 3]) -> Result<()> {
        let max = self.ctx.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(Error::GpuFailed(format!(
                "{} needs {groups:?} workgroups, over the device's {max} per dimension",
                kernel.file_name()
            )));
        }
        // The Rust parameters must be the shader's `Params`, byte for byte: a field missing on
        // either side would shift every field after it, and nothing else would notice.
        #[cfg(all(debug_assertions, not(target_arch = "wasm32")))]
        if let Some(expected) = self.ctx.uniform_size(kernel) {
            assert_eq!(
                std::mem::size_of::<P>(),
                expected as usize,
                "{}: the Rust parameters and the WGSL uniform differ in size",
                kernel.file_name()
            );
        }
        let uniform = self.ctx.acquire(PARAMS_BYTES, wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST)?;
        self.held.push(uniform.clone());
        self.ctx.queue.write_buffer(&uniform, 0, bytemuck::bytes_of(params));

        let pipeline = self.ctx.pipeline(kernel);
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
        entries.extend(tensors.iter().enumerate().map(|(i, t)| wgpu::BindGroupEntry { binding: i as u32 + 1, resource: t.binding() }));
        let bind_group = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.file_name()),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        self.dispatches.push(Dispatch { pipeline, bind_group, groups });
        Ok(())
    }

    /// Records an element-wise kernel with one thread per element of `count`, spread over two
    /// grid dimensions when one would pass the device's limit.
    pub fn dispatch_elementwise<P: Pod>(&mut self, kernel: Kernel, params: &P, tensors: &[&GpuTensor], count: usize) -> Result<()> {
        let groups = (count.div_ceil(ELEMENTWISE_GROUP as usize)).max(1) as u32;
        let max = self.ctx.limits.max_compute_workgroups_per_dimension.max(1);
        let x = groups.min(max);
        self.dispatch(kernel, params, tensors, [x, groups.div_ceil(x), 1])
    }

    /// Asks for `tensor` to be read back when the graph runs; results come in the order asked.
    pub fn read(&mut self, tensor: &GpuTensor) {
        self.reads.push(tensor.clone());
    }

    /// Runs everything recorded with one submission and one readback, and returns the tensors
    /// asked for with [`Graph::read`], in order. Any device error becomes [`Error::GpuFailed`].
    pub async fn run(mut self) -> Result<Vec<Vec<f32>>> {
        let result = self.submit_and_read().await;
        for buffer in self.held.drain(..) {
            // After a failure a buffer may still be mapped or pending; do not hand it on.
            if result.is_ok() { self.ctx.release(buffer) } else { self.ctx.discard(buffer) }
        }
        result
    }

    async fn submit_and_read(&mut self) -> Result<Vec<Vec<f32>>> {
        if self.ctx.is_lost() {
            return Err(Error::GpuFailed("the GPU device was lost".into()));
        }
        let device = &self.ctx.device;

        let offsets: Vec<u64> = self
            .reads
            .iter()
            .scan(0u64, |at, t| {
                let start = *at;
                *at += t.len as u64 * 4;
                Some(start)
            })
            .collect();
        let total: u64 = self.reads.iter().map(|t| t.len as u64 * 4).sum();
        let staging = self.ctx.acquire(total.max(4), wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST)?;
        self.held.push(staging.clone());

        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("forward pass") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("blocks"), timestamp_writes: None });
            for d in &self.dispatches {
                pass.set_pipeline(&d.pipeline);
                pass.set_bind_group(0, &d.bind_group, &[]);
                pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
            }
        }
        for (t, &offset) in self.reads.iter().zip(&offsets) {
            if t.len > 0 {
                encoder.copy_buffer_to_buffer(&t.buffer, 0, &staging, offset, t.len as u64 * 4);
            }
        }
        self.ctx.queue.submit([encoder.finish()]);

        let (sender, receiver) = futures_channel::oneshot::channel();
        staging.slice(..total.max(4)).map_async(wgpu::MapMode::Read, move |r| {
            let _ = sender.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = device.poll(wgpu::PollType::wait_indefinitely());
        }
        let validation_error = match self.validation_scope.take() {
            Some(scope) => scope.pop().await,
            None => None,
        };
        let memory_error = match self.memory_scope.take() {
            Some(scope) => scope.pop().await,
            None => None,
        };
        if let Some(e) = validation_error.or(memory_error) {
            return Err(Error::GpuFailed(one_line(&e.to_string())));
        }
        let mapped = receiver.await.map_err(|_| Error::GpuFailed("the readback was cancelled".into()))?;
        mapped.map_err(|e| Error::GpuFailed(format!("reading results back failed ({e})")))?;
        if let Some(e) = self.ctx.take_uncaptured_error() {
            staging.unmap();
            return Err(Error::GpuFailed(one_line(&e)));
        }

        let results = {
            let view = staging.slice(..total.max(4)).get_mapped_range().map_err(|e| Error::GpuFailed(format!("{e}")))?;
            let all: Vec<f32> = bytemuck::pod_collect_to_vec(&view[..total as usize]);
            self.reads.iter().zip(&offsets).map(|(t, &o)| all[o as usize / 4..o as usize / 4 + t.len].to_vec()).collect()
        };
        staging.unmap();
        Ok(results)
    }
}

/// Driver messages run over many lines; the report is one line, and short.
fn one_line(message: &str) -> String {
    const LONGEST: usize = 400;
    let joined = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ");
    match joined.char_indices().nth(LONGEST) {
        Some((cut, _)) => format!("{}...", &joined[..cut]),
        None if joined.is_empty() => "unknown GPU error".into(),
        None => joined,
    }
}
