//! The playground's network: a feature extractor (the [`stem`]) followed by the attention blocks
//! the user switched on, in the fixed order of [`BlockKind::ALL`], each taking the previous one's
//! output.
//!
//! ```text
//! RGBA photo ──► image::rgba_to_input ──► Stem (32 channels, 1/4 size) ──► se ──► cbam ──► ... ──► features
//! ```
//!
//! Weights are one state dict: `stem.conv1.weight`, ..., then each block under its name
//! (`se.fc1.weight`, `cbam.channel.fc1.weight`, `nonlocal.t.weight`, ...), timm's names after the
//! prefix. [`Model::seeded`] builds that dict from fixed seeds; a trained one loads through
//! [`Model::load`] with no other change.

pub mod image;
pub mod stem;

use crate::backend::{AnyBackend, AttentionRow};
use crate::blocks::init::{seeded_tensor, seeded_weights};
use crate::blocks::{Block, BlockKind, BlockOptions, BlockOutput, MapRequest};
use crate::error::Result;
use crate::tensor::Tensor;
use crate::weights::Weights;
use stem::Stem;

/// The blocks to run and their options, in any order (they always run in [`BlockKind::ALL`]'s).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelConfig {
    pub blocks: Vec<(BlockKind, BlockOptions)>,
}

/// One block's part of a run: what went in, what came out (with its maps), how long it took.
pub struct Stage {
    pub kind: BlockKind,
    pub input: Tensor,
    pub output: BlockOutput,
    pub ms: f64,
}

pub struct ModelRun {
    /// The stem's output, the first block's input.
    pub features: Tensor,
    pub stem_ms: f64,
    pub stages: Vec<Stage>,
}

impl ModelRun {
    /// What the last block produced (the stem's output when no block is on).
    pub fn output(&self) -> &Tensor {
        self.stages.last().map_or(&self.features, |s| &s.output.y)
    }

    pub fn stage(&self, kind: BlockKind) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == kind)
    }
}

pub struct Model {
    stem: Stem,
    blocks: Vec<(BlockKind, Block)>,
}

/// The seed of the stem's and each block's seeded weights, fixed so that every visit shows the same.
const STEM_SEED: u64 = 0x5EED;

fn block_seed(kind: BlockKind) -> u64 {
    STEM_SEED + 1 + BlockKind::ALL.iter().position(|&k| k == kind).expect("every kind is in ALL") as u64
}

impl Model {
    /// A state dict with seeded weights for the stem and every block in `config`.
    pub fn seeded_weights(config: &ModelConfig) -> Result<Weights> {
        let mut tensors: Vec<(String, Tensor)> = Stem::keys()
            .into_iter()
            .enumerate()
            .map(|(i, (key, shape))| {
                // He-uniform for the weights, zero biases (PyTorch's kaiming_uniform_ for ReLU).
                let fan_in: usize = shape[1..].iter().product();
                let bound = if key.ends_with("bias") { 0.0 } else { (6.0 / fan_in as f32).sqrt() };
                (format!("stem.{key}"), seeded_tensor(shape, STEM_SEED + 100 + i as u64, bound))
            })
            .collect();
        for (kind, options) in &config.blocks {
            let weights = seeded_weights(*kind, stem::WIDTHS[stem::WIDTHS.len() - 1], options, block_seed(*kind))?;
            for key in weights.keys() {
                tensors.push((format!("{}.{key}", kind.name()), weights.get(key).expect("listed key").clone()));
            }
        }
        Ok(Weights::from_tensors(tensors))
    }

    /// The placeholder network: seeded weights, see [`Model::seeded_weights`].
    pub fn seeded(config: &ModelConfig) -> Result<Self> {
        Self::load(&Self::seeded_weights(config)?, config)
    }

    /// Loads the stem and the blocks in `config` from one state dict (names in the module docs).
    pub fn load(weights: &Weights, config: &ModelConfig) -> Result<Self> {
        let stem = Stem::load(&mut weights.under("stem.").reader("stem"))?;
        let mut blocks = Vec::new();
        for kind in BlockKind::ALL {
            if let Some((_, options)) = config.blocks.iter().find(|(k, _)| *k == kind) {
                blocks.push((kind, Block::load(kind, &weights.under(&format!("{}.", kind.name())), options)?));
            }
        }
        Ok(Self { stem, blocks })
    }

