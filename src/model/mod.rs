//! The playground's network, trained on generated scenes (see [`crate::scenes`] and
//! `tools/train`). The attention blocks sit at two depths:
//!
//! ```text
//! RGB photo (3, H, W) in [0, 1], scaled to 96 px on its longer side (image.rs)
//!   ──► stem: 16 fixed, named channels at H/4          (stem.rs: "red", "vertical edges, fine", ...)
//!   ──► se ──► eca ──► gc                               early blocks, on the named channels
//!   ──► body.conv1: 3x3 conv 16 -> 32, ReLU, 2x2 max pool  (H/8)
//!   ──► cbam ──► nonlocal ──► mhsa (as x + mhsa(x))      late blocks, on learned channels
//!   ──► body.conv2: 3x3 conv 32 -> 64, ReLU, 2x2 max pool  (H/16)
//!   ──► body.conv3: 3x3 conv 64 -> 128, ReLU              (its receptive field covers the object)
//!   ──► mean over positions ──► head.fc ──► one logit per shape class
//! ```
//!
//! The network is a [`Net`] like any loaded one, built by `net::families::scenes` (the grid
//! `body.conv3` sees is at most 6 x 6, the training scenes' grid, since the photo is scaled to
//! 96 px first). A block that is switched off is the identity. MHSA runs as a residual branch, as in the
//! self-attention blocks of BoTNet and timm's ByobNet (timm's `Attention2d` has no residual of its
//! own), so off means `x + 0`. The other blocks carry their residual (Non-local) or are gates.
//!
//! Weights are one state dict: `body.conv1.weight`, `head.fc.bias`, ..., and each block under its
//! name with timm's names after the prefix (`se.fc1.weight`, `cbam.channel.fc1.weight`,
//! `nonlocal.t.weight`, ...). The trained dict ships in the crate ([`TRAINED_WEIGHTS`]); any dict
//! with the same names loads through [`Model::load`].

pub mod report;

// The network's shape, its stem and its photo scaling live with its builder; they are the
// bundled network's, so they are named here too.
pub use crate::net::families::scenes::{
    BODY_WIDTHS, CBAM_RD, EARLY_BLOCKS, LATE_BLOCKS, MHSA_HEADS, channel_names, channels_at, image, load_block, stem, trained_options,
};

use crate::backend::{AnyBackend, AttentionRow};
use crate::blocks::{Block, BlockKind, BlockOptions, BlockOutput, MapRequest};
use crate::error::{Error, Result};
use crate::net::families::scenes;
use crate::net::{AttentionLayer, Features, Net, Node, Off, State};
use crate::scenes::CLASSES;
use crate::simd::Kernels;
use crate::tensor::Tensor;
use crate::weights::Weights;

/// The state dict `tools/train` wrote for the shipped network (every block present).
pub const TRAINED_WEIGHTS: &[u8] = include_bytes!("trained.safetensors");

/// The blocks to run and their options, in any order (they always run in the network's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelConfig {
    pub blocks: Vec<(BlockKind, BlockOptions)>,
}

impl ModelConfig {
    /// Every block on, with the options the network was trained with.
    pub fn all_trained() -> Self {
        Self { blocks: EARLY_BLOCKS.iter().chain(&LATE_BLOCKS).map(|&k| (k, trained_options(k))).collect() }
    }
}

/// One block's part of a run: what went in, what came out (with its maps), how long it took.
pub struct Stage {
    pub kind: BlockKind,
    pub input: Tensor,
    pub output: BlockOutput,
    pub ms: f64,
}

/// The class probabilities of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub probabilities: Vec<f32>,
}

impl Prediction {
    fn from_logits(logits: &[f32]) -> Self {
        let mut probabilities = logits.to_vec();
        crate::kernels::activation::softmax_in_place(&mut probabilities);
        Self { probabilities }
    }

    /// The most probable class's index.
    pub fn top(&self) -> usize {
        (0..self.probabilities.len()).fold(0, |best, i| if self.probabilities[i] > self.probabilities[best] { i } else { best })
    }

