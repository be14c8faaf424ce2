//! `attention-playground render`: the figures a blog post wants, for one photo. It runs the
//! trained network exactly as the playground does and writes into `--out`:
//! - `spatial-cbam.png`, `context-gc.png`: the map over the photo, with a colour bar;
//! - `channels-<block>.png` for SE, ECA, GC and CBAM: the channel weights as a labelled bar chart;
//! - `attention-nonlocal.png`, `attention-mhsa.png`: where the query position attends (one panel
//!   per head for MHSA), the query marked;
//! - `result.json`: the playground's result object without the feature maps.

mod draw;

use std::fs;
use std::path::{Path, PathBuf};

use attention_playground::model::report::{self, ReportOptions, Value};
use attention_playground::model::{Model, ModelConfig, channels_at, image as model_image, trained_options};
use attention_playground::{AnyBackend, BackendChoice, BlockKind, Weights};
use clap::Args;
use image::{ImageReader, Limits, RgbImage, RgbaImage};

/// Photos larger than this on disk are refused before decoding.
const MAX_FILE_BYTES: u64 = 200 << 20;
/// Photos wider or taller than this are refused by the decoder (the 12000 x 12000 test photo fits).
const MAX_SIDE: u32 = 20_000;

#[derive(Args)]
pub struct RenderArgs {
    /// The photo: JPEG, PNG, WebP or GIF (the first frame); scaled to 224 px on its longer side
    #[arg(long, value_name = "PHOTO")]
    image: PathBuf,
    /// The blocks to switch on, comma-separated (se, eca, gc, cbam, nonlocal, mhsa), or `none`
    #[arg(long, value_name = "LIST", default_value = "se,eca,gc,cbam,nonlocal,mhsa")]
    blocks: String,
    /// The folder to write the figures and result.json into (created if missing)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The Non-local / MHSA query: pixel column X and row Y of the photo (default: its centre)
    #[arg(long, value_name = "X,Y")]
    query: Option<String>,
    /// auto (a hardware GPU if present, else the CPU), cpu, or gpu
    #[arg(long, value_name = "BACKEND", default_value = "auto")]
    backend: BackendChoice,
    /// A block's own weights instead of the trained ones, as BLOCK=FILE.safetensors (repeatable)
    #[arg(long = "weights", value_name = "BLOCK=FILE")]
    own_weights: Vec<String>,
}

