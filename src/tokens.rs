//! Self-attention on a short token sequence, step by step: the token walkthrough of the page
//! (the "早上好" example of the tutorials this project grew from). First the attention with no
//! weights at all, the similarities `X Xᵀ` of the token embeddings and their softmax per row; then
//! with learned projections, per head `Q = X Wq`, `K = X Wk`, `V = X Wv`, the scaled scores
//! `Q Kᵀ / √d_k`, their softmax (the attention weights), `A V`, and the heads concatenated
//! through the output projection.
//!
//! The numbers come from the engine's own MHSA block (timm's `Attention2d`, `blocks/mhsa.rs`) on
//! the chosen backend: the tokens are its positions, an input `(1, D, 1, T)`. The attention weights
//! are the block's attention rows (one per query token) and the output is its forward pass; `Q`,
//! `K`, `V` are its `qkv` projection. The similarity step has no weights and is computed here.
//!
//! Embeddings and weights are small and fixed, so a reader can follow the numbers:
//! - each character's embedding has [`DIM`] values, one decimal each, in [-1, 1], drawn from the
//!   engine's SplitMix64 stream ([`Seeded`]) seeded with the character's Unicode code point: the
//!   same character always has the same embedding, on every machine;
//! - `Wq`, `Wk`, `Wv` and the output projection are timm-shaped seeded weights
//!   ([`seeded_weights`], seed [`WEIGHT_SEED`]), the same for every head count, which only splits
//!   the [`DIM`] channels into heads of `DIM / heads`. `Wq`, `Wk` and `Wv` are multiplied by
//!   [`QKV_GAIN`]: at timm's initialisation alone every token attends within a few percent of
//!   evenly, which would show nothing; trained weights are larger.

use crate::backend::{AnyBackend, RanOn};
use crate::blocks::init::{Seeded, seeded_weights};
use crate::blocks::{Block, BlockKind, BlockOptions, MapRequest};
use crate::error::{Error, Result};
use crate::kernels::activation::softmax_in_place;
use crate::kernels::linear::transpose;
use crate::tensor::Tensor;
use crate::weights::Weights;

/// Values per token embedding: divisible by every head count from 1 to [`MAX_HEADS`].
pub const DIM: usize = 12;
/// The longest sequence the walkthrough takes (its matrices stay readable).
pub const MAX_TOKENS: usize = 12;
pub const MAX_HEADS: usize = 4;
/// The seed of `Wq`, `Wk`, `Wv` and the output projection.
pub const WEIGHT_SEED: u64 = 2019;
/// The factor on `Wq`, `Wk`, `Wv` (and their bias) over timm's initialisation.
pub const QKV_GAIN: f32 = 4.0;

/// One head's steps; matrices are row-major, one row per token.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadSteps {
    /// `(T, d_k)` each, `d_k = DIM / heads`.
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    /// `Q Kᵀ / √d_k`, `(T, T)`.
    pub scores: Vec<f32>,
    /// The softmax of each row of `scores`, `(T, T)`: the engine's attention rows.
    pub weights: Vec<f32>,
    /// `A V`, `(T, d_k)`.
    pub out: Vec<f32>,
}

/// The whole walkthrough for one sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Walkthrough {
    /// The tokens, one character each.
    pub tokens: Vec<String>,
    /// The embeddings `X`, `(T, DIM)`.
    pub x: Vec<f32>,
    /// `X Xᵀ`, `(T, T)`, and its softmax per row.
    pub similarity: Vec<f32>,
    pub similarity_weights: Vec<f32>,
    /// `1 / √d_k`.
    pub scale: f32,
    pub heads: Vec<HeadSteps>,
    /// The block's output: the heads concatenated through the projection, `(T, DIM)`.
    pub output: Vec<f32>,
    pub ran_on: RanOn,
}

/// A character's embedding (see the module docs).
pub fn embedding(token: char) -> [f32; DIM] {
    let mut rng = Seeded(u64::from(u32::from(token)));
    std::array::from_fn(|_| (rng.next_unit() * 20.0 - 10.0).round() / 10.0)
}