    pub fn block(&self, kind: BlockKind) -> Option<&Block> {
        self.blocks.iter().find(|(k, _)| *k == kind).map(|(_, b)| b)
    }

    /// Runs the stem (on the CPU) and then each block on `backend`. `clock` gives milliseconds
    /// (`performance.now()` in the browser) for the per-stage timings.
    pub async fn run(&self, backend: &AnyBackend, image: &Tensor, clock: &dyn Fn() -> f64) -> Result<ModelRun> {
        let start = clock();
        let features = self.stem.forward(image);
        let stem_ms = clock() - start;
        let mut stages = Vec::with_capacity(self.blocks.len());
        let mut x = features.clone();
        for (kind, block) in &self.blocks {
            let start = clock();
            let output = backend.forward(block, &x, MapRequest::default()).await?;
            let ms = clock() - start;
            let input = std::mem::replace(&mut x, output.y.clone());
            stages.push(Stage { kind: *kind, input, output, ms });
        }
        Ok(ModelRun { features, stem_ms, stages })
    }

    /// The attention row of feature position `query` in block `kind` (Non-local or MHSA), on the
    /// input that block saw in `run`.
    pub async fn attention_row(&self, backend: &AnyBackend, run: &ModelRun, kind: BlockKind, query: usize) -> Result<AttentionRow> {
        let (Some(block), Some(stage)) = (self.block(kind), run.stage(kind)) else {
            return Err(crate::Error::BadOption { option: "block", reason: format!("block {} is not switched on", kind.name()) });
        };
        backend.attention_row(block, &stage.input, query).await
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::backend::BackendChoice;

    fn every_block() -> ModelConfig {
        ModelConfig {
            blocks: BlockKind::ALL
                .iter()
                .map(|&k| (k, BlockOptions { heads: (k == BlockKind::Mhsa).then_some(4), ..Default::default() }))
                .collect(),
        }
    }

    fn photo(width: usize, height: usize) -> Tensor {
        let rgba: Vec<u8> = (0..width * height * 4).map(|i| ((i * 37) % 251) as u8).collect();
        image::rgba_to_input(&rgba, width, height).unwrap()
    }

    #[test]
    fn seeded_weights_carry_the_documented_names_and_load_back() {
        let config = every_block();
        let weights = Model::seeded_weights(&config).unwrap();
        for key in [
            "stem.conv1.weight",
            "stem.conv2.bias",
            "se.fc1.weight",
            "cbam.spatial.conv.conv.weight",
            "nonlocal.t.weight",
            "mhsa.qkv.weight",
        ] {
            assert!(weights.get(key).is_some(), "{key}");
        }
        Model::load(&weights, &config).unwrap();
        // The seam refuses a dict that does not fit, by key.
        let partial = Model::seeded_weights(&ModelConfig::default()).unwrap();
        assert_eq!(Model::load(&partial, &config).err().unwrap().to_string(), "weights: missing key `fc1.weight` (block se expects it)");
    }

    #[test]
    fn blocks_run_in_order_on_the_stem_features() {
        let model = Model::seeded(&every_block()).unwrap();
        let backend = pollster::block_on(AnyBackend::select(BackendChoice::Cpu)).unwrap();
        let run = pollster::block_on(model.run(&backend, &photo(40, 24), &|| 0.0)).unwrap();
        assert_eq!(run.features.shape(), &[1, 32, 6, 10]);
        assert_eq!(run.stages.iter().map(|s| s.kind).collect::<Vec<_>>(), BlockKind::ALL);
        assert_eq!(run.stages[0].input, run.features);
        for pair in run.stages.windows(2) {
            assert_eq!(pair[1].input, pair[0].output.y);
        }
        let row = pollster::block_on(model.attention_row(&backend, &run, BlockKind::Mhsa, 7)).unwrap();
        assert_eq!(row.row.shape(), &[1, 4, 6, 10]);
        let err = pollster::block_on(model.attention_row(&backend, &run, BlockKind::Eca, 0)).err().unwrap();
        assert_eq!(err.to_string(), "block eca has no attention rows to show");
    }
}
