//! `attention-playground net`: a whole network from its checkpoint on one input file, the
//! exactness contract of whole networks. `x` in; `logits` and every attention block's maps
//! (`<path>.channel`, `<path>.spatial`, `<path>.context`) out, float32.

use std::path::PathBuf;

use attention_playground::net::checkpoint::StateDict;
use attention_playground::net::{Off, families};
use attention_playground::weights::write_safetensors;
use attention_playground::{AnyBackend, BackendChoice, Tensor};
use clap::Args;

use crate::cli::{read_input, write_atomically};

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
    /// Safetensors file holding `x`, float32 (N, 3, H, W), preprocessed as the network expects
    #[arg(long, value_name = "X.safetensors")]
    input: PathBuf,
    /// Where to write `logits` (N, classes) and every attention block's maps
    #[arg(long, value_name = "Y.safetensors")]
    output: PathBuf,
    /// Attention blocks to switch off (the identity): paths (`layer3.1.se`), path prefixes
    /// (`layer4`) or kinds (`se`), comma-separated
    #[arg(long, value_name = "LIST", default_value = "")]
    off: String,
    /// auto (a hardware GPU if present, else the CPU), cpu, or gpu: where the attention blocks run
    #[arg(long, value_name = "BACKEND", default_value = "auto")]
    backend: BackendChoice,
}

/// Runs the network; returns the line saying what ran where.
pub fn net(args: &NetArgs) -> Result<String, String> {
    let file = args.model.display().to_string();
    let dict = StateDict::read_path(&args.model).map_err(|e| e.to_string())?;
    let network = families::build(&dict, args.arch.as_deref()).map_err(|e| format!("{file}: {e}"))?;
    let x = read_input(&args.input)?;
    let off = Off::parse(&args.off);
    let blocks = network.attention_blocks();
    if let Some(word) = off.0.iter().find(|w| !blocks.iter().any(|b| off_matches(w, b))) {
        return Err(format!("option --off: `{word}` names no attention block of this network (they are {})", summary(&blocks)));
    }
    let backend = pollster::block_on(AnyBackend::select(args.backend)).map_err(|e| e.to_string())?;
    let run = pollster::block_on(network.run(&backend, &x, &off)).map_err(|e| e.to_string())?;
    let mut named: Vec<(String, &Tensor)> = vec![("logits".into(), &run.logits)];
    for record in &run.blocks {
        for (map, tensor) in &record.maps {
            named.push((format!("{}.{map}", record.path), tensor));
        }
    }
    write_atomically(&args.output, &write_safetensors(named.iter().map(|(k, t)| (k.as_str(), *t))))?;
    Ok(format!("attention-playground: {} ({}; {}) ran on the {}", network.arch, network.family, summary(&blocks), backend.kind()))
}

fn off_matches(word: &str, block: &attention_playground::net::Attention) -> bool {
    Off(vec![word.to_string()]).covers(block)
}

/// `16 se blocks`, `3 eca blocks, 1 nl block`, or `no attention blocks`.
fn summary(blocks: &[&attention_playground::net::Attention]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for b in blocks {
        match counts.iter_mut().find(|(k, _)| *k == b.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((b.kind, 1)),
        }
    }
    if counts.is_empty() {
        return "no attention blocks".into();
    }
    counts.iter().map(|(k, n)| format!("{n} {k} block{}", if *n == 1 { "" } else { "s" })).collect::<Vec<_>>().join(", ")
}
