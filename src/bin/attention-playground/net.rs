//! `attention-playground net`: a whole network from its checkpoint on one input file, the
//! exactness contract of whole networks. `x` in; `logits` and every attention block's maps
//! (`<path>.channel`, `<path>.spatial`, `<path>.context`) out, float32.

use std::path::{Path, PathBuf};

use attention_playground::net::checkpoint::{NonFinite, StateDict, non_finite_logits};
use attention_playground::net::config::{CheckpointConfig, beside_hint, class_names_for, transform_for};
use attention_playground::net::preprocess::{CropMode, Interpolation, is_sigmoid_head, top_k};
use attention_playground::net::report::block_counts;
use attention_playground::net::session::Session;
use attention_playground::net::{Net, Off, families};
use attention_playground::weights::write_safetensors;
use attention_playground::{AnyBackend, BackendChoice, Tensor};
use clap::Args;

use crate::io::{read_input, write_atomically};

#[derive(Args)]
pub struct NetArgs {
    /// The checkpoint: a safetensors file or a PyTorch .pth/.pt/.bin (torch.save; read without
    /// running any code), float32, float16 or bfloat16, with the reference library's names (timm's,
    /// torchvision's); a `state_dict` nesting and `module.` / `model.` prefixes are stripped
    #[arg(long, value_name = "CKPT")]
    model: PathBuf,
    /// The architecture, as timm names it (`seresnet50`, `ecaresnet26t`, `cecaresnet50t`), or
    /// `torchvision.NAME`; optional where the weights tell (the ResNet family)
    #[arg(long, value_name = "NAME")]
    arch: Option<String>,
    /// The checkpoint's config.json as timm writes it for the Hugging Face Hub: its architecture,
    /// class names (label_names) and evaluation transform (pretrained_cfg: input_size, crop_pct,
    /// crop_mode, interpolation, mean, std). Default: config.json beside the checkpoint, if there
    /// is one; `--config none` reads none. --arch, --labels and the transform's options override
    /// what it says
    #[arg(long, value_name = "CONFIG.json")]
    config: Option<PathBuf>,
    /// Safetensors file holding `x`, float32 (N, 3, H, W), preprocessed as the network expects
    #[arg(long, value_name = "X.safetensors", required_unless_present = "image", conflicts_with = "image", requires = "output")]
    input: Option<PathBuf>,
    /// Where to write `logits` (N, classes) and every attention block's maps (with --input)
    #[arg(long, value_name = "Y.safetensors")]
    output: Option<PathBuf>,
    /// A photo instead of --input: preprocessed as timm evaluates (see --input-size, --crop-pct,
    /// --interpolation, --mean, --std); prints the top classes with and without --off
    #[arg(long, value_name = "PHOTO")]
    image: Option<PathBuf>,
    /// Time the forward pass: run it N more times after the first and report the median and the
    /// fastest on stderr (the benchmark of whole networks)
    #[arg(long, value_name = "N", default_value_t = 0)]
    iters: u32,
    /// With --image: how many classes to print
    #[arg(long, value_name = "K", default_value_t = 5)]
    top: usize,
    /// With --image: the class names, one per line in the head's order (default: ImageNet-1k's
    /// for 1000 classes, else `class N`)
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// With --image: the side of the square the network sees (default 224)
    #[arg(long, value_name = "PX")]
    input_size: Option<usize>,
    /// With --image: the crop's share of the resized photo (default timm's 0.875; torchvision 224/256)
    #[arg(long, value_name = "SHARE")]
    crop_pct: Option<f64>,
    /// With --image: bicubic (timm's default) or bilinear (torchvision's)
    #[arg(long, value_name = "MODE")]
    interpolation: Option<Interpolation>,
    /// With --image: timm's crop mode: center (the shorter side resized, the default), squash (both
    /// sides) or border (the longer side, padded with the mean's colour)
    #[arg(long, value_name = "MODE")]
    crop_mode: Option<CropMode>,
    /// With --image: the normalisation's mean, R,G,B (default ImageNet's 0.485,0.456,0.406)
    #[arg(long, value_name = "R,G,B")]
    mean: Option<String>,
    /// With --image: the normalisation's std, R,G,B (default ImageNet's 0.229,0.224,0.225)
    #[arg(long, value_name = "R,G,B")]
    std: Option<String>,
    /// Attention blocks to switch off (the identity): paths (`layer3.1.se`), path prefixes
    /// (`layer4`) or kinds (`se`), comma-separated
    #[arg(long, value_name = "LIST", default_value = "")]
    off: String,
    /// auto (a hardware GPU if present, else the CPU), cpu, or gpu: where the layers and the
    /// attention blocks run
    #[arg(long, value_name = "BACKEND", default_value = "auto")]
    backend: BackendChoice,
}

/// Runs the network; returns the line saying what ran where.
pub fn net(args: &NetArgs) -> Result<String, String> {
    let file = args.model.display().to_string();
    let dict = StateDict::read_path(&args.model).map_err(|e| e.to_string())?;
    let config = config(args)?;
    let network = families::build_with_config(&dict, args.arch.as_deref(), config.as_ref())
        .map_err(|e| format!("{file}: {e}{}", beside_hint(&e, args.config.as_deref())))?;
    let off = Off::parse(&args.off);
    off.check(&network).map_err(|e| e.to_string())?;
    match (&args.input, &args.image) {
        (Some(input), _) => net_on_input(args, &network, dict.non_finite(), input, &off),
        (None, Some(image)) => net_on_image(args, network, config.as_ref(), dict.non_finite(), image, &off),
        (None, None) => Err("give --input X.safetensors (with --output) or --image PHOTO".into()),
    }
}

