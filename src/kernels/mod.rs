//! Plain CPU kernels shared by the blocks. They are the reference every faster path (WGSL
//! shaders, SIMD) is tested against, so they favour clarity and accuracy: reductions accumulate
//! in f64, loops run over contiguous memory so the compiler can vectorise them.
//!
//! Layout: one image at a time, channel-major `(C, H*W)` unless a function says otherwise.

pub mod activation;
pub mod attention;
pub mod conv;
pub mod linear;
pub mod norm;
pub mod pooling;
