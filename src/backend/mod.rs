//! Where a forward pass runs. Every entry point (library, CLI, browser) picks a backend through
//! [`select_backend`]; blocks stay backend-agnostic. The CPU backend is the reference
//! implementation; the GPU backend (`crate::gpu`, wgpu) is tested against it.

use std::str::FromStr;

mod gpu;

use crate::blocks::{Block, BlockOutput, MapRequest};
use crate::error::{Error, Result};
pub use crate::ran_on::{AttentionRow, BackendKind, RanOn};
use crate::simd::Kernels;
use crate::tensor::Tensor;
pub use gpu::GpuBackend;

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The GPU when an adapter exists, else the CPU.
    #[default]
    Auto,
    /// Never touches a GPU.
    Cpu,
    /// The GPU or a clear error.
    Gpu,
}

impl FromStr for BackendChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            _ => Err(Error::BadOption { option: "--backend", reason: format!("unknown value `{s}` (one of: auto, cpu, gpu)") }),
        }
    }
}

/// A place to run blocks. Each implementation checks the input (shape, channels, finite values,
/// the size of what was requested) before it computes anything.
pub trait Backend {
    fn kind(&self) -> BackendKind;

    /// The block's output and maps.
    fn forward(&self, block: &Block, x: &Tensor, request: MapRequest) -> Result<BlockOutput>;

    /// The attention weights of one query position (row-major over H x W).
    fn attention_row(&self, block: &Block, x: &Tensor, query: usize) -> Result<AttentionRow>;
}

/// The CPU: the fastest SIMD kernels this machine runs (see [`crate::simd`]), or any other
/// variant, the plain reference included. No GPU.
#[derive(Debug, Clone)]
pub struct CpuBackend {
    /// Why `auto` chose the CPU although a GPU was looked for; reported with every result.
    instead_of_gpu: Option<String>,
    kernels: Kernels,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self { instead_of_gpu: None, kernels: Kernels::best() }
    }
}

impl CpuBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// The CPU with a chosen kernel variant (tests run every variant; `bench --kernels`).
    pub fn with_kernels(kernels: Kernels) -> Self {
        Self { instead_of_gpu: None, kernels }
    }

    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Why `auto` chose the CPU, when it looked for a GPU first.
    pub fn instead_of_gpu(&self) -> Option<&str> {
        self.instead_of_gpu.as_deref()
    }

    fn ran_on(&self) -> RanOn {
        match &self.instead_of_gpu {
            Some(reason) => RanOn::cpu_instead_of_gpu(reason.clone()),
            None => RanOn::cpu(),
        }
    }
}

impl Backend for CpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn forward(&self, block: &Block, x: &Tensor, request: MapRequest) -> Result<BlockOutput> {
        let dims = block.check_shape(x)?;
        if !request.propagate_non_finite && !block.checks_finite_itself(self.kernels) {
            x.check_finite()?;
        }
        block.check_request(dims, request)?;
        let mut out = match block.forward_cpu(x, dims, request, self.kernels) {
            // The fast kernels stop at a non-finite input (their check rides on their first
            // pass); the plain code, which checks nothing, carries it through as PyTorch does.
            Err(Error::NonFinite { .. }) if request.propagate_non_finite => block.forward_cpu(x, dims, request, Kernels::Reference)?,
            other => other?,
        };
        out.ran_on = self.ran_on();
        Ok(out)
    }

    fn attention_row(&self, block: &Block, x: &Tensor, query: usize) -> Result<AttentionRow> {
        let dims = block.check_input(x)?;
        Ok(AttentionRow { row: block.attention_row_cpu(x, dims, query)?, ran_on: self.ran_on() })
    }
}

/// A backend chosen at run time, with async entry points that run the same in the browser and
/// natively. [`select_backend`] wraps it for blocking native callers.
pub enum AnyBackend {
    Cpu(CpuBackend),
    Gpu(Box<GpuBackend>),
}

impl AnyBackend {
    /// The CPU kernels work off the GPU runs on: the CPU backend's, or the fastest here.
    pub fn cpu_kernels(&self) -> Kernels {
        match self {
            Self::Cpu(cpu) => cpu.kernels(),
            Self::Gpu(_) => Kernels::best(),
        }
    }

    /// Where a network's layers run on this backend: the GPU's adapter, or the CPU (with why
    /// `auto` did not take a GPU).
    pub fn layers_ran_on(&self) -> RanOn {
        match self {
            Self::Cpu(cpu) => cpu.ran_on(),
            Self::Gpu(gpu) => gpu.ran_on(),
        }
    }

    /// Resolves a choice:
    /// - `cpu` never touches a GPU;
    /// - `gpu` opens the first adapter, software ones included, or fails with the reason;
    /// - `auto` takes a hardware adapter and otherwise the CPU, saying why in every result. A
    ///   software rasteriser (Mesa's llvmpipe) computes the same numbers as the CPU path but no
    ///   faster, so natively `auto` leaves it to an explicit `gpu`. In the browser `auto` takes
    ///   whatever WebGPU adapter the browser offers (SwiftShader included): the browser, not the
    ///   page, decides what WebGPU runs on.
    pub async fn select(choice: BackendChoice) -> Result<Self> {
        match choice {
            BackendChoice::Cpu => Ok(Self::Cpu(CpuBackend::new())),
            BackendChoice::Gpu => Ok(Self::Gpu(Box::new(GpuBackend::new().await?))),
            BackendChoice::Auto => Ok(match GpuBackend::new().await {
                Ok(gpu) if !gpu.adapter().software || cfg!(target_arch = "wasm32") => Self::Gpu(Box::new(gpu)),
                Ok(gpu) => Self::Cpu(CpuBackend {
                    instead_of_gpu: Some(format!("the only GPU adapter, {}, is a software one; --backend gpu uses it", gpu.adapter().name)),
                    ..CpuBackend::default()
                }),
                // The reason without the advice to choose the CPU backend or auto: auto was chosen.
                Err(e) => Self::Cpu(CpuBackend {
                    instead_of_gpu: Some(e.to_string().split("; choose the CPU backend").next().unwrap_or_default().to_string()),
                    ..CpuBackend::default()
                }),
            }),
        }
    }

    pub fn kind(&self) -> BackendKind {
        match self {
            Self::Cpu(_) => BackendKind::Cpu,
            Self::Gpu(_) => BackendKind::Gpu,
        }
    }

    pub async fn forward(&self, block: &Block, x: &Tensor, request: MapRequest) -> Result<BlockOutput> {
        match self {
            Self::Cpu(cpu) => cpu.forward(block, x, request),
            Self::Gpu(gpu) => gpu.forward_async(block, x, request).await,
        }
    }

    pub async fn attention_row(&self, block: &Block, x: &Tensor, query: usize) -> Result<AttentionRow> {
        match self {
            Self::Cpu(cpu) => cpu.attention_row(block, x, query),
            Self::Gpu(gpu) => gpu.attention_row_async(block, x, query).await,
        }
    }
}

/// Resolves a choice to a blocking backend, natively; see [`AnyBackend::select`] for the policy.
#[cfg(not(target_arch = "wasm32"))]
pub fn select_backend(choice: BackendChoice) -> Result<Box<dyn Backend>> {
    Ok(match pollster::block_on(AnyBackend::select(choice))? {
        AnyBackend::Cpu(cpu) => Box::new(cpu),
        AnyBackend::Gpu(gpu) => gpu,
    })
}