/// The MHSA block of the walkthrough with `heads` heads.
pub fn block(heads: usize) -> Result<Block> {
    if !(1..=MAX_HEADS).contains(&heads) {
        return Err(Error::BadOption { option: "heads", reason: format!("{heads} heads; the walkthrough takes 1 to {MAX_HEADS}") });
    }
    let options = BlockOptions { heads: Some(heads), ..Default::default() };
    let seeded = seeded_weights(BlockKind::Mhsa, DIM, &options, WEIGHT_SEED)?;
    let weights = Weights::from_tensors(seeded.keys().map(|key| {
        let mut tensor = seeded.get(key).expect("a key of the dict").clone();
        if key.starts_with("qkv.") {
            tensor.data_mut().iter_mut().for_each(|w| *w *= QKV_GAIN);
        }
        (key.to_string(), tensor)
    }));
    Block::load(BlockKind::Mhsa, &weights, &options)
}

/// Every step for the characters of `text` (whitespace skipped) with `heads` heads, on `backend`.
/// Errors: no character, more than [`MAX_TOKENS`], or a head count outside 1 to [`MAX_HEADS`].
pub async fn walk(backend: &AnyBackend, text: &str, heads: usize) -> Result<Walkthrough> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.is_empty() || chars.len() > MAX_TOKENS {
        return Err(Error::BadOption {
            option: "tokens",
            reason: format!("{} characters; type 1 to {MAX_TOKENS} (each is one token)", chars.len()),
        });
    }
    let block = block(heads)?;
    let Block::Mhsa(mhsa) = &block else { unreachable!("block() builds an MHSA block") };
    let t = chars.len();
    let x: Vec<f32> = chars.iter().flat_map(|&c| embedding(c)).collect();
    let similarity = products(&x, &x, t, t, DIM, 1.0);
    let similarity_weights = softmax_rows(&similarity, t);

    // The block's input: channel-major `(1, DIM, 1, T)`.
    let channels = transpose(&x, t, DIM);
    let input = Tensor::new(vec![1, DIM, 1, t], channels.clone()).expect("the tokens' shape");
    let forward = backend.forward(&block, &input, MapRequest::default()).await?;
    let mut rows = Vec::with_capacity(t);
    for query in 0..t {
        rows.push(backend.attention_row(&block, &input, query).await?.row);
    }
    let dk = DIM / heads;
    let scale = (dk as f32).powf(-0.5);
    let heads = mhsa
        .project(&channels, t)
        .into_iter()
        .enumerate()
        .map(|(h, [q, k, v])| {
            let weights: Vec<f32> = rows.iter().flat_map(|r| r.data()[h * t..(h + 1) * t].to_vec()).collect();
            let out = products(&weights, &transpose(&v, t, dk), t, dk, t, 1.0);
            HeadSteps { scores: products(&q, &k, t, t, dk, scale), weights, out, q, k, v }
        })
        .collect();
    Ok(Walkthrough {
        tokens: chars.iter().map(char::to_string).collect(),
        x,
        similarity,
        similarity_weights,
        scale,
        heads,
        output: transpose(forward.y.data(), DIM, t),
        ran_on: forward.ran_on,
    })
}

/// `scale * a bᵀ` of `a` `(n, d)` and `b` `(m, d)`, row-major: `(n, m)`.
fn products(a: &[f32], b: &[f32], n: usize, m: usize, d: usize, scale: f32) -> Vec<f32> {
    (0..n).flat_map(|i| (0..m).map(move |j| scale * (0..d).map(|c| a[i * d + c] * b[j * d + c]).sum::<f32>())).collect()
}

fn softmax_rows(m: &[f32], width: usize) -> Vec<f32> {
    let mut out = m.to_vec();
    out.chunks_exact_mut(width).for_each(softmax_in_place);
    out
}
