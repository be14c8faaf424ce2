//! The JavaScript surface, for `www/worker.js`: a thin `#[wasm_bindgen]` layer over
//! [`crate::model`]. It turns pixels into the model's input, runs it on the chosen backend and
//! hands back plain JS objects whose arrays are `Float32Array`s (the worker transfers them to the
//! page without copying). Every error reaches JS as an `Error` with the library's one-line message.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::{Array, Float32Array, Object, Promise, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

mod network;

use crate::backend::{AnyBackend, Backend, BackendChoice, CpuBackend};
use crate::blocks::ports::{self, Ported, read_block_weights};
use crate::blocks::{Block, BlockKind, BlockOptions, MapRequest};
use crate::error::Error;
use crate::model::report::{self, ReportOptions, Value};
use crate::model::{self, Model, ModelConfig, ModelRun, image, trained_options};
use crate::tensor::Tensor;
use crate::weights::{Weights, read_input};

#[wasm_bindgen(start)]
fn start() {
    // A panic (a bug, never bad input) shows its message in the console instead of "unreachable".
    console_error_panic_hook::set_once();
}

/// [`crate::photo::read_header`] for the page: the first bytes of a photo (at least
/// `photo::HEADER_BYTES` of them, or the whole file), its whole length and its name; resolves to
/// `{ format, width, height, orientation }` (the size as shown, after the EXIF orientation) or
/// fails with the one-line message (empty, over the limits, not a photo).
#[wasm_bindgen(js_name = photoHeader)]
pub fn photo_header(bytes: &[u8], file_len: f64, name: &str) -> Result<JsValue, JsValue> {
    let header = crate::photo::read_header(bytes, file_len as usize, name).map_err(js_error)?;
    let object = Object::new();
    for (key, value) in [
        ("format", JsValue::from_str(header.format)),
        ("width", JsValue::from_f64(header.width as f64)),
        ("height", JsValue::from_f64(header.height as f64)),
        ("orientation", JsValue::from_f64(header.orientation as f64)),
    ] {
        Reflect::set(&object, &key.into(), &value).expect("setting a field of a plain object");
    }
    Ok(object.into())
}

/// The size the page's browser scales a decoded `width x height` photo to before
/// [`to_working_size`] (longer side at most `photo::PRESCALE_SIDE`).
#[wasm_bindgen(js_name = prescaleSize)]
pub fn prescale_size(width: usize, height: usize) -> Vec<u32> {
    let (w, h) = crate::photo::prescale_size(width, height);
    vec![w as u32, h as u32]
}

/// [`crate::photo::to_working_size`]: upright, opaque RGBA (composited on white) to the working
/// size, as `render` scales it; resolves to `{ rgba: Uint8Array, width, height }`.
#[wasm_bindgen(js_name = toWorkingSize)]
pub fn to_working_size(rgba: &[u8], width: usize, height: usize) -> Result<JsValue, JsValue> {
    let (out, w, h) = crate::photo::to_working_size(rgba, width, height).map_err(js_error)?;
    let object = Object::new();
    Reflect::set(&object, &"rgba".into(), &js_sys::Uint8Array::from(&out[..]).into()).expect("plain object");
    Reflect::set(&object, &"width".into(), &JsValue::from_f64(w as f64)).expect("plain object");
    Reflect::set(&object, &"height".into(), &JsValue::from_f64(h as f64)).expect("plain object");
    Ok(object.into())
}

/// Per-block options as the page sends them: the CLI's words (`"embedded-gaussian"`, `"circular"`).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct OptionWords {
    spatial_order: Option<String>,
    pairwise: Option<String>,
    scale: Option<String>,
    subsample: bool,
    padding: Option<String>,
    fusion: Option<String>,
    heads: Option<usize>,
}

