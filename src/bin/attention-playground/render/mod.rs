//! `attention-playground render`: the figures a blog post wants, for one photo. It runs the
//! trained network exactly as the playground does and writes into `--out`:
//! - `spatial-cbam`, `context-gc`: the map over the photo, with a colour bar;
//! - `channels-<block>` for SE, ECA, GC and CBAM: the channel weights as a labelled bar chart;
//! - `attention-nonlocal`, `attention-mhsa`: where the query position attends (one panel per head
//!   for MHSA), the query marked;
//! - `result.json`: the playground's result object without the feature maps.
//!
//! Each figure is written as `.svg` (vector, real text) and as `.png` (that SVG rasterised at 2x;
//! see `draw`).
//!
//! With `--model CKPT` it runs that whole network instead (`whole`): a figure per attention
//! block, an overview of all of them by depth, and `result.json`.

pub(crate) mod decode;
mod draw;
mod whole;

use std::fs;
use std::path::{Path, PathBuf};

use attention_playground::blocks::ports;
use attention_playground::model::report::{self, ReportOptions, Value};
use attention_playground::model::{Model, ModelConfig, channels_at, image as model_image, trained_options};
use attention_playground::{AnyBackend, BackendChoice, BlockKind};
use clap::Args;
use image::{RgbImage, RgbaImage};

#[derive(Args)]
pub struct RenderArgs {
    /// The photo: JPEG, PNG, WebP, GIF (the first frame) or BMP, up to 268 megapixels; upright by
    /// its EXIF orientation, on white, scaled to 224 px on its longer side, as the page does (with
    /// --model: then transformed as that network is evaluated, as `net --image` does)
    #[arg(long, value_name = "PHOTO")]
    image: PathBuf,
    /// The blocks to switch on, comma-separated (se, eca, gc, cbam, nonlocal, mhsa), or `none`
    /// (default: all of them; the bundled network only)
    #[arg(long, value_name = "LIST")]
    blocks: Option<String>,
    /// The folder to write the figures and result.json into (created if missing)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The Non-local / MHSA query: pixel column X and row Y of the photo (default: the cell where
    /// CBAM's spatial gate is highest, on the object)
    #[arg(long, value_name = "X,Y")]
    query: Option<String>,
    /// auto (a hardware GPU if present, else the CPU), cpu, or gpu
    #[arg(long, value_name = "BACKEND", default_value = "auto")]
    backend: BackendChoice,
    /// A block's own weights instead of the trained ones, as BLOCK=FILE.safetensors, or
    /// BLOCK=FILE:PREFIX for the block under PREFIX of a whole network's state dict (repeatable)
    #[arg(long = "weights", value_name = "BLOCK=FILE[:PREFIX]")]
    own_weights: Vec<String>,
    /// The prefix of every --weights file that names none of its own (e.g. `layer1.0.se.`)
    #[arg(long, value_name = "PREFIX", default_value = "")]
    prefix: String,
    /// A whole network instead of the bundled one: its checkpoint (safetensors or a PyTorch
    /// .pth/.pt/.bin, as `net --model` reads it); figures for every attention block and an overview
    #[arg(long, value_name = "CKPT", help_heading = "Whole networks")]
    model: Option<PathBuf>,
    /// With --model: the architecture, as timm names it, or `torchvision.NAME` (as `net --arch`)
    #[arg(long, value_name = "NAME", help_heading = "Whole networks")]
    arch: Option<String>,
    /// With --model: the checkpoint's config.json as timm writes it for the Hub (architecture,
    /// label_names, pretrained_cfg), as `net --config` reads it; default: config.json beside the
    /// checkpoint, if there is one; `--config none` reads none
    #[arg(long, value_name = "CONFIG.json", help_heading = "Whole networks")]
    config: Option<PathBuf>,
    /// With --model: blocks to switch off for the second prediction in result.json: paths
    /// (`layer3.1.se`), path prefixes (`layer4`) or kinds (`se`), comma-separated
    #[arg(long, value_name = "LIST", help_heading = "Whole networks")]
    off: Option<String>,
}

