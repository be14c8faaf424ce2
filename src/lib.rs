//! attention-playground: the attention blocks of CNNs (SE, CBAM, Non-local, ECA, GC, multi-head
//! self-attention), computed exactly as timm computes them, with the maps that show what each
//! block attends to.
//!
//! ```text
//! weights (safetensors, timm names) ──► Block::load ──► Backend::forward(x) ──► y + maps
//! ```
//!
//! The library has no file system or thread use, so it builds for `wasm32-unknown-unknown` as it
//! does natively; the command-line tool lives in `src/main.rs` and `src/cli.rs`.

pub mod backend;
pub mod blocks;
pub mod error;
pub mod kernels;
pub mod tensor;
pub mod weights;

pub use backend::{Backend, BackendChoice, BackendKind, CpuBackend, select_backend};
pub use blocks::{Block, BlockKind, BlockOptions, BlockOutput, MapRequest};
pub use error::{Error, Result};
pub use tensor::Tensor;
pub use weights::Weights;
