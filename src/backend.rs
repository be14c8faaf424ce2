//! Where a forward pass runs. Every entry point (library, CLI, browser) picks a backend through
//! [`select_backend`]; blocks stay backend-agnostic. The CPU backend is the reference
//! implementation; the WebGPU backend (wgpu) plugs in here as a second [`Backend`].

use std::fmt;
use std::str::FromStr;

use crate::blocks::{Block, BlockOutput, MapRequest};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

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

/// What actually ran; reported to the user with every result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Gpu,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Gpu => "gpu",
        })
    }
}

/// A place to run blocks. Implementations validate nothing themselves: [`run_block`] and
/// [`attention_row`] check the input once, before any backend sees it.
pub trait Backend {
    fn kind(&self) -> BackendKind;

    /// The block's output and maps for a checked input.
    fn forward(&self, block: &Block, x: &Tensor, request: MapRequest) -> Result<BlockOutput>;

    /// The attention weights of one query position for a checked input.
    fn attention_row(&self, block: &Block, x: &Tensor, query: usize) -> Result<Tensor>;
}

/// The reference implementation: plain Rust kernels, no GPU.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn forward(&self, block: &Block, x: &Tensor, request: MapRequest) -> Result<BlockOutput> {
        let dims = block.check_input(x)?;
        block.check_request(dims, request)?;
        Ok(block.forward_cpu(x, dims, request))
    }

    fn attention_row(&self, block: &Block, x: &Tensor, query: usize) -> Result<Tensor> {
        let dims = block.check_input(x)?;
        block.attention_row_cpu(x, dims, query)
    }
}

/// Resolves a choice to a backend. No GPU backend is compiled in yet, so `auto` resolves to the
/// CPU and `gpu` is refused with a message saying so.
pub fn select_backend(choice: BackendChoice) -> Result<Box<dyn Backend>> {
    match choice {
        BackendChoice::Auto | BackendChoice::Cpu => Ok(Box::new(CpuBackend)),
        BackendChoice::Gpu => Err(Error::GpuUnavailable("the GPU backend is not built yet; use --backend cpu or auto".into())),
    }
}
