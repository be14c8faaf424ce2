//! `render --model CKPT`: a whole network on one photo. The checkpoint is read and built as
//! `net --model` builds it, the photo read as `net --image` reads it (upright, on white, then the
//! network's evaluation transform), and every attention block's maps drawn:
//! - `<path>-channels` (`layer3-1-se-channels`): the channel gates, as the bundled network's bar
//!   chart up to [`BARS_UP_TO`] channels, above that as a rank profile (`Painter::gate_profile`);
//! - `<path>-spatial` (CBAM), `<path>-context` (GC): the map over the crop the network saw;
//! - `overview`: every block by depth, a row per stage;
//! - `photo.png` (the crop the network saw) and `result.json`.

use std::fs;
use std::path::Path;

use attention_playground::model::report::Value;
use attention_playground::net::checkpoint::StateDict;
use attention_playground::net::config::{CheckpointConfig, beside_hint, class_names_for, transform_for};
use attention_playground::net::preprocess::{Preprocess, top_k};
use attention_playground::net::report::{self, block_counts, first_image, object, stage_of, top5};
use attention_playground::net::session::Session;
use attention_playground::net::{BlockRecord, Net, NetRun, Off, families};
use attention_playground::{AnyBackend, Tensor};
use image::RgbImage;

use super::{JsonValue, RenderArgs, decode, draw};

/// Channel gates up to this many are drawn one named bar each; more as a rank profile.
pub const BARS_UP_TO: usize = 32;