impl OptionWords {
    /// The options set in `options`, in these words, as a result object: the inverse of
    /// [`OptionWords::parse`] (`heads` and `fusion` aside, which no port implies).
    fn value_of(options: &BlockOptions) -> Value {
        let words = [
            ("spatial_order", options.spatial_order.map(|o| o.to_string())),
            ("pairwise", options.pairwise.map(|o| o.to_string())),
            ("scale", options.scale.map(|o| o.to_string())),
            ("padding", options.padding.map(|o| o.to_string())),
        ];
        let mut set: Vec<(&str, Value)> = words.into_iter().filter_map(|(k, v)| v.map(|v| (k, Value::Text(v)))).collect();
        if options.subsample {
            set.push(("subsample", Value::Bool(true)));
        }
        Value::object(set)
    }

    fn parse(self) -> Result<BlockOptions, Error> {
        Ok(BlockOptions {
            spatial_order: self.spatial_order.map(|s| s.parse()).transpose()?,
            pairwise: self.pairwise.map(|s| s.parse()).transpose()?,
            scale: self.scale.map(|s| s.parse()).transpose()?,
            subsample: self.subsample,
            padding: self.padding.map(|s| s.parse()).transpose()?,
            fusion: self.fusion.map(|s| s.parse()).transpose()?,
            heads: self.heads,
        })
    }
}

