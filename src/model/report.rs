//! The result object of one run, in one place for both of its readers: the browser (`web.rs`
//! turns it into JS objects with `Float32Array`s) and `attention-playground render` (which writes
//! it as `result.json`). Its shape is documented in the README ("The result object").

use super::{Model, ModelRun, Prediction, channel_names};
use crate::backend::{AnyBackend, BackendKind};
use crate::blocks::{Block, BlockKind};
use crate::error::Result;
use crate::scenes::CLASSES;
use crate::tensor::Tensor;

pub use crate::report::{Value, plane};

/// [`crate::analysis::QueryIndependence`] as the page reads it: the queries as `{ x, y }` cells of
/// the block's grid, each query's rows per head as planes.
pub fn independence_value(measured: &crate::analysis::QueryIndependence) -> Value {
    let width = measured.grid.1;
    let queries = measured
        .queries
        .iter()
        .map(|&q| Value::object(vec![("x", Value::Number((q % width) as f64)), ("y", Value::Number((q / width) as f64))]))
        .collect();
    let rows = measured
        .rows
        .iter()
        .map(|r| {
            let s = r.shape();
            Value::List(r.data().chunks_exact(s[1] * s[2]).map(|h| plane(s[2], s[1], h)).collect())
        })
        .collect();
    Value::object(vec![
        ("side", Value::Number(measured.side as f64)),
        ("grid", Value::object(vec![("width", Value::Number(measured.grid.1 as f64)), ("height", Value::Number(measured.grid.0 as f64))])),
        ("heads", Value::Number(measured.js_bits.len() as f64)),
        ("js_bits", Value::List(measured.js_bits.iter().map(|&b| Value::Number(b)).collect())),
        ("queries", Value::List(queries)),
        ("rows", Value::List(rows)),
    ])
}

/// A block's steps ([`Model::trace`]) as the page reads them: each `trace.<step>` map under its
/// step's name and each gate (`gate` for the channel map, `spatial`, `context_weights`) as
/// `{ shape, data }` (one image's shape, `data` a `Float32Array`); CBAM also gives its spatial
/// `kernel` `{ shape: [2, k, k], data }`, its BatchNorm as `bn: [scale, shift]` and its pooling
/// `order`; then `channel_names?`, `at?` (the traced query `{ x, y }` on the block's grid, for
/// Non-local and MHSA) and `ran_on`.
pub fn trace_value(block: &Block, out: &crate::blocks::BlockOutput, query: Option<(usize, usize)>) -> Value {
    steps_value(block.kind().name(), Some(block), out, query, channel_names(block.kind()))
}

/// [`trace_value`] of any block's steps: `kind` says whose steps they are, `block` (where there is
/// one) adds CBAM's kernel, `names` the channels' names; with a `kind` field added.
pub fn steps_value(
    kind: &str,
    block: Option<&Block>,
    out: &crate::blocks::BlockOutput,
    query: Option<(usize, usize)>,
    names: Option<&[&str]>,
) -> Value {
    let step = |shape: &[usize], data: &[f32]| {
        Value::object(vec![
            ("shape", Value::List(shape.iter().map(|&d| Value::Number(d as f64)).collect())),
            ("data", Value::Floats(data.to_vec())),
        ])
    };
    // Maps are batches; the page's run is one image.
    let image = |t: &Tensor| step(&t.shape()[1..], t.data());
    let mut fields: Vec<(&str, Value)> = out
        .maps
        .iter()
        .filter_map(|(name, t)| {
            let field = match *name {
                "channel" => "gate",
                "spatial" => "spatial",
                "context" => "context_weights",
                "branch" => "branch",
                other => other.strip_prefix("trace.")?,
            };
            Some((field, image(t)))
        })
        .collect();
    if let Some(Block::Cbam(cbam)) = block {
        let (kernel, k) = cbam.spatial_kernel();
        let (scale, shift) = cbam.spatial_bn_affine();
        fields.push(("kernel", step(&[2, k, k], kernel)));
        fields.push(("bn", Value::Floats(vec![scale, shift])));
        fields.push(("order", Value::Text(cbam.spatial_order().to_string())));
    }
    if let Some(names) = names {
        fields.push(("channel_names", Value::List(names.iter().map(|n| Value::Text(n.to_string())).collect())));
    }
    if let Some((x, y)) = query {
        fields.push(("at", Value::object(vec![("x", Value::Number(x as f64)), ("y", Value::Number(y as f64))])));
    }
    fields.push(("kind", Value::Text(kind.to_string())));
    fields.push(("ran_on", Value::Text(out.ran_on.to_string())));
    Value::object(fields)
}