/// Renders; returns the summary line, or the one-line problem.
pub fn render(args: &RenderArgs) -> Result<String, String> {
    let mut config = ModelConfig::default();
    if args.blocks.trim() != "none" {
        for word in args.blocks.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let kind: BlockKind = word.parse().map_err(|e: attention_playground::Error| e.to_string())?;
            if !config.blocks.iter().any(|(k, _)| *k == kind) {
                config.blocks.push((kind, trained_options(kind)));
            }
        }
    }
    let mut model = Model::trained(&config).map_err(|e| e.to_string())?;
    for spec in &args.own_weights {
        let (block, file) = spec.split_once('=').ok_or_else(|| format!("option --weights: expected BLOCK=FILE, got `{spec}`"))?;
        let kind: BlockKind = block.parse().map_err(|e: attention_playground::Error| e.to_string())?;
        let bytes = fs::read(file).map_err(|e| format!("cannot read weights file {file}: {e}"))?;
        let weights = Weights::from_safetensors(&bytes).map_err(|e| e.to_string())?;
        model.replace_block(kind, &weights, &trained_options(kind)).map_err(|e| format!("{file}: {e}"))?;
    }

    let photo = decode(&args.image)?;
    let original = (photo.width() as f64, photo.height() as f64);
    let (width, height) = model_image::working_size(photo.width() as usize, photo.height() as usize);
    let photo = image::imageops::resize(&photo, width as u32, height as u32, image::imageops::FilterType::Triangle);
    let input = model_image::rgba_to_input(photo.as_raw(), width, height).map_err(|e| e.to_string())?;

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
    let options = ReportOptions { queries, features: false, gpu_word: "gpu" };
    let result = pollster::block_on(report::report(&model, &backend, &run, width, height, &options, &|| 0.0)).map_err(|e| e.to_string())?;

    fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let rgb = image::DynamicImage::ImageRgba8(photo).to_rgb8();
    let mut written = Vec::new();
    for (name, figure) in figures(&rgb, &result) {
        let path = args.out.join(&name);
        figure.save(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(name);
    }
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

/// Decodes a JPEG, PNG, WebP or GIF (first frame) within the size limits, with a one-line error.
fn decode(path: &Path) -> Result<RgbaImage, String> {
    let name = path.display();
    let size = fs::metadata(path).map_err(|e| format!("cannot read image {name}: {e}"))?.len();
    if size > MAX_FILE_BYTES {
        return Err(format!("image {name}: {} MB is over the {} MB limit", size >> 20, MAX_FILE_BYTES >> 20));
    }
    let reader = ImageReader::open(path).map_err(|e| format!("cannot read image {name}: {e}"))?;
    let mut reader = reader.with_guessed_format().map_err(|e| format!("cannot read image {name}: {e}"))?;
    if reader.format().is_none() {
        return Err(format!("image {name}: not a JPEG, PNG, WebP or GIF file"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(2 << 30);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => format!("image {name}: larger than {MAX_SIDE} pixels a side or 2 GiB decoded"),
        image::ImageError::Unsupported(_) => format!("image {name}: not a JPEG, PNG, WebP or GIF file ({e})"),
        other => format!("image {name}: cannot decode it ({other})"),
    })?;
    if decoded.width() < 8 || decoded.height() < 8 {
        return Err(format!("image {name}: {} x {} pixels is too small (8 a side at least)", decoded.width(), decoded.height()));
    }
    Ok(decoded.to_rgba8())
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

/// The figures of each block in `result`, by file name.
fn figures(photo: &RgbImage, result: &Value) -> Vec<(String, RgbImage)> {
    let Some(Value::Object(blocks)) = result.get("blocks") else { return vec![] };
    let mut files = Vec::new();
    for (name, entry) in blocks {
        let Ok(kind) = name.parse::<BlockKind>() else { continue };
        if let Some(Value::Floats(gates)) = entry.get("channel") {
            let names: Vec<String> = match entry.get("channel_names") {
                Some(Value::List(list)) => list.iter().map(|v| if let Value::Text(t) = v { t.clone() } else { String::new() }).collect(),
                _ => (0..gates.len()).map(|c| format!("channel {c}")).collect(),
            };
            let title = format!("{}: channel weights ({} channels)", label(kind), channels_at(kind));
            files.push((format!("channels-{name}.png"), draw::channel_chart(&title, &names, gates)));
        }
        for (key, file, title) in [("spatial", "spatial", "spatial gate"), ("context", "context", "context weights")] {
            if let Some(map) = entry.get(key).and_then(draw::Map::from_value) {
                files.push((format!("{file}-{name}.png"), draw::overlay(photo, &map, &format!("{}: {title}", label(kind)), None)));
            }
        }
        if let (Some(query), Some(attention)) = (entry.get("query"), entry.get("attention")) {
            let number = |v: Option<&Value>, k: &str| if let Some(Value::Number(n)) = v.and_then(|v| v.get(k)) { *n } else { 0.0 };
            let maps: Vec<draw::Map> = match attention {
                Value::List(heads) => heads.iter().filter_map(draw::Map::from_value).collect(),
                single => draw::Map::from_value(single).into_iter().collect(),
            };
            if !maps.is_empty() {
                let grid = (number(entry.get("grid"), "width"), number(entry.get("grid"), "height"));
                let cell = (number(Some(query), "x"), number(Some(query), "y"));
                let panels: Vec<RgbImage> = maps
                    .iter()
                    .enumerate()
                    .map(|(i, map)| {
                        let head = if maps.len() > 1 { format!(", head {}", i + 1) } else { String::new() };
                        draw::overlay(photo, map, &format!("{}{head}: attention of the marked position", label(kind)), Some((cell, grid)))
                    })
                    .collect();
                files.push((format!("attention-{name}.png"), draw::side_by_side(&panels)));
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