/// Renders the network at `model`; returns the summary line, or the one-line problem. Nothing
/// is written unless everything was computed.
pub fn render(args: &RenderArgs, model: &Path) -> Result<String, String> {
    let file = model.display().to_string();
    // A config.json beside the checkpoint (or --config) gives its architecture, class names and
    // transform, as `net` reads it.
    let config = CheckpointConfig::for_checkpoint(model, args.config.as_deref()).map_err(|e| e.to_string())?;
    let network = {
        let dict = StateDict::read_path(model).map_err(|e| e.to_string())?;
        families::build_with_config(&dict, args.arch.as_deref(), config.as_ref())
            .map_err(|e| format!("{file}: {e}{}", beside_hint(&e, args.config.as_deref())))?
    };
    let blocks = network.attention_blocks();
    if blocks.is_empty() {
        return Err(format!(
            "{file}: {} has no attention blocks, so there is nothing to draw (`net --image` gives its prediction)",
            network.arch
        ));
    }
    let off = Off::parse(args.off.as_deref().unwrap_or(""));
    off.check(&network).map_err(|e| e.to_string())?;

    // The photo as `net --image` reads it.
    let upright = decode::upright(&args.image)?;
    let transform = transform_for(&network, config.as_ref());
    let (width, height) = (upright.width() as usize, upright.height() as usize);
    let x = transform.apply(upright.as_raw(), width, height).map_err(|e| e.to_string())?;
    let names = class_names_for(&network, config.as_ref(), None).map_err(|e| e.to_string())?;

    let backend = pollster::block_on(AnyBackend::select(args.backend)).map_err(|e| e.to_string())?;
    let run = pollster::block_on(network.run(&backend, &x, &Off::default())).map_err(|e| e.to_string())?;
    let without =
        if off.0.is_empty() { None } else { Some(pollster::block_on(network.run(&backend, &x, &off)).map_err(|e| e.to_string())?) };
    let rows = centre_rows(&network, &backend, &x, &run).map_err(|e| e.to_string())?;

    // The crop the network saw, and a sharper copy of the same crop for the figures.
    let seen = unnormalise(&x, &transform);
    let crop = figure_crop(&upright, &transform).map_err(|e| e.to_string())?.unwrap_or_else(|| seen.clone());
    let thumb_side = 2 * 64;
    let thumb = image::imageops::resize(&crop, thumb_side, thumb_side, image::imageops::FilterType::Triangle);

    let painter = draw::Painter::new();
    let photo = draw::Photo::new(&crop);
    let mut figures: Vec<(String, String)> = Vec::new();
    let mut block_figures: Vec<Vec<String>> = Vec::new();
    for record in &run.blocks {
        let mut names = Vec::new();
        for (name, svg) in block_figures_of(&painter, &photo, record, rows.get(&record.path)) {
            names.push(name.clone());
            figures.push((name, svg));
        }
        block_figures.push(names);
    }
    let top = top_k(run.logits.data(), 5);
    let (best, p) = top.first().copied().unwrap_or((0, 0.0));
    let mut notes = vec![format!("{}, shallow (top) to deep (bottom), a row per stage.", block_counts(&blocks))];
    if run.blocks.iter().any(|b| b.maps.contains_key("channel")) {
        notes.push(
            "Channel gates: sorted, highest first, on one axis shared by every block and coloured on it; beside them a bar from the lowest to the highest gate, the dot at the mean."
                .into(),
        );
    }
    let has = |map: &str| run.blocks.iter().any(|b| b.maps.contains_key(map));
    let maps = match (has("spatial"), has("context")) {
        (true, true) => Some("Spatial and context maps"),
        (true, false) => Some("Spatial maps"),
        (false, true) => Some("Context maps"),
        (false, false) => None,
    };
    if let Some(maps) = maps {
        notes.push(format!(
            "{maps}: over the {s} x {s} crop the network saw (top left), each in viridis over its own range.",
            s = transform.input_size
        ));
    }
    if !rows.is_empty() {
        notes.push(
            "Non-local and BoTNet self-attention blocks: where the centre position of each one's grid attends (per head), in its <path>-attention figure; the page answers any position."
                .into(),
        );
    }
    let off_line = without.as_ref().map(|w| {
        let (i, q) = top_k(w.logits.data(), 1)[0];
        format!("with {} off: {} {:.1}%", off.0.join(", "), names[i], 100.0 * q)
    });
    if let Some(line) = &off_line {
        notes.push(format!("With {}.", line.trim_start_matches("with ")));
    }
    let title = format!("{}: {} {:.1}%", network.arch, names[best], 100.0 * p);
    let overview = painter.overview(&title, &notes, &draw::Photo::new(&thumb), &stages(&run.blocks));

    let result = result_object(&network, &file, args, &transform, &backend, &names, &run, without.as_ref(), &off, &block_figures);
    let json = serde_json::to_string_pretty(&JsonValue(&result)).expect("a result serialises");
    let mut rasters = Vec::new();
    for (name, svg) in std::iter::once(("overview".to_string(), overview)).chain(figures) {
        let png = painter.png(&svg)?;
        rasters.push((name, svg, png));
    }

    fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    for (name, svg, png) in &rasters {
        for (ext, bytes) in [("svg", svg.as_bytes()), ("png", &png[..])] {
            let path = args.out.join(format!("{name}.{ext}"));
            fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    seen.save(args.out.join("photo.png")).map_err(|e| format!("cannot write photo.png: {e}"))?;
    fs::write(args.out.join("result.json"), json).map_err(|e| format!("cannot write result.json: {e}"))?;

    let ran = run.ran_on();
    let off_part = off_line.map(|l| format!(" ({l})")).unwrap_or_default();
    let block_part = match &rasters[1..] {
        [] => String::new(),
        [one] => format!(", 1 block figure ({}.{{svg,png}})", one.0),
        [first, rest @ ..] => format!(", {} block figures ({}.{{svg,png}}, ...)", rest.len() + 1, first.0),
    };
    Ok(format!(
        "attention-playground: {} through {} ({}; {s} x {s} crop, {}) on the {ran}: {} {:.1}%{off_part}; wrote overview.{{svg,png}}{block_part}, photo.png and result.json to {}",
        args.image.display(),
        network.arch,
        block_counts(&blocks),
        transform.interpolation,
        names[best],
        100.0 * p,
        args.out.display(),
        s = transform.input_size,
    ))
}

/// The figures of one block, by file name without the extension.
/// Where the centre cell of each Non-local and BoTNet block's grid attends, per block path: the
/// row `(1, Hk, Wk)` or `(1, heads, H, W)` and the cell, from a session's re-run of the module
/// that holds the block (every block on).
type Rows = std::collections::BTreeMap<String, (Tensor, (usize, usize))>;

fn centre_rows(network: &Net, backend: &AnyBackend, x: &Tensor, run: &NetRun) -> attention_playground::Result<Rows> {
    let asked: Vec<&BlockRecord> = run.blocks.iter().filter(|b| ["nl", "bot"].contains(&b.kind) && !b.off).collect();
    let mut rows = Rows::new();
    if asked.is_empty() {
        return Ok(rows);
    }
    let kernels = backend.cpu_kernels();
    let mut session = Session::new(network.clone());
    pollster::block_on(session.run(backend, kernels, x, &Off::default(), &|| 0.0))?;
    for record in asked {
        let (h, w) = record.grid;
        let cell = (w / 2, h / 2);
        let row = pollster::block_on(session.attention_row(backend, kernels, &record.path, cell))?.row;
        rows.insert(record.path.clone(), (row, cell));
    }
    Ok(rows)
}

fn block_figures_of(
    painter: &draw::Painter,
    photo: &draw::Photo,
    record: &BlockRecord,
    row: Option<&(Tensor, (usize, usize))>,
) -> Vec<(String, String)> {
    let stem = record.path.replace('.', "-");
    let kind = kind_label(record.kind);
    let mut out = Vec::new();
    if let Some(gates) = record.maps.get("channel") {
        let gates = first_image(gates);
        let title = format!("{} · {kind}: {} channel gates (1 keeps a channel, 0 silences it)", record.path, gates.len());
        let svg = if gates.len() <= BARS_UP_TO {
            let names: Vec<String> = (0..gates.len()).map(|c| format!("channel {c}")).collect();
            painter.channel_chart(&title, &names, gates)
        } else {
            painter.gate_profile(&title, gates)
        };
        out.push((format!("{stem}-channels"), svg));
    }
    for (key, what, legend) in [("spatial", "spatial gate", "gate"), ("context", "context weights (softmax over positions)", "weight")] {
        if let Some(map) = record.maps.get(key).map(map_of) {
            let title = format!("{} · {kind} {what}, {} x {}", record.path, map.width, map.height);
            out.push((format!("{stem}-{key}"), painter.overlay(photo, &map, &title, legend)));
        }
    }
    if let Some(map) = record.maps.get("branch").map(map_of) {
        let title = format!("{} · {kind}: {} channels shared out over {} branches", record.path, map.width, map.height);
        let rows: Vec<String> = (1..=map.height)
            .map(|r| if record.kind == "sk" { format!("branch {r} (dilation {r})") } else { format!("radix group {r}") })
            .collect();
        out.push((format!("{stem}-branches"), painter.branch_shares(&title, &rows, &map)));
    }
    if let Some((row, (fx, fy))) = row {
        // One map per head (a Non-local row is one head's).
        let maps: Vec<draw::Map> = match *row.shape() {
            [_, heads, h, w] => {
                (0..heads).map(|i| draw::Map { width: w, height: h, data: row.data()[i * h * w..(i + 1) * h * w].to_vec() }).collect()
            }
            _ => vec![map_of(row)],
        };
        let (h, w) = record.grid;
        let title = match maps.len() {
            1 => format!("{} · {kind}: where the centre position attends", record.path),
            heads => format!("{} · {kind}: where the centre position attends, in each of its {heads} heads", record.path),
        };
        let cells = maps[0].width * maps[0].height;
        let position = if record.kind == "bot" { "; content and relative position together" } else { "" };
        let note = format!(
            "the query: cell ({fx}, {fy}) of the {w} x {h} grid; uniform attention would be 1/{cells} = {:.2e}{position}",
            1.0 / cells as f64
        );
        let query = draw::Query { x: *fx as f64, y: *fy as f64, width: w as f64, height: h as f64 };
        out.push((format!("{stem}-attention"), painter.attention(photo, &maps, &title, &note, query)));
    }
    out
}

/// The first image's values of a `(N, ...)` map.
/// A `(N, H, W)` map's first image.
fn map_of(t: &Tensor) -> draw::Map {
    let s = t.shape();
    draw::Map { width: s[2], height: s[1], data: first_image(t).to_vec() }
}

/// The overview's rows: the blocks grouped by stage, in order of depth.
fn stages(records: &[BlockRecord]) -> Vec<draw::Stage> {
    let mut stages: Vec<draw::Stage> = Vec::new();
    for record in records {
        let name = stage_of(&record.path);
        let gates = record.maps.get("channel").map(|t| first_image(t).to_vec());
        let maps: Vec<draw::Map> = ["spatial", "context"].iter().filter_map(|k| record.maps.get(k)).map(map_of).collect();
        let (h, w) = record.grid;
        let detail = match (&gates, maps.first()) {
            (Some(g), _) => format!("mean {}", short_value(g.iter().map(|&v| v as f64).sum::<f64>() / g.len().max(1) as f64)),
            (None, Some(m)) => format!("map {} x {}", m.width, m.height),
            (None, None) if record.maps.contains_key("branch") => {
                let means = map_of(&record.maps["branch"]).row_means();
                format!("shares {}", means.iter().map(|&m| short_value(m as f64)).collect::<Vec<_>>().join(" / "))
            }
            (None, None) if record.kind == "nl" || record.kind == "bot" => {
                format!("centre's row: {}-attention", record.path.replace('.', "-"))
            }
            (None, None) => String::new(),
        };
        let cell = draw::Cell {
            path: record.path.clone(),
            // A branch attention's input is its branches side by side: R x C.
            caption: match record.maps.get("branch").map(|t| t.shape()) {
                Some(&[_, r, c]) => format!("{} · {r} x {c} ch", kind_label(record.kind)),
                _ => format!("{} · {} ch", kind_label(record.kind), record.channels),
            },
            detail,
            gates,
            maps,
            shares: record.maps.get("branch").map(map_of),
        };
        let grid = format!("{h} x {w}");
        match stages.last_mut() {
            Some(stage) if stage.name == name => {
                if !stage.note.split(", ").any(|g| g == grid) {
                    stage.note = format!("{}, {grid}", stage.note);
                }
                stage.cells.push(cell);
            }
            _ => stages.push(draw::Stage { name, note: grid, cells: vec![cell] }),
        }
    }
    stages
}

/// A mean for a caption: three significant digits.
fn short_value(v: f64) -> String {
    if v.abs() >= 0.001 || v == 0.0 { format!("{v:.3}") } else { format!("{v:.2e}") }
}

fn kind_label(kind: &str) -> String {
    match kind {
        "nl" => "Non-local".into(),
        "splat" => "Split Attention".into(),
        "bot" => "BoT".into(),
        other => other.to_uppercase(),
    }
}

/// The normalised `(1, 3, S, S)` input back to its pixels: the crop the network saw.
fn unnormalise(x: &Tensor, t: &Preprocess) -> RgbImage {
    let s = x.shape()[2];
    let d = x.data();
    RgbImage::from_fn(s as u32, s as u32, |px, py| {
        image::Rgb(std::array::from_fn(|c| {
            let v = d[(c * s + py as usize) * s + px as usize];
            ((v * t.std[c] + t.mean[c]) * 255.0).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// The same crop at up to the figures' photo size ([`decode::FIGURE_SIDE`]), from the whole
/// photo; `None` when the photo holds no more detail than the network saw.
fn figure_crop(photo: &image::RgbaImage, t: &Preprocess) -> attention_playground::Result<Option<RgbImage>> {
    let shorter = photo.width().min(photo.height()) as f64;
    let side = ((shorter * t.crop_pct).round() as usize).min(decode::FIGURE_SIDE);
    if side <= t.input_size {
        return Ok(None);
    }
    // The transform at a larger size crops the same share of the photo.
    let sharp = Preprocess { input_size: side, ..t.clone() };
    let x = sharp.apply(photo.as_raw(), photo.width() as usize, photo.height() as usize)?;
    Ok(Some(unnormalise(&x, &sharp)))
}

#[allow(clippy::too_many_arguments)]
fn result_object(
    network: &Net,
    file: &str,
    args: &RenderArgs,
    transform: &Preprocess,
    backend: &AnyBackend,
    names: &[String],
    run: &attention_playground::net::NetRun,
    without: Option<&attention_playground::net::NetRun>,
    off: &Off,
    figures: &[Vec<String>],
) -> Value {
    let blocks = run
        .blocks
        .iter()
        .zip(figures)
        .map(|(record, figures)| {
            let mut block = report::block(record);
            if let Value::Object(fields) = &mut block {
                fields.push(("figures".into(), Value::List(figures.iter().map(|f| Value::Text(f.clone())).collect())));
            }
            block
        })
        .collect();
    let mut fields = vec![
        ("arch", Value::Text(network.arch.clone())),
        ("family", Value::Text(network.family.into())),
        ("model", Value::Text(file.into())),
        ("image", Value::Text(args.image.display().to_string())),
        ("backend", Value::Text(backend.kind().to_string())),
        ("input", report::input(transform)),
        ("classes", Value::Number(network.classes as f64)),
        ("top5", top5(&run.logits, names)),
    ];
    if let Some(without) = without {
        let covered = without.blocks.iter().filter(|b| b.off).map(|b| Value::Text(b.path.clone())).collect();
        fields.push((
            "off",
            object(vec![
                ("given", Value::List(off.0.iter().map(|w| Value::Text(w.clone())).collect())),
                ("blocks", Value::List(covered)),
                ("top5", top5(&without.logits, names)),
            ]),
        ));
    }
    fields.push(("network", object(vec![("arch", Value::Text(network.arch.clone())), ("blocks", Value::List(blocks))])));
    object(fields)
}
