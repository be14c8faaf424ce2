//! Where a computation ran, reported with every result: the backend kind, the adapter, and why
//! the CPU ran when the GPU was asked for. A leaf of the module graph, so that the GPU device
//! library, the blocks and the backends can all name it.

use std::fmt;

use crate::tensor::Tensor;

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

/// Where a result was computed, reported with every result: the backend that ran, the adapter
/// it ran on, and why the CPU ran when the GPU was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RanOn {
    pub backend: BackendKind,
    /// The GPU adapter and its API, e.g. `llvmpipe (LLVM 15.0.6, 256 bits), Vulkan`.
    pub adapter: Option<String>,
    /// Set when the GPU was chosen or asked for and the CPU ran instead: why.
    pub fallback: Option<String>,
}

impl RanOn {
    pub fn cpu() -> Self {
        Self { backend: BackendKind::Cpu, adapter: None, fallback: None }
    }

    pub fn cpu_instead_of_gpu(reason: impl Into<String>) -> Self {
        Self { backend: BackendKind::Cpu, adapter: None, fallback: Some(reason.into()) }
    }

    /// The one of several places that a user's line should name: the first that fell back to the
    /// CPU (so the line says why), else the first; `None` for none.
    pub fn telling<'a>(places: impl IntoIterator<Item = &'a RanOn>) -> Option<&'a RanOn> {
        let mut first = None;
        for place in places {
            if place.fallback.is_some() {
                return Some(place);
            }
            first = first.or(Some(place));
        }
        first
    }
}

impl fmt::Display for RanOn {
    /// `gpu backend (llvmpipe, Vulkan)`, `cpu backend`, `cpu backend (instead of the GPU: ...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} backend", self.backend)?;
        match (&self.adapter, &self.fallback) {
            (_, Some(reason)) => write!(f, " (instead of the GPU: {reason})"),
            (Some(adapter), None) => write!(f, " ({adapter})"),
            (None, None) => Ok(()),
        }
    }
}

/// One query's attention weights and where they were computed.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionRow {
    /// `(N, Hk, Wk)` for Non-local, `(N, heads, H, W)` for self-attention.
    pub row: Tensor,
    pub ran_on: RanOn,
}