/// [`crate::tokens::Walkthrough`] as the page reads it: every matrix a plane `{ width, height,
/// data }` with one row per token (`width` its columns).
pub fn walkthrough_value(w: &crate::tokens::Walkthrough) -> Value {
    let t = w.tokens.len();
    let dk = crate::tokens::DIM / w.heads.len();
    let heads = w
        .heads
        .iter()
        .map(|h| {
            Value::object(vec![
                ("q", plane(dk, t, &h.q)),
                ("k", plane(dk, t, &h.k)),
                ("v", plane(dk, t, &h.v)),
                ("scores", plane(t, t, &h.scores)),
                ("weights", plane(t, t, &h.weights)),
                ("out", plane(dk, t, &h.out)),
            ])
        })
        .collect();
    Value::object(vec![
        ("tokens", Value::List(w.tokens.iter().map(|s| Value::Text(s.clone())).collect())),
        ("dim", Value::Number(crate::tokens::DIM as f64)),
        ("x", plane(crate::tokens::DIM, t, &w.x)),
        ("similarity", plane(t, t, &w.similarity)),
        ("similarity_weights", plane(t, t, &w.similarity_weights)),
        ("scale", Value::Number(f64::from(w.scale))),
        ("heads", Value::List(heads)),
        ("output", plane(crate::tokens::DIM, t, &w.output)),
        ("ran_on", Value::Text(w.ran_on.to_string())),
    ])
}

/// `{ channels, width, height, data }` of a `(1, C, H, W)` tensor.
pub fn feature_maps(x: &Tensor) -> Value {
    let s = x.shape();
    Value::object(vec![
        ("channels", Value::Number(s[1] as f64)),
        ("width", Value::Number(s[3] as f64)),
        ("height", Value::Number(s[2] as f64)),
        ("data", Value::Floats(x.data().to_vec())),
    ])
}

/// A Non-local row `(1, Hk, Wk)` as one map; an MHSA row `(1, heads, H, W)` as a list, one map per head.
pub fn attention_value(kind: BlockKind, row: &Tensor) -> Value {
    match (kind, row.shape()) {
        (BlockKind::Mhsa, &[_, heads, h, w]) => {
            Value::List(row.data().chunks_exact(h * w).take(heads).map(|head| plane(w, h, head)).collect())
        }
        (_, &[_, h, w]) => plane(w, h, row.data()),
        _ => Value::List(vec![]),
    }
}

/// `{ label, classes, probabilities }`.
pub fn prediction_value(prediction: &Prediction) -> Value {
    Value::object(vec![
        ("label", Value::Text(prediction.label().to_string())),
        ("classes", Value::List(CLASSES.iter().map(|c| Value::Text(c.to_string())).collect())),
        ("probabilities", Value::Floats(prediction.probabilities.clone())),
    ])
}

pub fn backend_word(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Gpu => "webgpu",
        BackendKind::Cpu => "cpu",
    }
}

/// What a report holds besides the cheap maps.
pub struct ReportOptions {
    /// Feature position `(x, y)` of the Non-local / MHSA query on that block's grid, per block;
    /// when absent, [`salient_cell`]'s (where the network finds the object).
    pub queries: Vec<(BlockKind, (usize, usize))>,
    /// The features before and after every block (large: the browser draws them, files skip them).
    pub features: bool,
    /// What the backend is called in the report (`webgpu` in the browser, `gpu` natively).
    pub gpu_word: &'static str,
    /// Queries a side of the grid measured for [`crate::analysis::query_independence`] (its
    /// mean divergence per head, under `query_independence`); `None` leaves it out.
    pub independence: Option<usize>,
}

/// Where a query starts when none is asked for, `(x, y)` on the grid of `input` `(1, C, H, W)`
/// (Non-local's or MHSA's, the grid CBAM works on too): the cell where CBAM's spatial gate is
/// highest when CBAM ran (trained to be high on the object), else the cell of `input` with the
/// largest mean absolute activation; the centre when neither tells cells apart (a flat input).
pub fn salient_cell(run: &ModelRun, input: &Tensor) -> (usize, usize) {
    let (h, w) = (input.shape()[2], input.shape()[3]);
    let gate = run.stage(BlockKind::Cbam).and_then(|s| s.output.maps.get("spatial")).filter(|m| m.data().len() == h * w);
    let scores: Vec<f32> = match gate {
        Some(map) => map.data().to_vec(),
        None => {
            let plane = h * w;
            let channels = input.data().len() / plane;
            (0..plane).map(|i| (0..channels).map(|c| input.data()[c * plane + i].abs()).sum::<f32>()).collect()
        }
    };
    let best = (0..scores.len()).filter(|&i| scores[i].is_finite()).max_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    match best {
        Some(i) if scores.iter().any(|&v| v != scores[i]) => (i % w, i / w),
        _ => (w / 2, h / 2),
    }
}