    pub fn label(&self) -> &'static str {
        CLASSES[self.top()]
    }
}

pub struct ModelRun {
    /// The stem's output.
    pub features: Tensor,
    pub stem_ms: f64,
    /// The three convolutions and the classifier together.
    pub body_ms: f64,
    pub stages: Vec<Stage>,
    pub prediction: Prediction,
    /// The CPU kernels the layers ran on where they ran on the CPU (and
    /// [`Model::predict_without_blocks`] runs on).
    pub kernels: Kernels,
}

impl ModelRun {
    pub fn stage(&self, kind: BlockKind) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == kind)
    }
}

/// The bundled network with the blocks of a [`ModelConfig`] switched on: a [`Net`] built by
/// [`crate::net::families::scenes`], run node by node so that every block's input, output, maps
/// and time are kept ([`ModelRun::stages`]), which the page's views draw.
#[derive(Debug, Clone)]
pub struct Model {
    net: Net,
}

impl Model {
    /// The shipped network with the blocks of `config` switched on.
    pub fn trained(config: &ModelConfig) -> Result<Self> {
        Self::load(&Weights::from_safetensors(TRAINED_WEIGHTS)?, config)
    }

    /// Loads the body and the blocks in `config` from one state dict (names in the module docs).
    /// Keys of blocks that are off are ignored, so one dict serves every on/off combination.
    pub fn load(weights: &Weights, config: &ModelConfig) -> Result<Self> {
        Ok(Self { net: scenes::build(weights, &config.blocks)? })
    }

    /// The network these runs go through.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The configuration with every block on: `config`'s blocks with their options, and the
    /// others with the options the network was trained with. What a run with some blocks off is
    /// compared with.
    pub fn all_on(config: &ModelConfig) -> ModelConfig {
        let mut all = ModelConfig::all_trained();
        for (kind, options) in &mut all.blocks {
            if let Some((_, given)) = config.blocks.iter().find(|(k, _)| k == kind) {
                *options = given.clone();
            }
        }
        all
    }

    /// Swaps in other weights for one block (a user's own), checked against the channels the
    /// block sees in this network.
    pub fn replace_block(&mut self, kind: BlockKind, weights: &Weights, options: &BlockOptions) -> Result<()> {
        let block = load_block(kind, weights, options)?;
        match self.net.attention_mut(kind.name()) {
            Some(attention) => {
                attention.layer = AttentionLayer::Block(block);
                Ok(())
            }
            None => Err(Error::BadOption { option: "block", reason: format!("block {} is not switched on", kind.name()) }),
        }
    }

    pub fn block(&self, kind: BlockKind) -> Option<&Block> {
        self.net.attention_blocks().into_iter().find(|a| a.path == kind.name()).and_then(|a| match &a.layer {
            AttentionLayer::Block(block) => Some(block),
            AttentionLayer::Gate { .. } | AttentionLayer::Branches(_) => None,
        })
    }

    /// Runs the stem on `image` scaled to [`image::NETWORK_SIDE`] (the scale of the training
    /// scenes), then the rest of the network on `backend`: on the GPU each block and each
    /// convolution is a pass on the device, on the CPU the layers run on its kernels. `clock`
    /// gives milliseconds (`performance.now()` in the browser) for the per-stage timings.
    pub async fn run(&self, backend: &AnyBackend, image: &Tensor, clock: &dyn Fn() -> f64) -> Result<ModelRun> {
        let off = Off::default();
        let mut state = State::new(backend.cpu_kernels(), backend, &off);
        let start = clock();
        let features = state.node(&self.net.nodes[0], Features::from_tensor(image)).await?.to_tensor();
        let stem_ms = clock() - start;
        self.run_from_features(backend, features, stem_ms, clock).await
    }