/// Whether the page takes a prefix a block was found under without being told: a wrapper the
/// whole dict sits under (`module.`, `model.`), or a module path that ends in the block's own name
/// (`layer1.0.se.`, `module.layer1.0.cbam.`). Not a part of another block: CBAM's `channel.` MLP
/// has the keys of an SE block.
fn takes_prefix(kind: BlockKind, prefix: &str) -> bool {
    let segments: Vec<&str> = prefix.trim_end_matches('.').split('.').collect();
    let names: &[&str] = match kind {
        BlockKind::Se => &["se", "ese", "squeeze_excite"],
        BlockKind::Cbam => &["cbam"],
        BlockKind::NonLocal => &["nl", "nonlocal", "non_local", "nonlocal_block"],
        BlockKind::Eca => &["eca", "ceca"],
        BlockKind::Gc => &["gc", "gca", "context_block"],
        BlockKind::Mhsa => &["mhsa", "attn", "self_attn"],
    };
    segments.iter().all(|s| ["module", "model", "state_dict"].contains(s)) || segments.last().is_some_and(|last| names.contains(last))
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

/// The model, the last run and the row-major position of feature cell `(fx, fy)` on the grid
/// block `kind` worked on in that run; each missing piece refused in one line.
fn last_cell(state: &State, kind: BlockKind, fx: usize, fy: usize) -> Result<(Rc<Model>, Rc<ModelRun>, usize), JsValue> {
    let model = state.model.borrow().clone().ok_or_else(|| js_error("configure the blocks before running"))?;
    let run = state.last_run.borrow().clone().ok_or_else(|| js_error("run an image first"))?;
    let stage = run.stage(kind).ok_or_else(|| js_error(format!("block {} is not switched on", kind.name())))?;
    let (fh, fw) = (stage.input.shape()[2], stage.input.shape()[3]);
    if fx >= fw || fy >= fh {
        return Err(js_error(format!("position ({fx}, {fy}) is outside the {fw} x {fh} feature map")));
    }
    Ok((model, run, fy * fw + fx))
}

/// `performance.now()` of the window or worker we run in.
fn now_ms() -> f64 {
    let performance = Reflect::get(&js_sys::global(), &"performance".into()).ok();
    let now = performance.as_ref().and_then(|p| Reflect::get(p, &"now".into()).ok()).and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    match (performance, now) {
        (Some(p), Some(now)) => now.call0(&p).ok().and_then(|v| v.as_f64()).unwrap_or(0.0),
        _ => js_sys::Date::now(),
    }
}

struct State {
    backend: AnyBackend,
    model: RefCell<Option<Rc<Model>>>,
    /// The same network with every block on, where the configuration leaves some off: what the
    /// prediction is compared with ("without SE: square 61 % → disc 34 %").
    all_on: RefCell<Option<Rc<Model>>>,
    last_run: RefCell<Option<Rc<ModelRun>>>,
    /// Blocks whose weights the user loaded (under timm's names, with the options their
    /// convention implies), used instead of the trained ones.
    own_weights: RefCell<BTreeMap<BlockKind, Ported>>,
    /// The user's own network, when one is open ([`network`]); taken out while it runs.
    network: RefCell<Option<network::Open>>,
}

/// One backend, one model, and the last run (kept for [`Playground::attention_at`]).
#[wasm_bindgen]
pub struct Playground {
    state: Rc<State>,
}

#[wasm_bindgen]
impl Playground {
    /// `backend`: `auto` (WebGPU when the browser offers an adapter, else the CPU), `webgpu`
    /// (fails with the reason when there is none) or `cpu`.
    pub async fn create(backend: String) -> Result<Playground, JsValue> {
        let choice = match backend.as_str() {
            "auto" => BackendChoice::Auto,
            "webgpu" | "gpu" => BackendChoice::Gpu,
            "cpu" => BackendChoice::Cpu,
            other => return Err(js_error(format!("backend `{other}`: use auto, webgpu or cpu"))),
        };
        let backend = AnyBackend::select(choice).await.map_err(js_error)?;
        Ok(Playground {
            state: Rc::new(State {
                backend,
                model: RefCell::new(None),
                all_on: RefCell::new(None),
                last_run: RefCell::new(None),
                own_weights: RefCell::new(BTreeMap::new()),
                network: RefCell::new(None),
            }),
        })
    }

    /// `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        report::backend_word(self.state.backend.kind()).into()
    }

    /// The WebGPU adapter's name, or why the CPU runs instead of the GPU.
    #[wasm_bindgen(getter)]
    pub fn detail(&self) -> String {
        match &self.state.backend {
            AnyBackend::Gpu(gpu) => gpu.adapter().name.clone(),
            AnyBackend::Cpu(cpu) => cpu.instead_of_gpu().unwrap_or("CPU chosen").to_string(),
        }
    }

    /// The CPU kernels this build runs (`simd128`, or `portable` in the scalar build); the GPU
    /// backend falls back to them.
    #[wasm_bindgen(getter)]
    pub fn kernels(&self) -> String {
        self.state.backend.cpu_kernels().name().into()
    }

    /// Builds the model for `{ blocks: { se: {}, nonlocal: { subsample: true }, ... } }`: the trained
    /// network with those blocks on (the others are the identity), and a user's own weights for
    /// any block given to [`Playground::load_weights`].
    pub fn configure(&self, config: JsValue) -> Result<(), JsValue> {
        let blocks: BTreeMap<String, OptionWords> = Reflect::get(&config, &"blocks".into())
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
            .map(serde_wasm_bindgen::from_value)
            .transpose()
            .map_err(|e| js_error(format!("configuration: {e}")))?
            .unwrap_or_default();
        let mut model_config = ModelConfig::default();
        for (name, words) in blocks {
            let kind: BlockKind = name.parse().map_err(js_error)?;
            model_config.blocks.push((kind, words.parse().map_err(js_error)?));
        }
        let build = |config: &ModelConfig| -> Result<Model, JsValue> {
            let mut model = Model::trained(config).map_err(js_error)?;
            for (kind, ported) in self.state.own_weights.borrow().iter() {
                if let Some((_, options)) = config.blocks.iter().find(|(k, _)| k == kind) {
                    model.replace_block(*kind, &ported.weights, &ported.options(options)).map_err(|e| js_error(ported.explain(e)))?;
                }
            }
            Ok(model)
        };
        let model = build(&model_config)?;
        let all_on = Model::all_on(&model_config);
        let compared = if all_on.blocks.len() > model_config.blocks.len() { Some(Rc::new(build(&all_on)?)) } else { None };
        self.state.model.replace(Some(Rc::new(model)));
        self.state.all_on.replace(compared);
        self.state.last_run.replace(None);
        Ok(())
    }

    /// Uses the safetensors `bytes` (float32, float16 or bfloat16; timm names, or the names of a
    /// port [`crate::blocks::ports`] knows; optionally under a prefix such as `layer3.0.se.`) as
    /// `block`'s weights from the next [`Playground::configure`] on; checked now, against the
    /// channels the block sees in this network. Resolves to the line saying which port's names
    /// were assumed (`""` for timm's) and the options their code implies (`{ spatial_order:
    /// "max-mean" }` for the official CBAM, `{ scale: "none" }` for AlexHex7's Non-local), as
    /// `{ note, options }`, in the CLI's words: the page shows them in its controls. Empty `bytes`
    /// go back to the trained weights. `name` is the file's name for messages (`""`: "weights").
    ///
    /// With no `prefix`, a file that holds the block only under prefixes (DataParallel's
    /// `module.`, a whole network's `module.layer1.0.cbam.`: [`takes_prefix`]) gives the first of
    /// them whose weights fit the block here, and the line says which was taken and how many
    /// others there are.
    #[wasm_bindgen(js_name = loadWeights)]
    pub fn load_weights(&self, block: String, bytes: Vec<u8>, prefix: String, name: String) -> Result<JsValue, JsValue> {
        let kind: BlockKind = block.parse().map_err(js_error)?;
        let answer = |note: String, implied: &BlockOptions| {
            to_js(&Value::object(vec![("note", Value::Text(note)), ("options", OptionWords::value_of(implied))]))
        };
        if bytes.is_empty() {
            self.state.own_weights.borrow_mut().remove(&kind);
            return Ok(answer(String::new(), &BlockOptions::default()));
        }
        let file = if name.is_empty() { "weights" } else { name.as_str() };
        let given = trained_options(kind);
        let load = |prefix: &str| -> crate::Result<Ported> {
            let ported = read_block_weights(&bytes, file, prefix, kind, &given)?;
            model::load_block(kind, &ported.weights, &ported.options(&given)).map_err(|e| ported.explain(e))?;
            Ok(ported)
        };
        let (ported, taken) = match load(&prefix) {
            Err(first @ crate::Error::KeysUnderPrefix { .. }) if prefix.is_empty() => {
                let found: Vec<String> = Weights::read(&bytes, file, "")
                    .map(|w| ports::block_prefixes(kind, &w).into_iter().filter(|p| takes_prefix(kind, p)).collect())
                    .unwrap_or_default();
                // The first that fits; if none does, why the first does not (its channels, say)
                // tells more than where it is.
                let mut misfit = None;
                let mut fitting = None;
                for p in &found {
                    match load(p) {
                        Ok(ported) => {
                            fitting = Some((ported, p.clone()));
                            break;
                        }
                        Err(e) => {
                            misfit.get_or_insert(e);
                        }
                    }
                }
                let (ported, taken) = fitting.ok_or_else(|| js_error(misfit.unwrap_or(first)))?;
                let others = found.len() - 1;
                let also = if others == 0 {
                    String::new()
                } else {
                    format!(
                        " ({others} other block{} of that kind in the file: loadWeights(block, file, prefix) picks one)",
                        if others == 1 { "" } else { "s" }
                    )
                };
                (ported, format!("read from `{taken}`{also}"))
            }
            other => (other.map_err(js_error)?, String::new()),
        };
        let note = [taken, ported.note.clone().unwrap_or_default()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("; ");
        let reply = answer(note, &ported.defaults);
        self.state.own_weights.borrow_mut().insert(kind, ported);
        Ok(reply)
    }

    /// Runs the model on `width x height` RGBA pixels (already scaled to the working size by [`to_working_size`]) and
    /// resolves to the result object (its shape is in the README): prediction with and without
    /// the blocks, timings, per-block maps, the attention row of the centre position for
    /// Non-local and MHSA, and the features before and after each block.
    pub fn run(&self, rgba: Vec<u8>, width: usize, height: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let model = state.model.borrow().clone().ok_or_else(|| js_error("configure the blocks before running"))?;
            let input = image::rgba_to_input(&rgba, width, height).map_err(js_error)?;
            let start = now_ms();
            let run = Rc::new(model.run(&state.backend, &input, &now_ms).await.map_err(js_error)?);
            let options = ReportOptions { queries: vec![], features: true, gpu_word: "webgpu", independence: None };
            let mut result = report::report(&model, &state.backend, &run, width, height, &options, &now_ms).await.map_err(js_error)?;
            // With some blocks off: the same photo with every block on, to compare with.
            let all_on = state.all_on.borrow().clone();
            let compared_start = now_ms();
            let reference = match all_on {
                Some(all) => Some(all.run_from_features(&state.backend, run.features.clone(), 0.0, &now_ms).await.map_err(js_error)?),
                None => None,
            };
            let compared_ms = now_ms() - compared_start;
            if let Value::Object(fields) = &mut result {
                if let Some(reference) = &reference {
                    fields.push(("reference".into(), report::prediction_value(&reference.prediction)));
                }
                if let Some((_, Value::Object(timings))) = fields.iter_mut().find(|(k, _)| k == "timings") {
                    if reference.is_some() {
                        timings.push(("all_on_ms".into(), Value::Number(compared_ms)));
                    }
                    timings.push(("total_ms".into(), Value::Number(now_ms() - start)));
                }
                if let AnyBackend::Cpu(cpu) = &state.backend {
                    fields.push(("kernels".into(), Value::Text(cpu.kernels().name().into())));
                }
            }
            state.last_run.replace(Some(run));
            Ok(to_js(&result))
        })
    }

    /// The attention row of feature position (`fx`, `fy`), on the grid `block` (`nonlocal` or
    /// `mhsa`) works on, of the last run: `{ width, height, data }` (Non-local) or one such map
    /// per head (MHSA).
    #[wasm_bindgen(js_name = attentionAt)]
    pub fn attention_at(&self, block: String, fx: usize, fy: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let kind: BlockKind = block.parse().map_err(js_error)?;
            let (model, run, position) = last_cell(&state, kind, fx, fy)?;
            let row = model.attention_row(&state.backend, &run, kind, position).await.map_err(js_error)?;
            Ok(to_js(&report::attention_value(kind, &row.row)))
        })
    }
}