/// The result object of `run` on a `width x height` image. Computes the attention rows asked for
/// (one per Non-local / MHSA block) and the prediction without any block (the network's body alone
/// on the same features), so `clock` times those too.
pub async fn report(
    model: &Model,
    backend: &AnyBackend,
    run: &ModelRun,
    width: usize,
    height: usize,
    options: &ReportOptions,
    clock: &dyn Fn() -> f64,
) -> Result<Value> {
    let mut timings = Value::Object(vec![]);
    timings.push("stem_ms", Value::Number(run.stem_ms));
    timings.push("body_ms", Value::Number(run.body_ms));
    let mut blocks = Value::Object(vec![]);
    for stage in &run.stages {
        let name = stage.kind.name();
        let (channels, fh, fw) = (stage.input.shape()[1], stage.input.shape()[2], stage.input.shape()[3]);
        // The grid the block works on (its depth's channels and size); queries are cells of it.
        let mut entry = Value::object(vec![(
            "grid",
            Value::object(vec![
                ("channels", Value::Number(channels as f64)),
                ("width", Value::Number(fw as f64)),
                ("height", Value::Number(fh as f64)),
            ]),
        )]);
        for (map, tensor) in &stage.output.maps {
            match tensor.shape() {
                [_, _] => entry.push(map, Value::Floats(tensor.data().to_vec())),
                [_, h, w] => entry.push(map, plane(*w, *h, tensor.data())),
                _ => {}
            }
        }
        if let Some(names) = channel_names(stage.kind)
            && stage.output.maps.contains_key("channel")
        {
            entry.push("channel_names", Value::List(names.iter().map(|n| Value::Text(n.to_string())).collect()));
        }
        let row_start = clock();
        if matches!(stage.kind, BlockKind::NonLocal | BlockKind::Mhsa) {
            let (qx, qy) =
                options.queries.iter().find(|(k, _)| *k == stage.kind).map_or_else(|| salient_cell(run, &stage.input), |(_, q)| *q);
            let row = model.attention_row(backend, run, stage.kind, qy * fw + qx).await?;
            entry.push("query", Value::object(vec![("x", Value::Number(qx as f64)), ("y", Value::Number(qy as f64))]));
            entry.push("attention", attention_value(stage.kind, &row.row));
            if stage.kind == BlockKind::Mhsa {
                entry.push("heads", Value::Number(row.row.shape()[1] as f64));
            }
            if let Some(side) = options.independence {
                match model.query_independence(backend, run, stage.kind, side.min(fw).min(fh)).await {
                    Ok(m) => entry.push(
                        "query_independence",
                        Value::object(vec![
                            ("side", Value::Number(m.side as f64)),
                            ("js_bits", Value::List(m.js_bits.iter().map(|&b| Value::Number(b)).collect())),
                        ]),
                    ),
                    // Not softmax attention: said in the result instead of a number.
                    Err(e) => entry.push("query_independence", Value::object(vec![("unavailable", Value::Text(e.to_string()))])),
                }
            }
        }
        timings.push(&format!("{name}_ms"), Value::Number(stage.ms + (clock() - row_start)));
        if options.features {
            entry.push("features", Value::object(vec![("before", feature_maps(&stage.input)), ("after", feature_maps(&stage.output.y))]));
        }
        blocks.push(name, entry);
    }
    let baseline = model.predict_without_blocks(backend, run).await?;
    // The GPU's word only where every block ran there (a block that fell back is the CPU's).
    let ran_on = if run.stages.is_empty() {
        backend.kind()
    } else if run.stages.iter().all(|s| s.output.ran_on.backend == BackendKind::Gpu) {
        BackendKind::Gpu
    } else {
        BackendKind::Cpu
    };
    let mut result = Value::Object(vec![]);
    result.push("backend", Value::Text(if ran_on == BackendKind::Gpu { options.gpu_word } else { "cpu" }.to_string()));
    if let Some(reason) = run.stages.iter().find_map(|s| s.output.ran_on.fallback.clone()) {
        result.push("fallback", Value::Text(reason));
    }
    result.push("width", Value::Number(width as f64));
    result.push("height", Value::Number(height as f64));
    result.push("prediction", prediction_value(&run.prediction));
    result.push("baseline", prediction_value(&baseline));
    result.push("timings", timings);
    result.push("blocks", blocks);
    if options.features {
        result.push("features", feature_maps(&run.features));
    }
    Ok(result)
}