/// Renders; returns the summary line, or the one-line problem.
pub fn render(args: &RenderArgs) -> Result<String, String> {
    if let Some(model) = &args.model {
        for (option, given) in [
            ("--blocks", args.blocks.is_some()),
            ("--weights", !args.own_weights.is_empty()),
            ("--prefix", !args.prefix.is_empty()),
            ("--query", args.query.is_some()),
        ] {
            if given {
                return Err(format!(
                    "option {option} applies to the bundled network, not to --model (a whole network runs every attention block; --off switches some off)"
                ));
            }
        }
        return whole::render(args, model);
    }
    for (option, given) in [("--arch", args.arch.is_some()), ("--off", args.off.is_some())] {
        if given {
            return Err(format!("option {option} applies only with --model CKPT (the bundled network takes --blocks)"));
        }
    }
    let mut config = ModelConfig::default();
    let blocks = args.blocks.as_deref().unwrap_or("se,eca,gc,cbam,nonlocal,mhsa");
    if blocks.trim() != "none" {
        for word in blocks.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let kind: BlockKind = word.parse().map_err(|e: attention_playground::Error| e.to_string())?;
            if !config.blocks.iter().any(|(k, _)| *k == kind) {
                config.blocks.push((kind, trained_options(kind)));
            }
        }
    }
    let mut model = Model::trained(&config).map_err(|e| e.to_string())?;
    for spec in &args.own_weights {
        let (kind, file, prefix) = parse_weights_spec(spec, &args.prefix)?;
        let bytes = fs::read(file).map_err(|e| format!("cannot read weights file {file}: {e}"))?;
        let given = trained_options(kind);
        let ported = ports::read_block_weights(&bytes, file, prefix, kind, &given).map_err(|e| e.to_string())?;
        model.replace_block(kind, &ported.weights, &ported.options(&given)).map_err(|e| format!("{file}: {}", ported.explain(e)))?;
        if let Some(note) = &ported.note {
            eprintln!("attention-playground: {file}: {note}");
        }
    }

    let decode::Photo { rgba, width, height, original, figure } = decode::load(&args.image)?;
    let original = (original.0 as f64, original.1 as f64);
    let input = model_image::rgba_to_input(&rgba, width, height).map_err(|e| e.to_string())?;
    let photo = RgbaImage::from_raw(width as u32, height as u32, rgba).expect("working-size pixels");

    let backend = pollster::block_on(AnyBackend::select(args.backend)).map_err(|e| e.to_string())?;
    let run = pollster::block_on(model.run(&backend, &input, &|| 0.0)).map_err(|e| e.to_string())?;
    let query = args.query.as_deref().map(|q| parse_query(q, original)).transpose()?;
    let queries = [BlockKind::NonLocal, BlockKind::Mhsa]
        .into_iter()
        .filter_map(|kind| {
            let stage = run.stage(kind)?;
            let (fh, fw) = (stage.input.shape()[2], stage.input.shape()[3]);
            let (x, y) = query?;
            Some((kind, (((x * fw as f64) as usize).min(fw - 1), ((y * fh as f64) as usize).min(fh - 1))))
        })
        .collect();
    let options = ReportOptions { queries, features: false, gpu_word: "gpu", independence: Some(4) };
    let result = pollster::block_on(report::report(&model, &backend, &run, width, height, &options, &|| 0.0)).map_err(|e| e.to_string())?;

    fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let rgb = image::DynamicImage::ImageRgba8(photo).to_rgb8();
    let painter = draw::Painter::new();
    let mut written = Vec::new();
    for (name, svg) in figures(&painter, &figure, &result) {
        let png = painter.png(&svg)?;
        for (ext, bytes) in [("svg", svg.as_bytes()), ("png", &png[..])] {
            let path = args.out.join(format!("{name}.{ext}"));
            fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        written.push(format!("{name}.{{svg,png}}"));
    }
    // The photo as the network saw it (upright, on white, at the working size): the page sees
    // the same pixels (tests/browser/ compares them).
    rgb.save(args.out.join("photo.png")).map_err(|e| format!("cannot write photo.png: {e}"))?;
    written.push("photo.png".into());
    let json = serde_json::to_string_pretty(&JsonValue(&result)).expect("a report serialises");
    fs::write(args.out.join("result.json"), json).map_err(|e| format!("cannot write result.json: {e}"))?;
    written.push("result.json".into());

    let label = |key: &str| {
        let p = result.get(key);
        let name = match p.and_then(|p| p.get("label")) {
            Some(Value::Text(t)) => t.clone(),
            _ => String::new(),
        };
        let top = match p.and_then(|p| p.get("probabilities")) {
            Some(Value::Floats(f)) => f.iter().cloned().fold(0.0, f32::max),
            _ => 0.0,
        };
        format!("{name} {:.0}%", 100.0 * top)
    };
    Ok(format!(
        "attention-playground: {} ({width} x {height}) on the {}: {} (without attention: {}); wrote {} to {}",
        args.image.display(),
        backend.kind(),
        label("prediction"),
        label("baseline"),
        written.join(", "),
        args.out.display()
    ))
}

/// `--weights BLOCK=FILE[:PREFIX]`: the block, the file and the prefix (`default` when the spec
/// names none). The prefix follows the last `:` only when FILE:PREFIX is not itself a file and
/// what follows holds no `/` or `\` (so `C:\w.safetensors` stays a path).
fn parse_weights_spec<'a>(spec: &'a str, default: &'a str) -> Result<(BlockKind, &'a str, &'a str), String> {
    let (block, rest) = spec.split_once('=').ok_or_else(|| format!("option --weights: expected BLOCK=FILE[:PREFIX], got `{spec}`"))?;
    let kind: BlockKind = block.parse().map_err(|e: attention_playground::Error| e.to_string())?;
    let (file, prefix) = match rest.rsplit_once(':') {
        Some((file, prefix)) if !file.is_empty() && !prefix.contains(['/', '\\']) && !Path::new(rest).exists() => (file, prefix),
        _ => (rest, default),
    };
    Ok((kind, file, prefix))
}