/// The checkpoint's config: `--config`, else `config.json` beside the checkpoint, else none.
fn config(args: &NetArgs) -> Result<Option<CheckpointConfig>, String> {
    CheckpointConfig::for_checkpoint(&args.model, args.config.as_deref()).map_err(|e| e.to_string())
}

/// `--image`: the top classes with every block on and with `--off`'s blocks off.
fn net_on_image(
    args: &NetArgs,
    network: Net,
    config: Option<&CheckpointConfig>,
    non_finite: Option<&NonFinite>,
    image: &Path,
    off: &Off,
) -> Result<String, String> {
    let photo = crate::render::decode::upright(image)?;
    let mut transform = transform_for(&network, config);
    transform.input_size = args.input_size.unwrap_or(transform.input_size);
    transform.crop_pct = args.crop_pct.unwrap_or(transform.crop_pct);
    transform.interpolation = args.interpolation.unwrap_or(transform.interpolation);
    transform.crop_mode = args.crop_mode.unwrap_or(transform.crop_mode);
    if let Some(mean) = &args.mean {
        transform.mean = three(mean, "--mean")?;
    }
    if let Some(std) = &args.std {
        transform.std = three(std, "--std")?;
    }
    let x = transform.apply(photo.as_raw(), photo.width() as usize, photo.height() as usize).map_err(|e| e.to_string())?;
    let labels = args
        .labels
        .as_ref()
        .map(|p| std::fs::read_to_string(p).map_err(|e| format!("cannot read labels file {}: {e}", p.display())))
        .transpose()?;
    let names = class_names_for(&network, config, labels.as_deref()).map_err(|e| e.to_string())?;
    let sigmoid = is_sigmoid_head(names.len());
    let backend = pollster::block_on(AnyBackend::select(args.backend)).map_err(|e| e.to_string())?;
    let line = |logits: &Tensor| {
        // NaN logits (a diverged checkpoint) are said so, with where the NaN is, not ranked.
        if let Some(said) = non_finite_logits(logits.data(), non_finite) {
            return said;
        }
        top_k(logits.data(), args.top.max(1))
            .iter()
            .map(|&(i, p)| if sigmoid { format!("P({}) = {p:.4}", names[i]) } else { format!("{} {:.1} %", names[i], 100.0 * p) })
            .collect::<Vec<_>>()
            .join(" · ")
    };
    // A session: the run with blocks off starts from the first of them, as in the page.
    let summary = format!("{} ({})", network.arch, block_counts(&network.attention_blocks()));
    let mut session = Session::new(network);
    let clock = || 0.0;
    let kernels = backend.cpu_kernels();
    let full = pollster::block_on(session.run(&backend, kernels, &x, &Off::default(), &clock)).map_err(|e| e.to_string())?;
    println!("{}", line(&full.run.logits));
    if !off.0.is_empty() {
        let run = pollster::block_on(session.run(&backend, kernels, &x, off, &clock)).map_err(|e| e.to_string())?;
        println!("with {} off: {}", off.0.join(", "), line(&run.run.logits));
    }
    Ok(format!(
        "attention-playground: {summary} on {} ({s} x {s}, {}, crop {} {}) ran on the {}",
        image.display(),
        transform.interpolation,
        transform.crop_mode,
        transform.crop_pct,
        full.run.ran_on(),
        s = transform.input_size
    ))
}

/// `"a,b,c"` as three numbers.
fn three(text: &str, option: &str) -> Result<[f32; 3], String> {
    let values: Vec<f32> = text
        .split(',')
        .map(|v| v.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("option {option}: expected R,G,B numbers, got `{text}`"))?;
    <[f32; 3]>::try_from(values).map_err(|_| format!("option {option}: expected three numbers R,G,B, got `{text}`"))
}

/// `--input`: the logits and every map, written to `--output`.
fn net_on_input(args: &NetArgs, network: &Net, non_finite: Option<&NonFinite>, input: &Path, off: &Off) -> Result<String, String> {
    let output = args.output.as_ref().ok_or("give --output Y.safetensors with --input")?;
    let x = read_input(input)?;
    let blocks = network.attention_blocks();
    let backend = pollster::block_on(AnyBackend::select(args.backend)).map_err(|e| e.to_string())?;
    let run = pollster::block_on(network.run(&backend, &x, off)).map_err(|e| e.to_string())?;
    let timing = if args.iters > 0 {
        let mut times: Vec<f64> = (0..args.iters)
            .map(|_| {
                let start = std::time::Instant::now();
                pollster::block_on(network.run(&backend, &x, off)).map(|_| start.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        times.sort_by(f64::total_cmp);
        format!("; forward median {:.1} ms, min {:.1} ms over {} runs", times[times.len() / 2], times[0], times.len())
    } else {
        String::new()
    };
    let mut named: Vec<(String, &Tensor)> = vec![("logits".into(), &run.logits)];
    for record in &run.blocks {
        for (map, tensor) in &record.maps {
            named.push((format!("{}.{map}", record.path), tensor));
        }
    }
    write_atomically(output, &write_safetensors(named.iter().map(|(k, t)| (k.as_str(), *t))))?;
    let said = non_finite_logits(run.logits.data(), non_finite).map(|s| format!("; {s}")).unwrap_or_default();
    Ok(format!(
        "attention-playground: {} ({}; {}) ran on the {}{timing}{said}",
        network.arch,
        network.family,
        block_counts(&blocks),
        run.ran_on()
    ))
}
