//! `attention-train`: trains the playground's default network on generated scenes, reproducibly,
//! and writes its state dict (rounded to float16) as safetensors in the names the engine loads.
//!
//! ```text
//! cargo run --release -p attention-train -- --out src/model/trained.safetensors
//! ```
//!
//! With the default `--variants` it also trains the ablation variants (no attention, SE only, CBAM
//! only, Non-local only) with the same recipe and prints the README's table; the `all` variant is
//! the one written to `--out`. Every number comes from fixed seeds: the scenes, the initial
//! weights, the batch order. The thread count is pinned too, since it decides how the matrix
//! products split their sums.

mod combinations;
mod data;
mod net;

use std::path::PathBuf;
use std::time::Instant;

use attention_playground::blocks::init::Seeded;
use attention_playground::model::{Model, ModelConfig, trained_options};
use attention_playground::scenes::{self, CLASSES};
use attention_playground::weights::write_safetensors_f16;
use attention_playground::{AnyBackend, BackendChoice, BlockKind};
use candle_core::{D, Result};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use clap::Parser;
use data::Dataset;
use net::Net;

/// The threads candle's matrix products use; fixed so the run is the same on every machine.
const THREADS: &str = "2";

#[derive(Parser)]
#[command(about = "Train the playground's default network on generated scenes and write its weights")]
struct Args {
    /// Where to write the weights of the `all` variant (the shipped network)
    #[arg(long, default_value = "src/model/trained.safetensors")]
    out: PathBuf,
    /// The variants to train: none, se, eca, gc, cbam, nonlocal, mhsa, or all (every block)
    #[arg(long, value_delimiter = ',', default_value = "none,se,cbam,nonlocal,all")]
    variants: Vec<String>,
    /// Training scenes
    #[arg(long, default_value_t = 12_000)]
    train: usize,
    /// Held-out scenes (a different seed, never trained on)
    #[arg(long, default_value_t = 2_000)]
    held_out: usize,
    /// Passes over the training scenes (the variants with some blocks)
    #[arg(long, default_value_t = 8)]
    epochs: usize,
    /// Passes over the training scenes for the `all` variant, the shipped network: with block
    /// dropout each combination gets a share of the batches, so it trains twice as long
    #[arg(long, default_value_t = 16)]
    all_epochs: usize,
    /// Side of the generated scenes in pixels
    #[arg(long, default_value_t = 96)]
    side: usize,
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Peak learning rate of AdamW (cosine decay to zero after a short warm-up)
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Weight of the auxiliary loss that teaches CBAM's spatial gate where the object is (binary
    /// cross-entropy of the gate against each cell's object coverage, widened by a cell); 0 leaves
    /// the gate to the classification loss alone
    #[arg(long, default_value_t = 0.3)]
    mask_loss: f64,
    /// Seed of the initial weights and the batch order
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Block dropout in the `all` variant (the shipped network): the probability that each block
    /// is switched off (the identity) for a batch, independently, so that every on/off
    /// combination is a configuration of one set of weights that was trained. At 0.5 every one
    /// of the 64 combinations is equally likely, so none is favoured and "every block off" is
    /// trained as often as "every block on" (0: every block always on)
    #[arg(long, default_value_t = 0.5)]
    block_dropout: f64,
    /// After training `all`, evaluate every on/off combination of its blocks on the held-out
    /// scenes and print the ablation table of that one set of weights (on by default; this turns
    /// it off)
    #[arg(long)]
    no_combinations: bool,
}

fn blocks_of(variant: &str) -> std::result::Result<Vec<BlockKind>, String> {
    match variant {
        "none" => Ok(vec![]),
        "all" => Ok(ModelConfig::all_trained().blocks.into_iter().map(|(k, _)| k).collect()),
        name => name.parse::<BlockKind>().map(|k| vec![k]).map_err(|e| e.to_string()),
    }
}

/// A Fisher-Yates shuffle of `0..n` driven by the engine's SplitMix64 stream.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = Seeded(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    order
}

