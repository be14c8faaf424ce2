//! attention-playground: the attention blocks of CNNs (SE, CBAM, Non-local, ECA, GC, multi-head
//! self-attention), computed exactly as timm computes them, with the maps that show what each
//! block attends to.
//!
//! ```text
//! weights (safetensors, timm names) ──► Block::load ──► Backend::forward(x) ──► y + maps
//! ```
//!
//! ```
//! use attention_playground::blocks::init::seeded_weights;
//! use attention_playground::{select_backend, BackendChoice, Block, BlockKind, BlockOptions, MapRequest, Tensor};
//!
//! // A CBAM block for 16 channels (real use: `Weights::from_safetensors(&bytes)` of a timm state dict).
//! let options = BlockOptions::default();
//! let weights = seeded_weights(BlockKind::Cbam, 16, &options, 7)?;
//! let block = Block::load(BlockKind::Cbam, &weights, &options)?;
//!
//! let x = Tensor::new(vec![1, 16, 5, 6], (0..480).map(|i| (i as f32 * 0.1).sin()).collect()).unwrap();
//! let backend = select_backend(BackendChoice::Auto)?;
//! let out = backend.forward(&block, &x, MapRequest::default())?;
//!
//! assert_eq!(out.y.shape(), x.shape());
//! assert_eq!(out.maps["channel"].shape(), &[1, 16]); // one gate per channel
//! assert_eq!(out.maps["spatial"].shape(), &[1, 5, 6]); // one gate per position
//! assert!(out.maps["spatial"].data().iter().all(|&s| s > 0.0 && s < 1.0));
//! # Ok::<(), attention_playground::Error>(())
//! ```
//!
//! The library has no file system or thread use, so it builds for `wasm32-unknown-unknown` as it
//! does natively; the command-line tool lives in `src/bin/attention-playground/`, one module per
//! subcommand.

pub mod analysis;
pub mod backend;
pub mod blocks;
pub mod error;
pub mod gpu;
pub mod kernels;
pub mod layers;
pub mod model;
pub mod net;
pub mod options;
pub mod photo;
pub mod ran_on;
pub mod report;
pub mod scenes;
pub mod simd;
pub mod tensor;
pub mod tokens;
/// The `#[wasm_bindgen]` surface the browser playground's worker calls.
#[cfg(target_arch = "wasm32")]
pub mod web;
pub mod weights;

pub use backend::GpuBackend;
#[cfg(not(target_arch = "wasm32"))]
pub use backend::select_backend;
pub use backend::{AnyBackend, AttentionRow, Backend, BackendChoice, BackendKind, CpuBackend, RanOn};
pub use blocks::{Block, BlockKind, BlockOptions, BlockOutput, MapRequest};
pub use error::{Error, Result};
pub use tensor::Tensor;
pub use weights::Weights;