#[wasm_bindgen]
impl Playground {
    /// Is `block`'s (`nonlocal` or `mhsa`) attention the same for every query? In the last run,
    /// the rows of a `side x side` grid of queries and, per head, the mean Jensen-Shannon
    /// divergence between them in bits ([`crate::analysis`]): `{ side, queries: [{ x, y }],
    /// heads, js_bits: [..], rows: [[{ width, height, data } per head] per query] }`.
    #[wasm_bindgen(js_name = queryIndependence)]
    pub fn query_independence(&self, block: String, side: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let kind: BlockKind = block.parse().map_err(js_error)?;
            let model = state.model.borrow().clone().ok_or_else(|| js_error("configure the blocks before running"))?;
            let run = state.last_run.borrow().clone().ok_or_else(|| js_error("run an image first"))?;
            let measured = model.query_independence(&state.backend, &run, kind, side).await.map_err(js_error)?;
            Ok(to_js(&report::independence_value(&measured)))
        })
    }
}

#[wasm_bindgen]
impl Playground {
    /// `block`'s steps in the last run ([`crate::blocks::MapRequest::trace`]); Non-local and MHSA
    /// at feature cell `(fx, fy)` of their grid: [`report::trace_value`].
    pub fn trace(&self, block: String, fx: usize, fy: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let kind: BlockKind = block.parse().map_err(js_error)?;
            let (model, run, position) = last_cell(&state, kind, fx, fy)?;
            let out = model.trace(&state.backend, &run, kind, position).await.map_err(js_error)?;
            let block = model.block(kind).expect("a block that ran is loaded");
            let query = matches!(kind, BlockKind::NonLocal | BlockKind::Mhsa).then_some((fx, fy));
            Ok(to_js(&report::trace_value(block, &out, query)))
        })
    }

    /// Self-attention on the characters of `text` with `heads` heads, step by step
    /// ([`crate::tokens`]), on this playground's backend: `{ tokens, dim, x, similarity,
    /// similarity_weights, scale, heads: [{ q, k, v, scores, weights, out }], output, ran_on }`,
    /// every matrix `{ width, height, data }` with a row per token.
    #[wasm_bindgen(js_name = tokenWalk)]
    pub fn token_walk(&self, text: String, heads: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let walked = crate::tokens::walk(&state.backend, &text, heads).await.map_err(js_error)?;
            Ok(to_js(&report::walkthrough_value(&walked)))
        })
    }
}

