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

use crate::backend::{AnyBackend, BackendChoice, BackendKind};
use crate::blocks::{BlockKind, BlockOptions};
use crate::error::Error;
use crate::model::{Model, ModelConfig, ModelRun, image};
use crate::tensor::Tensor;

#[wasm_bindgen(start)]
fn start() {
    // A panic (a bug, never bad input) shows its message in the console instead of "unreachable".
    console_error_panic_hook::set_once();
}

/// The size the page scales a `width x height` photo to before [`Playground::run`].
#[wasm_bindgen(js_name = workingSize)]
pub fn working_size(width: usize, height: usize) -> Vec<u32> {
    let (w, h) = image::working_size(width, height);
    vec![w as u32, h as u32]
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

fn js_error(e: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
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
    last_run: RefCell<Option<Rc<ModelRun>>>,
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
        Ok(Playground { state: Rc::new(State { backend, model: RefCell::new(None), last_run: RefCell::new(None) }) })
    }

    /// `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        backend_word(self.state.backend.kind()).into()
    }

    /// The WebGPU adapter's name, or why the CPU runs instead of the GPU.
    #[wasm_bindgen(getter)]
    pub fn detail(&self) -> String {
        match &self.state.backend {
            AnyBackend::Gpu(gpu) => gpu.adapter().name.clone(),
            AnyBackend::Cpu(cpu) => cpu.instead_of_gpu().unwrap_or("CPU chosen").to_string(),
        }
    }

    /// Builds the model for `{ blocks: { se: {}, nonlocal: { pairwise: "dot-product", subsample: true }, ... } }`.
    /// Until trained weights ship, every block gets its seeded weights (see [`Model::seeded`]).
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
        let model = Model::seeded(&model_config).map_err(js_error)?;
        self.state.model.replace(Some(Rc::new(model)));
        self.state.last_run.replace(None);
        Ok(())
    }

    /// Runs the model on `width x height` RGBA pixels (already scaled to [`working_size`]) and
    /// resolves to the result object (its shape is in the README): timings, per-block maps, the attention
    /// row of the centre position for Non-local and MHSA, and the features before and after each block.
    pub fn run(&self, rgba: Vec<u8>, width: usize, height: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let model = state.model.borrow().clone().ok_or_else(|| js_error("configure the blocks before running"))?;
            let input = image::rgba_to_input(&rgba, width, height).map_err(js_error)?;
            let start = now_ms();
            let run = Rc::new(model.run(&state.backend, &input, &now_ms).await.map_err(js_error)?);
            let result = Object::new();
            let timings = Object::new();
            set(&timings, "stem_ms", run.stem_ms);
            let blocks = Object::new();
            let (fh, fw) = (run.features.shape()[2], run.features.shape()[3]);
            let centre = (fh / 2) * fw + fw / 2;
            for stage in &run.stages {
                let name = stage.kind.name();
                let entry = Object::new();
                for (map, tensor) in &stage.output.maps {
                    let value = match tensor.shape() {
                        [_, _] => floats(tensor.data()).into(),
                        [_, h, w] => plane(*w, *h, tensor.data()),
                        _ => continue,
                    };
                    set(&entry, map, value);
                }
                let row_start = now_ms();
                if matches!(stage.kind, BlockKind::NonLocal | BlockKind::Mhsa) {
                    let row = model.attention_row(&state.backend, &run, stage.kind, centre).await.map_err(js_error)?;
                    set(&entry, "query", query_object(centre % fw, centre / fw));
                    set(&entry, "attention", rows_value(stage.kind, &row.row));
                    if stage.kind == BlockKind::Mhsa {
                        set(&entry, "heads", row.row.shape()[1] as f64);
                    }
                }
                set(&timings, &format!("{name}_ms"), stage.ms + (now_ms() - row_start));
                let features = Object::new();
                set(&features, "before", feature_maps(&stage.input));
                set(&features, "after", feature_maps(&stage.output.y));
                set(&entry, "features", features);
                set(&blocks, name, entry);
            }
            set(&timings, "total_ms", now_ms() - start);
            set(&result, "backend", backend_word(run.stages.first().map_or(state.backend.kind(), |s| s.output.ran_on.backend)));
            if let Some(reason) = run.stages.iter().find_map(|s| s.output.ran_on.fallback.clone()) {
                set(&result, "fallback", reason);
            }
            set(&result, "width", width as f64);
            set(&result, "height", height as f64);
            set(&result, "timings", timings);
            set(&result, "blocks", blocks);
            set(&result, "features", feature_maps(&run.features));
            set(&result, "output", feature_maps(run.output()));
            state.last_run.replace(Some(run));
            Ok(result.into())
        })
    }

    /// The attention row of feature position (`fx`, `fy`) in `block` (`nonlocal` or `mhsa`) on
    /// the last run's input: `{ width, height, data }` (Non-local) or `{ width, height, heads,
    /// data }` with the heads one after another (MHSA).
    #[wasm_bindgen(js_name = attentionAt)]
    pub fn attention_at(&self, block: String, fx: usize, fy: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let kind: BlockKind = block.parse().map_err(js_error)?;
            let model = state.model.borrow().clone().ok_or_else(|| js_error("configure the blocks before running"))?;
            let run = state.last_run.borrow().clone().ok_or_else(|| js_error("run an image first"))?;
            let (fh, fw) = (run.features.shape()[2], run.features.shape()[3]);
            if fx >= fw || fy >= fh {
                return Err(js_error(format!("position ({fx}, {fy}) is outside the {fw} x {fh} feature map")));
            }
            let row = model.attention_row(&state.backend, &run, kind, fy * fw + fx).await.map_err(js_error)?;
            Ok(rows_value(kind, &row.row))
        })
    }
}

fn backend_word(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Gpu => "webgpu",
        BackendKind::Cpu => "cpu",
    }
}

fn set(target: &Object, key: &str, value: impl Into<JsValue>) {
    Reflect::set(target, &key.into(), &value.into()).expect("setting a field of a plain object");
}

fn floats(data: &[f32]) -> Float32Array {
    Float32Array::from(data)
}

/// `{ width, height, data }`, the shape of every map the page draws.
fn plane(width: usize, height: usize, data: &[f32]) -> JsValue {
    let map = Object::new();
    set(&map, "width", width as f64);
    set(&map, "height", height as f64);
    set(&map, "data", floats(data));
    map.into()
}

fn query_object(x: usize, y: usize) -> JsValue {
    let q = Object::new();
    set(&q, "x", x as f64);
    set(&q, "y", y as f64);
    q.into()
}

/// A Non-local row `(1, Hk, Wk)` as one map; an MHSA row `(1, heads, H, W)` as one map per head.
fn rows_value(kind: BlockKind, row: &Tensor) -> JsValue {
    match (kind, row.shape()) {
        (BlockKind::Mhsa, &[_, heads, h, w]) => {
            let maps = Array::new();
            for head in row.data().chunks_exact(h * w).take(heads) {
                maps.push(&plane(w, h, head));
            }
            maps.into()
        }
        (_, &[_, h, w]) => plane(w, h, row.data()),
        _ => JsValue::NULL,
    }
}

/// `{ channels, width, height, data }` of a `(1, C, H, W)` tensor.
fn feature_maps(x: &Tensor) -> JsValue {
    let maps = Object::new();
    set(&maps, "channels", x.shape()[1] as f64);
    set(&maps, "width", x.shape()[3] as f64);
    set(&maps, "height", x.shape()[2] as f64);
    set(&maps, "data", floats(x.data()));
    maps.into()
}
