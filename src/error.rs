//! One error type for the whole library. Every variant renders as a single line that names the
//! problem (the key, the expected and the found shape, the option that does not fit), because the
//! CLI and the browser show it to a person as it is.

use std::fmt;

/// A tensor shape, printed as `[2, 64, 7, 7]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape(pub Vec<usize>);

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("{file}: not a valid safetensors file ({reason})")]
    BadFile { file: String, reason: String },

    #[error("weights: missing key `{key}` (block {block} expects it)")]
    MissingKey { block: &'static str, key: String },

    #[error("weights: unexpected key `{key}` for block {block}{hint}")]
    UnexpectedKey { block: &'static str, key: String, hint: String },

    #[error("weights: key `{key}` has shape {found}, expected {expected}")]
    WrongShape { key: String, expected: String, found: Shape },

    /// A file that is recognisably something else (a PyTorch checkpoint, a git-LFS pointer, ...):
    /// `what` says what it is and what to do (see [`crate::weights::sniff`]).
    #[error("{file}: {what}")]
    NotSafetensors { file: String, what: String },

    #[error("{file}: key `{key}` has dtype {found}, expected F32 (or F16, BF16); {remedy}")]
    WrongDtype { file: String, key: String, found: String, remedy: &'static str },

    /// A block's keys found only under a prefix the caller did not give: `found` is the full key
    /// that gave it away; `detail` says whose names they are when not timm's, and which other
    /// prefixes hold such a block.
    #[error("weights: block {block}'s keys are under `{prefix}` (found `{found}`{detail}): pass that prefix (`--prefix {prefix}`)")]
    KeysUnderPrefix { block: &'static str, prefix: String, found: String, detail: String },

    /// An error loading weights that were renamed from another code's convention: says which.
    #[error("{inner} (the weights were read with the names of {convention})")]
    Ported { convention: &'static str, inner: Box<Error> },

    /// A checkpoint's `config.json` that cannot be applied ([`crate::net::config`]); natively
    /// `--config none` sets it aside.
    #[error("{file}: {reason}")]
    BadConfig { file: String, reason: String },

    #[error("input: missing tensor `x` (found: {found})")]
    MissingInput { found: String },

    #[error("input: x has shape {found}, expected {expected}")]
    InputShape { expected: String, found: Shape },

    #[error("input: x holds a non-finite value ({value}) at index {index}")]
    NonFinite { index: usize, value: f32 },

    #[error("option {option} does not apply to block {block}")]
    OptionNotForBlock { option: &'static str, block: &'static str },

    #[error("option {option}: {reason}")]
    BadOption { option: &'static str, reason: String },

    /// A whole network's checkpoint that does not make a network this engine can run: a layer
    /// missing or of the wrong shape, an unknown block, branches that do not fit together, a
    /// head of the wrong size. The text is the one the command line has always given
    /// (`option model: ...`); the page shows the reason alone.
    #[error("option model: {reason}")]
    Checkpoint { reason: String },

    #[error("query position {query} is outside the {positions} positions of x")]
    QueryOutOfRange { query: usize, positions: usize },

    #[error("block {block} has no attention rows to show")]
    NoAttentionRows { block: &'static str },

    #[error("image: {0}")]
    BadImage(String),

    #[error("GPU backend unavailable: {0}")]
    GpuUnavailable(String),

    /// A GPU that was there could not finish a pass (device lost, a limit exceeded, a driver
    /// error). The GPU backend answers it by running the pass on the CPU instead.
    #[error("the GPU could not run this pass: {0}")]
    GpuFailed(String),
}

pub type Result<T> = std::result::Result<T, Error>;