/// `"X,Y"` in pixels of a `pw x ph` photo to fractions of its width and height.
fn parse_query(text: &str, (pw, ph): (f64, f64)) -> Result<(f64, f64), String> {
    let bad = || format!("option --query: expected X,Y inside the {pw} x {ph} photo, got `{text}`");
    let (x, y) = text.split_once(',').ok_or_else(bad)?;
    let (x, y): (f64, f64) = (x.trim().parse().map_err(|_| bad())?, y.trim().parse().map_err(|_| bad())?);
    if !(0.0..pw).contains(&x) || !(0.0..ph).contains(&y) {
        return Err(bad());
    }
    Ok((x / pw, y / ph))
}

/// The figures of each block in `result` as SVG, by file name without the extension.
fn figures(painter: &draw::Painter, photo: &RgbImage, result: &Value) -> Vec<(String, String)> {
    let Some(Value::Object(blocks)) = result.get("blocks") else { return vec![] };
    let photo = draw::Photo::new(photo);
    let mut files = Vec::new();
    for (name, entry) in blocks {
        let Ok(kind) = name.parse::<BlockKind>() else { continue };
        if let Some(Value::Floats(gates)) = entry.get("channel") {
            let names: Vec<String> = match entry.get("channel_names") {
                Some(Value::List(list)) => list.iter().map(|v| if let Value::Text(t) = v { t.clone() } else { String::new() }).collect(),
                _ => (0..gates.len()).map(|c| format!("channel {c}")).collect(),
            };
            // The page's heading for this view.
            let title = format!("{}: {} channel weights (σ gates; 1 keeps a channel, 0 silences it)", label(kind), channels_at(kind));
            files.push((format!("channels-{name}"), painter.channel_chart(&title, &names, gates)));
        }
        for (key, title, legend) in [("spatial", "spatial gate", "gate"), ("context", "context weights (softmax over positions)", "weight")]
        {
            if let Some(map) = entry.get(key).and_then(draw::Map::from_value) {
                let title = format!("{} {title}, {} x {}", label(kind), map.width, map.height);
                files.push((format!("{key}-{name}"), painter.overlay(&photo, &map, &title, legend)));
            }
        }
        if let (Some(query), Some(attention)) = (entry.get("query"), entry.get("attention")) {
            let number = |v: Option<&Value>, k: &str| if let Some(Value::Number(n)) = v.and_then(|v| v.get(k)) { *n } else { 0.0 };
            let maps: Vec<draw::Map> = match attention {
                Value::List(heads) => heads.iter().filter_map(draw::Map::from_value).collect(),
                single => draw::Map::from_value(single).into_iter().collect(),
            };
            if let Some(first) = maps.first() {
                let grid = entry.get("grid");
                let query = draw::Query {
                    x: number(Some(query), "x"),
                    y: number(Some(query), "y"),
                    width: number(grid, "width"),
                    height: number(grid, "height"),
                };
                let keys = if first.width as f64 == query.width {
                    String::new()
                } else {
                    format!(" (keys subsampled to {} x {})", first.width, first.height)
                };
                let title = match maps.len() {
                    1 => format!("{}: where the marked position attends{keys}", label(kind)),
                    heads => format!("{}: where the marked position attends, in each of its {heads} heads{keys}", label(kind)),
                };
                let cells = first.width * first.height;
                let note = format!(
                    "the query: cell ({}, {}) of the {} x {} grid; uniform attention would be 1/{cells} = {:.2e}",
                    query.x,
                    query.y,
                    query.width,
                    query.height,
                    1.0 / cells as f64
                );
                files.push((format!("attention-{name}"), painter.attention(&photo, &maps, &title, &note, query)));
            }
        }
    }
    files
}

fn label(kind: BlockKind) -> &'static str {
    match kind {
        BlockKind::Se => "SE",
        BlockKind::Cbam => "CBAM",
        BlockKind::NonLocal => "Non-local",
        BlockKind::Eca => "ECA",
        BlockKind::Gc => "GC",
        BlockKind::Mhsa => "MHSA",
    }
}

/// Serialises a report with its floats as the shortest decimal that reads back as the same f32.
struct JsonValue<'a>(&'a Value);

impl serde::Serialize for JsonValue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => s.serialize_i64(*n as i64),
            Value::Number(n) => s.serialize_f64(*n),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Text(t) => s.serialize_str(t),
            Value::Floats(f) => {
                let mut seq = s.serialize_seq(Some(f.len()))?;
                for v in f {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&JsonValue(v))?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, &JsonValue(v))?;
                }
                map.end()
            }
        }
    }
}