    /// [`Model::run`] from the stem's output (the stem has no weights, so any configuration's run
    /// of a photo can start from another's `features`).
    pub async fn run_from_features(
        &self,
        backend: &AnyBackend,
        features: Tensor,
        stem_ms: f64,
        clock: &dyn Fn() -> f64,
    ) -> Result<ModelRun> {
        let off = Off::default();
        let kernels = backend.cpu_kernels();
        let mut state = State::new(kernels, backend, &off);
        let mut stages = Vec::new();
        let mut body_ms = 0.0;
        let mut x = Features::from_tensor(&features);
        for node in self.after_stem() {
            let kind = block_of(node);
            let input = kind.map(|_| x.to_tensor());
            let start = clock();
            x = state.node(node, x).await?;
            let ms = clock() - start;
            match (kind, input) {
                (Some(kind), Some(input)) => {
                    let record = state.records.pop().expect("a block's module records the block");
                    let ran_on = record.ran_on.expect("a block that is on says where it ran");
                    stages.push(Stage { kind, input, output: BlockOutput { y: x.to_tensor(), maps: record.maps, ran_on }, ms });
                }
                _ => body_ms += ms,
            }
        }
        Ok(ModelRun { features, stem_ms, body_ms, stages, prediction: Prediction::from_logits(&x.into_data()), kernels })
    }

    /// The prediction of the network with every block off, from the stem features of `run`: what
    /// the body alone makes of the same photo.
    pub async fn predict_without_blocks(&self, backend: &AnyBackend, run: &ModelRun) -> Result<Prediction> {
        let off = Off(BlockKind::ALL.iter().map(|k| k.name().to_string()).collect());
        let mut state = State::new(run.kernels, backend, &off);
        let mut x = Features::from_tensor(&run.features);
        for node in self.after_stem() {
            x = state.node(node, x).await?;
        }
        Ok(Prediction::from_logits(&x.into_data()))
    }

    /// The network's nodes after its fixed stem (`nodes[0]`, [`Node::SceneStem`]).
    fn after_stem(&self) -> &[Node] {
        &self.net.nodes[1..]
    }

    /// [`crate::analysis::query_independence`] of block `kind` (Non-local or MHSA) with a
    /// `side x side` grid of queries, on the input that block saw in `run`.
    pub async fn query_independence(
        &self,
        backend: &AnyBackend,
        run: &ModelRun,
        kind: BlockKind,
        side: usize,
    ) -> Result<crate::analysis::QueryIndependence> {
        let (Some(block), Some(stage)) = (self.block(kind), run.stage(kind)) else {
            return Err(Error::BadOption { option: "block", reason: format!("block {} is not switched on", kind.name()) });
        };
        crate::analysis::query_independence(backend, block, &stage.input, side).await
    }

    /// Block `kind`'s steps ([`MapRequest::trace`]) on the input that block saw in `run`, on
    /// `backend`: its output with the `trace.*` maps beside its gates. Non-local and MHSA trace
    /// feature position `query` (row-major); the others ignore it.
    pub async fn trace(&self, backend: &AnyBackend, run: &ModelRun, kind: BlockKind, query: usize) -> Result<BlockOutput> {
        let (Some(block), Some(stage)) = (self.block(kind), run.stage(kind)) else {
            return Err(Error::BadOption { option: "block", reason: format!("block {} is not switched on", kind.name()) });
        };
        backend.forward(block, &stage.input, MapRequest { trace: true, query, ..Default::default() }).await
    }

    /// The attention row of feature position `query` in block `kind` (Non-local or MHSA), on the
    /// input that block saw in `run`.
    pub async fn attention_row(&self, backend: &AnyBackend, run: &ModelRun, kind: BlockKind, query: usize) -> Result<AttentionRow> {
        let (Some(block), Some(stage)) = (self.block(kind), run.stage(kind)) else {
            return Err(Error::BadOption { option: "block", reason: format!("block {} is not switched on", kind.name()) });
        };
        backend.attention_row(block, &stage.input, query).await
    }
}

