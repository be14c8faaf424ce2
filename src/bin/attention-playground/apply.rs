//! `attention-playground apply`: one block on one input file, the contract of
//! `shared/reference/blocks.md`. Everything is checked before the output file is written, and the
//! file is written to a temporary name and renamed, so a failed run never leaves a partial file.
//! The block and input arguments are shared with `bench`.

use std::path::PathBuf;

use attention_playground::blocks::{EcaPadding, Fusion, Pairwise, ScaleMode, SpatialOrder, ports};
use attention_playground::tensor::Dims;
use attention_playground::weights::write_safetensors;
use attention_playground::{BackendChoice, Block, BlockKind, BlockOptions, MapRequest, Tensor, select_backend};
use clap::Args;

use crate::io::{read_file, read_input, write_atomically};

/// The options a block takes beyond its weights.
#[derive(Args)]
struct BlockOptionArgs {
    /// cbam: order of the pooled maps fed to the spatial conv: mean-max (timm) or max-mean (official code)
    #[arg(long, value_name = "ORDER", help_heading = "Block options")]
    spatial_order: Option<SpatialOrder>,
    /// nonlocal: embedded-gaussian (default), dot-product, gaussian or concatenation
    #[arg(long, value_name = "FUNCTION", help_heading = "Block options")]
    pairwise: Option<Pairwise>,
    /// nonlocal: logit scale of the softmax forms: input (C^-0.5, timm), inner (rd^-0.5), none
    #[arg(long, value_name = "MODE", help_heading = "Block options")]
    scale: Option<ScaleMode>,
    /// nonlocal: 2x2 max-pool the keys and values (phi, g) after their convolutions
    #[arg(long, help_heading = "Block options")]
    subsample: bool,
    /// eca: zero (EcaModule) or circular (CecaModule) padding along the channels
    #[arg(long, value_name = "MODE", help_heading = "Block options")]
    padding: Option<EcaPadding>,
    /// gc: scale (x * sigmoid(T(ctx)), timm) or add (x + T(ctx), the GCNet paper)
    #[arg(long, value_name = "MODE", help_heading = "Block options")]
    fusion: Option<Fusion>,
    /// mhsa: number of heads (required; must divide C)
    #[arg(long, value_name = "H", help_heading = "Block options")]
    heads: Option<usize>,
}

impl BlockOptionArgs {
    fn options(&self) -> BlockOptions {
        BlockOptions {
            spatial_order: self.spatial_order,
            pairwise: self.pairwise,
            scale: self.scale,
            subsample: self.subsample,
            padding: self.padding,
            fusion: self.fusion,
            heads: self.heads,
        }
    }
}

/// The block, its weights and its input: what `apply` and `bench` both read.
#[derive(Args)]
pub(crate) struct BlockInput {
    /// The block: se, cbam, nonlocal, eca, gc or mhsa
    #[arg(long, value_name = "BLOCK")]
    pub(crate) block: BlockKind,
    /// Safetensors file (float32, float16 or bfloat16) with the block's weights, named as in timm's
    /// state_dict(); AlexHex7's and mmcv's Non-local and the official CBAM code's names are renamed
    #[arg(long, value_name = "W.safetensors")]
    weights: PathBuf,
    /// Use only the weights under this prefix (e.g. `layer3.1.se.` of a whole network's state dict,
    /// `module.` of a DataParallel one)
    #[arg(long, value_name = "PREFIX", default_value = "")]
    prefix: String,
    /// Safetensors file holding `x`, float32 (N, C, H, W)
    #[arg(long, value_name = "X.safetensors")]
    input: PathBuf,
    #[command(flatten)]
    options: BlockOptionArgs,
}

