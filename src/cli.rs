//! `attention-playground apply`: one block on one input file, the contract of
//! `shared/reference/blocks.md`. Everything is checked before the output file is written, and the
//! file is written to a temporary name and renamed, so a failed run never leaves a partial file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use attention_playground::blocks::{EcaPadding, Fusion, Pairwise, ScaleMode, SpatialOrder, ports};
use attention_playground::simd::Kernels;
use attention_playground::tensor::Dims;
use attention_playground::weights::{self, write_safetensors};
use attention_playground::{
    Backend, BackendChoice, BackendKind, Block, BlockKind, BlockOptions, CpuBackend, MapRequest, Tensor, select_backend,
};
use clap::{Args, Parser, Subcommand};

/// Exit code for every refused input, as for clap's own usage errors.
const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser)]
#[command(
    name = "attention-playground",
    version,
    about = "Run CNN attention blocks (SE, CBAM, Non-local, ECA, GC, MHSA) exactly as timm computes them",
    long_about = "Run CNN attention blocks (SE, CBAM, Non-local, ECA, GC, multi-head self-attention) \
exactly as timm computes them, and save what they attend to.\n\n\
Weights are a safetensors file with the block's timm state-dict names (e.g. fc1.weight for SE); \
the input is a safetensors file holding one float32 tensor `x` of shape (N, C, H, W).\n\n\
Example:\n  attention-playground apply --block cbam --weights cbam.safetensors \
--input x.safetensors --output y.safetensors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one block on x and write y (same shape as x) plus the block's maps
    Apply(ApplyArgs),
    /// Run the trained network (or, with --model, a whole network from its checkpoint) on a photo and write the figures of its blocks (SVG and PNG) and result.json
    Render(crate::render::RenderArgs),
    /// Time one block: N runs after a warm-up, in this process; the last line printed is JSON
    Bench(BenchArgs),
    /// Run a whole network from its checkpoint on x: the logits and every attention block's maps
    Net(crate::net_cli::NetArgs),
}

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
struct BlockInput {
    /// The block: se, cbam, nonlocal, eca, gc or mhsa
    #[arg(long, value_name = "BLOCK")]
    block: BlockKind,
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
    fn load(&self) -> Result<(Block, Tensor, Dims), String> {
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
struct BenchArgs {
    #[command(flatten)]
    what: BlockInput,
    /// cpu or gpu (auto: a hardware GPU if present, else the CPU)
    #[arg(long, value_name = "BACKEND", default_value = "cpu")]
    backend: BackendChoice,
    /// Timed runs, after a warm-up of a tenth as many (at least two)
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    iters: u32,
    /// CPU kernels: avx512, avx2, portable or reference (default: the fastest this machine runs)
    #[arg(long, value_name = "KERNELS")]
    kernels: Option<Kernels>,
}

#[derive(Args)]
struct ApplyArgs {
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

pub fn main() -> ExitCode {
    ensure_runtime_dir();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message up to its usage block, on one line (a missing argument's name is on
            // the line after "not provided:").
            let rendered = e.to_string();
            let message: Vec<&str> =
                rendered.lines().take_while(|l| !l.starts_with("Usage:")).map(str::trim).filter(|l| !l.is_empty()).collect();
            let first = if message.is_empty() { "invalid arguments".to_string() } else { message.join(" ") };
            eprintln!("{first} (see --help)");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let outcome = match &cli.command {
        Command::Apply(args) => apply(args),
        Command::Render(args) => crate::render::render(args),
        Command::Bench(args) => bench(args),
        Command::Net(args) => crate::net_cli::net(args),
    };
    match outcome {
        Ok(report) => {
            eprintln!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Runs the block; returns the line naming the backend that ran, or the one-line problem.
fn apply(args: &ApplyArgs) -> Result<String, String> {
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

/// Times the block; prints the JSON line on stdout and returns the human line.
fn bench(args: &BenchArgs) -> Result<String, String> {
    let (block, x, _) = args.what.load()?;
    let backend: Box<dyn Backend> = match (args.backend, args.kernels) {
        (BackendChoice::Cpu, Some(kernels)) => Box::new(CpuBackend::with_kernels(kernels)),
        (_, Some(_)) => return Err("option --kernels applies to --backend cpu only".into()),
        (choice, None) => select_backend(choice).map_err(|e| e.to_string())?,
    };
    let run = || backend.forward(&block, &x, MapRequest::default()).map_err(|e| e.to_string());
    let warm_up = (args.iters / 10).max(2);
    let mut ran_on = None;
    for _ in 0..warm_up {
        ran_on = Some(run()?.ran_on);
    }
    let mut times_ms: Vec<f64> = (0..args.iters)
        .map(|_| {
            let start = Instant::now();
            run().map(|_| start.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    times_ms.sort_by(f64::total_cmp);
    let n = times_ms.len();
    let median = if n % 2 == 1 { times_ms[n / 2] } else { 0.5 * (times_ms[n / 2 - 1] + times_ms[n / 2]) };
    let ran_on = ran_on.expect("the warm-up ran");
    let kernels = (ran_on.backend == BackendKind::Cpu).then(|| args.kernels.unwrap_or_else(Kernels::best).name());
    let line = serde_json::json!({
        "block": args.what.block.name(),
        "backend": ran_on.backend.to_string(),
        "kernels": kernels,
        "shape": x.shape(),
        "iters": args.iters,
        "median_ms": median,
        "min_ms": times_ms[0],
    });
    println!("{line}");
    Ok(format!(
        "attention-playground: block {} on the {}: median {median:.4} ms, min {:.4} ms over {} runs",
        args.what.block.name(),
        ran_on,
        times_ms[0],
        args.iters
    ))
}

pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {what} file {}: {e}", path.display()))
}

/// Reads the tensor `x` from the input file.
pub(crate) fn read_input(path: &Path) -> Result<Tensor, String> {
    weights::read_input(&read_file(path, "input")?).map_err(|e| e.to_string())
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

/// Writes to a sibling temporary file and renames it into place, so readers never see a partial
/// output and a failed write leaves nothing behind.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let file_name = path.file_name().ok_or_else(|| format!("output path {} names no file", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.{}.partial", file_name.to_string_lossy(), std::process::id()));
    let result = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write output file {}: {e}", path.display())
    })
}

/// Mesa's Vulkan loader (probed for a GPU) prints "error: XDG_RUNTIME_DIR is invalid or not set"
/// on a headless machine, which reads like a failure of the run: give it one of its own, private
/// and reused by every run, as `build.sh` does for the tests.
fn ensure_runtime_dir() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_dir()) {
            return;
        }
        let dir = std::env::temp_dir().join("attention-playground-runtime");
        let _ = fs::DirBuilder::new().mode(0o700).create(&dir);
        // Only a private folder (ours, made above or by an earlier run).
        if fs::metadata(&dir).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o077 == 0) {
            // SAFETY: the first thing main does, before any thread exists.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}