/// The block a top-level node of the network is the module of (its path is the block's name).
fn block_of(node: &Node) -> Option<BlockKind> {
    match node {
        Node::Module { path, .. } => path.parse().ok(),
        _ => None,
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::backend::BackendChoice;

    fn photo(width: usize, height: usize) -> Tensor {
        let rgba: Vec<u8> = (0..width * height * 4).map(|i| ((i * 37) % 251) as u8).collect();
        image::rgba_to_input(&rgba, width, height).unwrap()
    }

    #[test]
    fn the_trained_dict_carries_the_documented_names() {
        let weights = Weights::from_safetensors(TRAINED_WEIGHTS).unwrap();
        for key in [
            "body.conv1.weight",
            "body.conv2.bias",
            "body.conv3.weight",
            "head.fc.weight",
            "se.fc1.weight",
            "cbam.spatial.conv.conv.weight",
            "nonlocal.t.weight",
            "mhsa.qkv.weight",
            "gc.mlp_scale.norm.weight",
            "eca.conv.weight",
        ] {
            assert!(weights.get(key).is_some(), "{key}");
        }
        // Keys of switched-off blocks are ignored; a missing body layer is named.
        Model::load(&weights, &ModelConfig::default()).unwrap();
        let no_head = Weights::from_tensors(
            weights.keys().filter(|k| !k.starts_with("head.")).map(|k| (k.to_string(), weights.get(k).unwrap().clone())),
        );
        assert_eq!(
            Model::load(&no_head, &ModelConfig::default()).err().unwrap().to_string(),
            "weights: missing key `weight` (block head.fc expects it)"
        );
    }

    #[test]
    fn blocks_run_at_their_depths_and_off_means_identity() {
        let backend = pollster::block_on(AnyBackend::select(BackendChoice::Cpu)).unwrap();
        let model = Model::trained(&ModelConfig::all_trained()).unwrap();
        // A 40 x 24 photo is computed on at 96 x 58 (the network's side), so the stem gives 24 x 14.
        let run = pollster::block_on(model.run(&backend, &photo(40, 24), &|| 0.0)).unwrap();
        assert_eq!(run.features.shape(), &[1, 16, 14, 24]);
        let order: Vec<BlockKind> = run.stages.iter().map(|s| s.kind).collect();
        assert_eq!(order, [EARLY_BLOCKS, LATE_BLOCKS].concat());
        assert_eq!(run.stages[0].input, run.features);
        assert_eq!(run.stage(BlockKind::Cbam).unwrap().input.shape(), &[1, 32, 7, 12]);
        let p = &run.prediction.probabilities;
        assert_eq!(p.len(), CLASSES.len());
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let row = pollster::block_on(model.attention_row(&backend, &run, BlockKind::Mhsa, 7)).unwrap();
        assert_eq!(row.row.shape(), &[1, MHSA_HEADS, 7, 12]);

        // With every block off the network is stem, body and head alone.
        let bare = Model::trained(&ModelConfig::default()).unwrap();
        let bare_run = pollster::block_on(bare.run(&backend, &photo(40, 24), &|| 0.0)).unwrap();
        assert!(bare_run.stages.is_empty());
        assert_ne!(bare_run.prediction, run.prediction);
    }

    #[test]
    fn a_block_with_the_wrong_channel_count_is_refused_by_name() {
        let seeded = crate::blocks::init::seeded_weights(BlockKind::Se, 64, &BlockOptions::default(), 3).unwrap();
        let mut model = Model::trained(&ModelConfig::all_trained()).unwrap();
        let err = model.replace_block(BlockKind::Se, &seeded, &BlockOptions::default()).unwrap_err().to_string();
        assert_eq!(err, "option weights: block se sits on 16 channels in this network; these weights are for 64");
        let fitting = crate::blocks::init::seeded_weights(BlockKind::Se, 16, &BlockOptions::default(), 3).unwrap();
        model.replace_block(BlockKind::Se, &fitting, &BlockOptions::default()).unwrap();
    }
}