/// One block, its weights and one input `x`, on this build's CPU kernels: what
/// `tools/bench/browser.mjs` times against onnxruntime-web, as `attention-playground bench`
/// does natively. Both files are safetensors, as the CLI reads them.
#[wasm_bindgen]
pub struct BlockBench {
    block: Block,
    x: Tensor,
    backend: CpuBackend,
}

#[wasm_bindgen]
impl BlockBench {
    /// `options` as in [`Playground::configure`], for example `{ heads: 4 }`.
    #[wasm_bindgen(constructor)]
    pub fn new(block: String, weights: Vec<u8>, input: Vec<u8>, options: JsValue) -> Result<BlockBench, JsValue> {
        let kind: BlockKind = block.parse().map_err(js_error)?;
        let words: OptionWords = if options.is_undefined() || options.is_null() {
            OptionWords::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| js_error(format!("options: {e}")))?
        };
        let weights = Weights::from_safetensors_with_prefix(&weights, "").map_err(js_error)?;
        let block = Block::load(kind, &weights, &words.parse().map_err(js_error)?).map_err(js_error)?;
        let x = read_input(&input).map_err(js_error)?;
        block.check_input(&x).map_err(js_error)?;
        Ok(BlockBench { block, x, backend: CpuBackend::new() })
    }

    /// One forward pass; the output is dropped.
    pub fn run(&self) -> Result<(), JsValue> {
        self.backend.forward(&self.block, &self.x, MapRequest::default()).map(drop).map_err(js_error)
    }

    /// `y` of one forward pass, to check against the other engine.
    pub fn output(&self) -> Result<Float32Array, JsValue> {
        let out = self.backend.forward(&self.block, &self.x, MapRequest::default()).map_err(js_error)?;
        Ok(Float32Array::from(out.y.data()))
    }

    /// `x`, for the other engine's input.
    pub fn input(&self) -> Float32Array {
        Float32Array::from(self.x.data())
    }

    /// The shape of `x` (N, C, H, W).
    #[wasm_bindgen(getter)]
    pub fn shape(&self) -> Vec<u32> {
        self.x.shape().iter().map(|&d| d as u32).collect()
    }

    /// The CPU kernels that run: `simd128`, or `portable` in the scalar build.
    #[wasm_bindgen(getter)]
    pub fn kernels(&self) -> String {
        self.backend.kernels().name().into()
    }
}

/// A report tree as plain JS objects, float arrays as `Float32Array`s.
fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Number(n) => JsValue::from_f64(*n),
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Text(t) => JsValue::from_str(t),
        Value::Floats(f) => Float32Array::from(&f[..]).into(),
        Value::List(items) => items.iter().map(to_js).collect::<Array>().into(),
        Value::Object(fields) => {
            let object = Object::new();
            for (k, v) in fields {
                Reflect::set(&object, &k.into(), &to_js(v)).expect("setting a field of a plain object");
            }
            object.into()
        }
    }
}