impl BlockInput {
    /// The loaded block and `x`, checked against each other, with the sizes of `x`. Weights
    /// under another code's names are renamed (see `blocks::ports`); the line saying so goes to
    /// stderr.
    pub(crate) fn load(&self) -> Result<(Block, Tensor, Dims), String> {
        let bytes = read_file(&self.weights, "weights")?;
        let given = self.options.options();
        let file = self.weights.display().to_string();
        let ported = ports::read_block_weights(&bytes, &file, &self.prefix, self.block, &given).map_err(|e| e.to_string())?;
        let block = ported.load(self.block, &given).map_err(|e| e.to_string())?;
        if let Some(note) = &ported.note {
            eprintln!("attention-playground: {note}");
        }
        let x = read_input(&self.input)?;
        let dims = block.check_input(&x).map_err(|e| e.to_string())?;
        Ok((block, x, dims))
    }
}

#[derive(Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    what: BlockInput,
    /// Where to write `y` and the maps (channel, spatial, context, attention), float32
    #[arg(long, value_name = "Y.safetensors")]
    output: PathBuf,
    /// auto (a hardware GPU if present, else the CPU), cpu, or gpu (any GPU adapter, software ones included)
    #[arg(long, value_name = "BACKEND", default_value = "auto")]
    backend: BackendChoice,

    /// nonlocal, mhsa: also write the full attention matrix `attention` (N^2 floats per image)
    #[arg(long, help_heading = "Maps")]
    save_attention: bool,

    /// Also write the block's steps as `trace.*` (SE: squeeze, hidden, logits; CBAM: squeeze, mlp,
    /// pooled, conv, logits; ...; Non-local and MHSA at the --query pixel, which they need)
    #[arg(long, help_heading = "Maps")]
    trace: bool,
    /// nonlocal, mhsa: also write `attention_row`, where the pixel at column X, row Y attends
    #[arg(long, value_name = "X,Y", help_heading = "Maps")]
    query: Option<String>,
}

/// Runs the block; returns the line naming the backend that ran, or the one-line problem.
pub fn apply(args: &ApplyArgs) -> Result<String, String> {
    let has_attention = matches!(args.what.block, BlockKind::NonLocal | BlockKind::Mhsa);
    for (option, given) in [("--save-attention", args.save_attention), ("--query", args.query.is_some())] {
        if given && !has_attention {
            return Err(format!("option {option} does not apply to block {}", args.what.block.name()));
        }
    }
    let (block, x, dims) = args.what.load()?;
    let query = args.query.as_deref().map(|q| parse_query(q, dims.w, dims.h)).transpose()?;

    if args.trace && has_attention && query.is_none() {
        return Err(format!("option --trace: block {} traces one query pixel's steps; give it with --query X,Y", args.what.block.name()));
    }
    let request = MapRequest { full_attention: args.save_attention, trace: args.trace, query: query.unwrap_or(0), ..Default::default() };
    block.check_request(dims, request).map_err(|e| e.to_string())?;

    let backend = select_backend(args.backend).map_err(|e| e.to_string())?;
    let out = backend.forward(&block, &x, request).map_err(|e| e.to_string())?;
    let row = query.map(|q| backend.attention_row(&block, &x, q)).transpose().map_err(|e| e.to_string())?;

    let mut tensors: Vec<(&str, &Tensor)> = vec![("y", &out.y)];
    tensors.extend(out.maps.iter().map(|(name, t)| (*name, t)));
    if let Some(row) = &row {
        tensors.push(("attention_row", &row.row));
    }
    write_atomically(&args.output, &write_safetensors(tensors))?;
    Ok(format!("attention-playground: block {} ran on the {}", args.what.block.name(), out.ran_on))
}

/// `"X,Y"` to the row-major position index on a `width x height` grid.
fn parse_query(text: &str, width: usize, height: usize) -> Result<usize, String> {
    let bad = || format!("option --query: expected X,Y with 0 <= X < {width} and 0 <= Y < {height}, got `{text}`");
    let (x, y) = text.split_once(',').ok_or_else(bad)?;
    let (x, y): (usize, usize) = (x.trim().parse().map_err(|_| bad())?, y.trim().parse().map_err(|_| bad())?);
    if x >= width || y >= height {
        return Err(bad());
    }
    Ok(y * width + x)
}