struct Outcome {
    variant: String,
    parameters: usize,
    accuracy: f64,
    engine_accuracy: f64,
    /// CBAM's mean spatial gate inside the object over its mean outside (held-out scenes).
    cbam_ratio: Option<f64>,
    seconds: f64,
}

fn accuracy(net: &Net, set: &Dataset, batch: usize) -> Result<f64> {
    let mut correct = 0usize;
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(batch) {
        let x = set.features_of(chunk)?;
        let predicted = net.forward(&x)?.argmax(D::Minus1)?.to_vec1::<u32>()?;
        correct += predicted.iter().zip(chunk).filter(|(p, i)| **p == set.labels[**i]).count();
    }
    Ok(correct as f64 / set.len() as f64)
}

fn train(args: &Args, variant: &str, train_set: &Dataset, held_out: &Dataset) -> Result<(Net, Outcome)> {
    let blocks = blocks_of(variant).map_err(candle_core::Error::Msg)?;
    let net = Net::new(&blocks, args.seed)?;
    let steps_per_epoch = train_set.len() / args.batch;
    let epochs = if variant == "all" { args.all_epochs } else { args.epochs };
    let total = steps_per_epoch * epochs;
    let warmup = steps_per_epoch / 2;
    let mut optimizer = AdamW::new(net.vars(), ParamsAdamW { lr: args.lr, weight_decay: 1e-4, ..Default::default() })?;
    let start = Instant::now();
    let mut step = 0;
    // Its own stream, so that block dropout leaves the batch order and the initial weights alone.
    let mut dropout = Seeded(args.seed ^ 0xb10c_d50b);
    for epoch in 0..epochs {
        let order = shuffled(train_set.len(), args.seed ^ (epoch as u64 + 1) << 32);
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        for chunk in order.chunks_exact(args.batch) {
            let lr = if step < warmup {
                args.lr * (step + 1) as f64 / warmup as f64
            } else {
                args.lr * 0.5 * (1.0 + (std::f64::consts::PI * (step - warmup) as f64 / (total - warmup) as f64).cos())
            };
            optimizer.set_learning_rate(lr);
            let (x, y) = (train_set.features_of(chunk)?, train_set.labels_of(chunk)?);
            let on: Vec<BlockKind> = if variant == "all" && args.block_dropout > 0.0 {
                net.blocks
                    .iter()
                    .copied()
                    .filter(|_| (dropout.next_u64() >> 11) as f64 / (1u64 << 53) as f64 >= args.block_dropout)
                    .collect()
            } else {
                net.blocks.clone()
            };
            let (logits, spatial) = net.forward_on(&x, &on)?;
            let mut loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            if let Some(spatial) = spatial.filter(|_| args.mask_loss > 0.0) {
                let mask_loss = net::binary_cross_entropy_with_logits(&spatial, &train_set.coverage_of(chunk)?)?;
                loss = (loss + (mask_loss * args.mask_loss)?)?;
            }
            optimizer.backward_step(&loss)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            correct += logits.argmax(D::Minus1)?.to_vec1::<u32>()?.iter().zip(chunk).filter(|(p, i)| **p == train_set.labels[**i]).count();
            step += 1;
        }
        eprintln!(
            "  {variant:>8} epoch {:>2}: loss {:.3}, train accuracy {:.1}%, {:.0} s",
            epoch + 1,
            loss_sum / steps_per_epoch as f64,
            100.0 * correct as f64 / (steps_per_epoch * args.batch) as f64,
            start.elapsed().as_secs_f64()
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    // Everything below (accuracies, gate ratios, the combinations, the file) is of the weights
    // as they ship: rounded to float16.
    net.round_to_f16()?;
    let accuracy = accuracy(&net, held_out, args.batch)?;
    let (engine_accuracy, cbam_ratio) = engine_check(&net, args, held_out.len()).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let parameters = net.parameter_count();
    Ok((net, Outcome { variant: variant.to_string(), parameters, accuracy, engine_accuracy, cbam_ratio, seconds }))
}

/// The held-out accuracy computed again by the engine itself (stem to prediction, CPU path),
/// from the state dict about to be written: proof that training and engine compute the same net.
/// With CBAM present, also where its spatial gate falls: inside the object over outside.
fn engine_check(net: &Net, args: &Args, len: usize) -> attention_playground::Result<(f64, Option<f64>)> {
    let weights = net.state_dict().map_err(|e| attention_playground::Error::BadImage(e.to_string()))?;
    let config = ModelConfig { blocks: net.blocks.iter().map(|&k| (k, trained_options(k))).collect() };
    let model = Model::load(&weights, &config)?;
    let backend = pollster::block_on(AnyBackend::select(BackendChoice::Cpu))?;
    let (mut correct, mut ratios) = (0, Vec::new());
    // CBAM's channel gate, lowest and highest over every channel and scene: a gate that stays at
    // 0.5 means its MLP's hidden units are all dead.
    let mut channel_gate = (f32::INFINITY, f32::NEG_INFINITY);
    for index in 0..len {
        let scene = scenes::generate(scenes::HELD_OUT_SEED, index as u64, args.side);
        let run = pollster::block_on(model.run(&backend, &scene.image, &|| 0.0))?;
        correct += usize::from(run.prediction.top() == scene.label);
        if let Some(stage) = run.stage(BlockKind::Cbam) {
            ratios.extend(scenes::inside_outside_ratio(&stage.output.maps["spatial"], &scene.mask, args.side));
            for &g in stage.output.maps["channel"].data() {
                channel_gate = (channel_gate.0.min(g), channel_gate.1.max(g));
            }
        }
    }
    let ratio = (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64);
    if ratio.is_some() {
        eprintln!("  CBAM's channel gate spans {:.3} to {:.3} on the held-out scenes", channel_gate.0, channel_gate.1);
    }
    Ok((correct as f64 / len as f64, ratio))
}

fn main() -> std::process::ExitCode {
    // SAFETY: set before any thread exists.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", THREADS) };
    let args = Args::parse();
    for variant in &args.variants {
        if let Err(e) = blocks_of(variant) {
            eprintln!("attention-train: {e}");
            return std::process::ExitCode::from(2);
        }
    }
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("attention-train: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let start = Instant::now();
    let train_set = Dataset::generate(scenes::TRAIN_SEED, args.train, args.side);
    let held_out = Dataset::generate(scenes::HELD_OUT_SEED, args.held_out, args.side);
    eprintln!(
        "generated {} training and {} held-out scenes of {} px ({} classes: {}) in {:.0} s",
        train_set.len(),
        held_out.len(),
        args.side,
        CLASSES.len(),
        CLASSES.join(", "),
        start.elapsed().as_secs_f64()
    );
    let mut outcomes = Vec::new();
    for variant in &args.variants {
        let (net, outcome) = train(args, variant, &train_set, &held_out)?;
        eprintln!(
            "  {variant:>8}: held-out accuracy {:.1}% (engine: {:.1}%), {} parameters{}",
            100.0 * outcome.accuracy,
            100.0 * outcome.engine_accuracy,
            outcome.parameters,
            outcome.cbam_ratio.map(|r| format!(", CBAM spatial gate inside/outside the object {r:.2}")).unwrap_or_default()
        );
        if (outcome.accuracy - outcome.engine_accuracy).abs() > 0.005 {
            return Err(candle_core::Error::Msg(format!(
                "the engine's accuracy ({:.2}%) differs from training's ({:.2}%): the two networks disagree",
                100.0 * outcome.engine_accuracy,
                100.0 * outcome.accuracy
            )));
        }
        if variant == "all" && !args.no_combinations {
            print_combinations(&net, &held_out, args.batch)?;
        }
        if variant == "all" {
            let weights = net.state_dict()?;
            let bytes = write_safetensors_f16(weights.keys().map(|k| (k, weights.get(k).expect("listed key"))));
            std::fs::write(&args.out, &bytes)?;
            eprintln!("  wrote {} ({} bytes)", args.out.display(), bytes.len());
        }
        outcomes.push(outcome);
    }
    println!("| Attention | Parameters | Held-out accuracy | CBAM gate inside / outside | Training time |");
    println!("|---|---:|---:|---:|---:|");
    for o in &outcomes {
        let ratio = o.cbam_ratio.map_or("".to_string(), |r| format!("{r:.2}"));
        println!("| {} | {} | {:.1}% | {ratio} | {:.0} s |", o.variant, o.parameters, 100.0 * o.accuracy, o.seconds);
    }
    eprintln!("total {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// The ablation of one set of weights: every on/off combination's held-out accuracy (and CBAM's
/// gate ratio where CBAM is on) on stderr, then the README's fourteen rows as a Markdown table.
fn print_combinations(net: &Net, held_out: &Dataset, batch: usize) -> Result<()> {
    let all: Vec<combinations::Combination> =
        combinations::all_subsets(&net.blocks).iter().map(|on| combinations::evaluate(net, held_out, on, batch)).collect::<Result<_>>()?;
    let names =
        |on: &[BlockKind]| if on.is_empty() { "none".to_string() } else { on.iter().map(|k| k.name()).collect::<Vec<_>>().join("+") };
    for c in &all {
        eprintln!(
            "  {:>40}: {:.1}%{}",
            names(&c.on),
            100.0 * c.accuracy,
            c.cbam_ratio.map(|r| format!(", CBAM gate {r:.2}")).unwrap_or_default()
        );
    }
    let ratios: Vec<f64> = all.iter().filter_map(|c| c.cbam_ratio).collect();
    if let Some(lowest) = ratios.iter().copied().reduce(f64::min) {
        eprintln!("  CBAM's gate inside / outside the object: {lowest:.2} at the lowest of the {} combinations with CBAM on", ratios.len());
    }
    println!("| One set of weights | Held-out accuracy | CBAM gate inside / outside |");
    println!("|---|---:|---:|");
    for (name, i) in combinations::table_rows(&net.blocks, &all) {
        let ratio = all[i].cbam_ratio.map_or(String::new(), |r| format!("{r:.2}"));
        println!("| {name} | {:.1}% | {ratio} |", 100.0 * all[i].accuracy);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use attention_playground::model::ModelConfig;

    /// The candle network and the engine compute the same function: same logits (as
    /// probabilities) for the same weights, with every block present, before any training.
    #[test]
    fn training_network_and_engine_agree() {
        let blocks: Vec<BlockKind> = ModelConfig::all_trained().blocks.into_iter().map(|(k, _)| k).collect();
        let mut net = Net::new(&blocks, 3).unwrap();
        // Non-local starts as the identity (BN weight 0, as timm); train one step so every block
        // is exercised with non-trivial weights.
        // At the network's own scale (96 px), which the engine does not rescale.
        let set = Dataset::generate(scenes::HELD_OUT_SEED, 8, 96);
        let indices: Vec<usize> = (0..set.len()).collect();
        let (x, y) = (set.features_of(&indices).unwrap(), set.labels_of(&indices).unwrap());
        let mut optimizer = AdamW::new(net.vars(), ParamsAdamW { lr: 0.05, ..Default::default() }).unwrap();
        optimizer.backward_step(&candle_nn::loss::cross_entropy(&net.forward(&x).unwrap(), &y).unwrap()).unwrap();
        net.blocks = blocks.clone();

        let probabilities = candle_nn::ops::softmax(&net.forward(&x).unwrap(), D::Minus1).unwrap().to_vec2::<f32>().unwrap();
        let config = ModelConfig { blocks: blocks.iter().map(|&k| (k, trained_options(k))).collect() };
        let model = Model::load(&net.state_dict().unwrap(), &config).unwrap();
        let backend = pollster::block_on(AnyBackend::select(BackendChoice::Cpu)).unwrap();
        let mut largest = 0.0f32;
        for (i, expected) in probabilities.iter().enumerate() {
            let scene = scenes::generate(scenes::HELD_OUT_SEED, i as u64, 96);
            let run = pollster::block_on(model.run(&backend, &scene.image, &|| 0.0)).unwrap();
            for (a, b) in run.prediction.probabilities.iter().zip(expected) {
                largest = largest.max((a - b).abs());
            }
        }
        // Summation order differs (candle's matrix products vs the engine's loops): f32 rounding only.
        assert!(largest < 1e-4, "largest probability difference {largest}");
        // And the weights moved: the comparison is not between two identities.
        let nonlocal_norm = net.state_dict().unwrap().get("nonlocal.norm.weight").unwrap().data().iter().map(|v| v.abs()).sum::<f32>();
        assert!(nonlocal_norm > 0.0);
    }

    #[test]
    fn a_few_steps_lower_the_loss() {
        let set = Dataset::generate(scenes::TRAIN_SEED, 64, 96);
        let net = Net::new(&[BlockKind::Se, BlockKind::Cbam], 5).unwrap();
        let indices: Vec<usize> = (0..set.len()).collect();
        let (x, y) = (set.features_of(&indices).unwrap(), set.labels_of(&indices).unwrap());
        // The training's learning rate (a larger one overshoots with the three convolutions).
        let mut optimizer = AdamW::new(net.vars(), ParamsAdamW { lr: 3e-3, ..Default::default() }).unwrap();
        let loss = |net: &Net| candle_nn::loss::cross_entropy(&net.forward(&x).unwrap(), &y).unwrap().to_scalar::<f32>().unwrap();
        let before = loss(&net);
        for _ in 0..40 {
            optimizer.backward_step(&candle_nn::loss::cross_entropy(&net.forward(&x).unwrap(), &y).unwrap()).unwrap();
        }
        let after = loss(&net);
        assert!(after < 0.8 * before, "loss {before} -> {after}");
    }

    /// Switching a block off in training is the identity the engine uses for an off block: the
    /// candle network with only some blocks on computes what the engine computes with only those.
    #[test]
    fn a_combination_of_blocks_is_the_engine_s_network_with_those_blocks() {
        let blocks: Vec<BlockKind> = ModelConfig::all_trained().blocks.into_iter().map(|(k, _)| k).collect();
        let net = Net::new(&blocks, 11).unwrap();
        let set = Dataset::generate(scenes::HELD_OUT_SEED, 4, 96);
        let indices: Vec<usize> = (0..set.len()).collect();
        let x = set.features_of(&indices).unwrap();
        let backend = pollster::block_on(AnyBackend::select(BackendChoice::Cpu)).unwrap();
        for on in [vec![], vec![BlockKind::Cbam, BlockKind::Mhsa], vec![BlockKind::Se, BlockKind::NonLocal]] {
            let probabilities = candle_nn::ops::softmax(&net.forward_on(&x, &on).unwrap().0, D::Minus1).unwrap().to_vec2::<f32>().unwrap();
            let config = ModelConfig { blocks: on.iter().map(|&k| (k, trained_options(k))).collect() };
            let model = Model::load(&net.state_dict().unwrap(), &config).unwrap();
            for (i, expected) in probabilities.iter().enumerate() {
                let scene = scenes::generate(scenes::HELD_OUT_SEED, i as u64, 96);
                let run = pollster::block_on(model.run(&backend, &scene.image, &|| 0.0)).unwrap();
                for (a, b) in run.prediction.probabilities.iter().zip(expected) {
                    assert!((a - b).abs() < 1e-4, "{on:?}: {a} against {b}");
                }
            }
        }
    }

    #[test]
    fn the_batch_order_is_a_fixed_permutation() {
        let a = shuffled(100, 9);
        assert_eq!(a, shuffled(100, 9));
        assert_ne!(a, shuffled(100, 10));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }
}
