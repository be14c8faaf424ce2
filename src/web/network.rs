//! The user's own network in the page: open a checkpoint ([`crate::net::families`]), run it on a
//! photo as timm evaluates it ([`crate::net::preprocess`]) with any blocks off, and ask for one
//! block's features or a Non-local block's attention row. A [`Session`] keeps the run with every
//! block on and the last run with some off, so switching a block re-runs only from its module.

use std::rc::Rc;

use js_sys::{Array, Float32Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::{Playground, js_error, now_ms, to_js};
use crate::error::Error;
use crate::model::report::{self as model_report, Value};
use crate::net::checkpoint::{NonFinite, StateDict, non_finite_logits};
use crate::net::config::{CheckpointConfig, class_names_for, transform_for};
use crate::net::preprocess::{Preprocess, is_sigmoid_head, probabilities, top_k};
use crate::net::report::{self, object};
use crate::net::session::Session;
use crate::net::{Off, families};

/// An open network: its session, its class names and the transform its photos go through.
pub(super) struct Open {
    session: Session,
    names: Vec<String>,
    transform: Preprocess,
    /// The checkpoint's first NaN or infinite value, found at load.
    non_finite: Option<NonFinite>,
}

/// The page's words for an error of the library: the CLI's options named as the element's
/// attributes (`off`, `arch`, `labels`).
fn page_text(e: &Error) -> String {
    let mut text = match e {
        Error::Checkpoint { reason } => reason.clone(),
        other => other.to_string(),
    };
    for option in ["off", "arch", "labels", "input-size"] {
        if let Some(rest) = text.strip_prefix(&format!("option --{option}: ")) {
            text = format!("{option}: {rest}");
        }
    }
    for prefix in ["option --model: ", "option --config: "] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest.to_string();
        }
    }
    text.replace("(with --arch torchvision.NAME)", "(with their architecture named)")
        .replace("(with --arch)", "(with their architecture named)")
        .replace("--arch ", "arch=")
}

fn page_error(e: Error) -> JsValue {
    js_error(page_text(&e))
}

/// The open network, taken out of `state` while a call uses it (the worker runs one call at a
/// time; the session is borrowed across awaits).
fn take_network(state: &super::State) -> Result<Open, JsValue> {
    state.network.borrow_mut().take().ok_or_else(|| js_error("open a network first"))
}

/// Puts `open` back, unless a network opened meanwhile took its place.
fn restore_network(state: &super::State, open: Open) {
    if state.network.borrow().is_none() {
        state.network.replace(Some(open));
    }
}

#[wasm_bindgen]
impl Playground {
    /// Opens the checkpoint `bytes` (safetensors in float32, float16 or bfloat16, or a PyTorch
    /// `.pth` written by `torch.save`, read without running any of its code) named `name` in
    /// messages, as `arch` (timm's model name or `torchvision.NAME`; empty: the config's, else read
    /// off the weights where they tell), with `labels` (one class name per line; empty: the config's
    /// `label_names`, ImageNet's for 1000 classes, else `class N`) and `config`, the text of timm's
    /// `config.json` for it (empty: none; its `pretrained_cfg` sets the transform photos go
    /// through, as timm's `resolve_data_config` does).
    /// Returns `{ family, arch, classes, summary, blocks: [{ path, kind, stage, channels }], input }`;
    /// the network replaces any open one. On failure the open one stays.
    #[wasm_bindgen(js_name = openNetwork)]
    pub fn open_network(&self, bytes: Vec<u8>, name: String, arch: String, labels: String, config: String) -> Result<JsValue, JsValue> {
        let config = Some(config.trim())
            .filter(|c| !c.is_empty())
            .map(|c| CheckpointConfig::parse(c, &format!("config.json of {name}")))
            .transpose()
            .map_err(page_error)?;
        let dict = StateDict::read(&bytes, &name).map_err(page_error)?;
        drop(bytes);
        let non_finite = dict.non_finite().cloned();
        let arch = Some(arch.trim()).filter(|a| !a.is_empty());
        let net = families::build_with_config(&dict, arch, config.as_ref()).map_err(|e| js_error(format!("{name}: {}", page_text(&e))))?;
        drop(dict);
        let labels = Some(labels.as_str()).filter(|l| !l.trim().is_empty());
        let names = class_names_for(&net, config.as_ref(), labels).map_err(page_error)?;
        let transform = transform_for(&net, config.as_ref());
        let mut description = report::network(&net);
        if let Value::Object(fields) = &mut description {
            fields.push(("input".into(), report::input(&transform)));
        }
        let description = to_js(&description);
        self.state.network.replace(Some(Open { session: Session::new(net), names, transform, non_finite }));
        Ok(description)
    }

    /// Checks `config`, the text of a checkpoint's `config.json` (timm's Hub format), as
    /// [`Playground::open_network`] will apply it: the page asks before it downloads the weights.
    /// Errors: the config's problem in one line, naming the field.
    #[wasm_bindgen(js_name = checkConfig)]
    pub fn check_config(config: String, name: String) -> Result<(), JsValue> {
        CheckpointConfig::parse(&config, &format!("config.json of {name}")).map(drop).map_err(page_error)
    }

    /// Whether the engine runs timm's (or torchvision's `torchvision.NAME`) architecture `arch`:
    /// the page asks before it downloads a checkpoint whose config.json names one.
    #[wasm_bindgen(js_name = runsArchitecture)]
    pub fn runs_architecture(arch: String) -> bool {
        families::runs(arch.trim())
    }

    /// The architectures the engine runs, in words (for the message that refuses another).
    #[wasm_bindgen(js_name = supportedArchitectures)]
    pub fn supported_architectures() -> String {
        families::SUPPORTED.to_string()
    }

    /// Closes the open network (the page goes back to the bundled one).
    #[wasm_bindgen(js_name = closeNetwork)]
    pub fn close_network(&self) {
        self.state.network.replace(None);
    }

    /// Runs the open network on `width x height` upright RGBA pixels (the photo at up to
    /// `photo::PRESCALE_SIDE`; resized and centre-cropped here as timm evaluates) with the blocks
    /// `off` names (space- or comma-separated paths, path prefixes or kinds) switched off.
    /// Resolves to the network's result object (README, "The result object on a network").
    #[wasm_bindgen(js_name = runNetwork)]
    pub fn run_network(&self, rgba: Vec<u8>, width: usize, height: usize, off: String) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let mut open = take_network(&state)?;
            let result = run(&state.backend, &mut open, &rgba, width, height, &off).await;
            restore_network(&state, open);
            result
        })
    }

    /// The features `(C, H, W)` before and after the block at `path` in the last run, for the
    /// channels listed: `{ width, height, channels, before: [Float32Array], after: [Float32Array] }`.
    #[wasm_bindgen(js_name = networkFeatures)]
    pub fn network_features(&self, path: String, channels: Vec<u32>) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let open = take_network(&state)?;
            let result = open.session.features(&state.backend, state.backend.cpu_kernels(), &path).await;
            restore_network(&state, open);
            let (input, output) = result.map_err(page_error)?;
            let (c, h, w) = (input.shape()[1], input.shape()[2], input.shape()[3]);
            let planes = |t: &crate::tensor::Tensor| -> Result<Array, JsValue> {
                channels
                    .iter()
                    .map(|&ch| {
                        let ch = ch as usize;
                        if ch >= c {
                            return Err(js_error(format!("channel {ch} is outside the {c} channels of `{path}`")));
                        }
                        Ok(JsValue::from(Float32Array::from(&t.data()[ch * h * w..(ch + 1) * h * w])))
                    })
                    .collect()
            };
            let value = object(vec![
                ("width", Value::Number(w as f64)),
                ("height", Value::Number(h as f64)),
                ("channels", Value::Number(c as f64)),
            ]);
            let out = to_js(&value);
            js_sys::Reflect::set(&out, &"before".into(), &planes(&input)?.into())?;
            js_sys::Reflect::set(&out, &"after".into(), &planes(&output)?.into())?;
            Ok(out)
        })
    }

    /// [`Playground::query_independence`] for the Non-local block at `path` of the open network.
    #[wasm_bindgen(js_name = networkQueryIndependence)]
    pub fn network_query_independence(&self, path: String, side: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let open = take_network(&state)?;
            let result = open.session.query_independence(&state.backend, state.backend.cpu_kernels(), &path, side).await;
            restore_network(&state, open);
            Ok(to_js(&model_report::independence_value(&result.map_err(page_error)?)))
        })
    }

    /// The steps of the block at `path` in the last run (Non-local at feature cell `(fx, fy)`):
    /// [`model_report::steps_value`], with `act` and `gate_act` (activation names) for a channel
    /// gate, whose steps are SE's.
    #[wasm_bindgen(js_name = networkTrace)]
    pub fn network_trace(&self, path: String, fx: usize, fy: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let open = take_network(&state)?;
            let result = open.session.trace(&state.backend, state.backend.cpu_kernels(), &path, (fx, fy)).await;
            restore_network(&state, open);
            let traced = result.map_err(page_error)?;
            let query = traced
                .block
                .as_ref()
                .is_some_and(|b| matches!(b.kind(), crate::blocks::BlockKind::NonLocal | crate::blocks::BlockKind::Mhsa))
                .then_some((fx, fy));
            let mut value = model_report::steps_value(traced.kind, traced.block.as_ref(), &traced.out, query, None);
            if let (Some((act, gate)), Value::Object(fields)) = (traced.activations, &mut value) {
                fields.push(("act".into(), Value::Text(act.name().into())));
                fields.push(("gate_act".into(), Value::Text(gate.name().into())));
            }
            Ok(to_js(&value))
        })
    }

    /// The attention row of feature position (`fx`, `fy`) of the Non-local or BoTNet block at
    /// `path`, in the last run: `{ width, height, data }` over the positions it attends to; a
    /// BoTNet block's also `heads`, its heads' rows one after another in `data`.
    #[wasm_bindgen(js_name = networkAttentionAt)]
    pub fn network_attention_at(&self, path: String, fx: usize, fy: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let open = take_network(&state)?;
            let result = open.session.attention_row(&state.backend, state.backend.cpu_kernels(), &path, (fx, fy)).await;
            restore_network(&state, open);
            let row = result.map_err(page_error)?.row;
            Ok(to_js(&match *row.shape() {
                [_, heads, h, w] => Value::object(vec![
                    ("width", Value::Number(w as f64)),
                    ("height", Value::Number(h as f64)),
                    ("heads", Value::Number(heads as f64)),
                    ("data", Value::Floats(report::first_image(&row).to_vec())),
                ]),
                [_, h, w] => model_report::plane(w, h, report::first_image(&row)),
                _ => return Err(js_error("an attention row of an unexpected shape")),
            }))
        })
    }
}

/// One run of the page: every block on (kept), then with `off`'s blocks off.
async fn run(
    backend: &crate::backend::AnyBackend,
    open: &mut Open,
    rgba: &[u8],
    width: usize,
    height: usize,
    off: &str,
) -> Result<JsValue, JsValue> {
    let start = now_ms();
    let off = Off::parse(off);
    off.check(&open.session.net).map_err(page_error)?;
    let x = open.transform.apply(rgba, width, height).map_err(page_error)?;
    let kernels = backend.cpu_kernels();
    let full = open.session.run(backend, kernels, &x, &Off::default(), &now_ms).await.map_err(page_error)?;
    let with_off =
        if off.0.is_empty() { None } else { Some(open.session.run(backend, kernels, &x, &off, &now_ms).await.map_err(page_error)?) };
    let shown = with_off.as_ref().unwrap_or(&full);
    let names = &open.names;
    // The change in the probability of the class predicted with every block on.
    let (top, p_full) = top_k(full.run.logits.data(), 1)[0];
    let p_off = probability_at(shown.run.logits.data(), top);
    let stages = |run: &crate::net::session::SessionRun| {
        Value::List(
            run.stages
                .iter()
                .map(|s| {
                    object(vec![("stage", Value::Text(s.stage.clone())), ("ms", Value::Number(s.ms)), ("reused", Value::Bool(s.reused))])
                })
                .collect(),
        )
    };
    let order = shown.run.blocks.iter().map(|b| Value::Text(b.path.clone())).collect();
    let blocks = Value::Object(shown.run.blocks.iter().map(|b| (b.path.clone(), report::block(b))).collect());
    let mut network = report::network(&open.session.net);
    if let Value::Object(fields) = &mut network {
        fields.push(("order".into(), Value::List(order)));
    }
    let switched = shown.run.blocks.iter().filter(|b| b.off).map(|b| Value::Text(b.path.clone())).collect();
    let mut fields = vec![
        ("network", network),
        ("input", report::input(&open.transform)),
        // How the page reads the probabilities: `sigmoid` for a one-logit head (P of the positive
        // class), else `softmax`.
        ("head", Value::Text(if is_sigmoid_head(names.len()) { "sigmoid" } else { "softmax" }.into())),
        ("prediction", report::top5(&shown.run.logits, names)),
        ("full", report::top5(&full.run.logits, names)),
        (
            "change",
            object(vec![
                ("index", Value::Number(top as f64)),
                ("name", Value::Text(names[top].clone())),
                ("full", report::number(p_full)),
                ("off", report::number(p_off)),
            ]),
        ),
        ("off", Value::List(off.0.iter().map(|w| Value::Text(w.clone())).collect())),
        ("switched_off", Value::List(switched)),
        ("blocks", blocks),
        ("logits", Value::Floats(shown.run.logits.data().to_vec())),
        ("full_logits", Value::Floats(full.run.logits.data().to_vec())),
        ("timings", object(vec![("full", stages(&full)), ("stages", stages(shown)), ("total_ms", Value::Number(now_ms() - start))])),
        ("backend", Value::Text(model_report::backend_word(backend.kind()).into())),
        ("kernels", Value::Text(backend.cpu_kernels().name().into())),
    ];
    fields.push(("ran_on", Value::Text(shown.run.ran_on().to_string())));
    // NaN logits (a diverged checkpoint) come with what to say instead of a prediction.
    let said = non_finite_logits(full.run.logits.data(), open.non_finite.as_ref())
        .or_else(|| non_finite_logits(shown.run.logits.data(), open.non_finite.as_ref()));
    if let Some(said) = said {
        fields.push(("non_finite", Value::Text(said)));
    }
    Ok(to_js(&object(fields)))
}

/// The probability of class `i` (a softmax, or the sigmoid of a one-logit head).
fn probability_at(logits: &[f32], i: usize) -> f32 {
    probabilities(logits)[i]
}

/// A whole network and one input `x` on this build's CPU kernels: what `tools/bench/nets_web.mjs`
/// times against onnxruntime-web. `model` and `input` are safetensors files as the CLI reads them.
#[wasm_bindgen]
pub struct NetBench {
    net: Rc<crate::net::Net>,
    x: Rc<crate::tensor::Tensor>,
    backend: Rc<crate::backend::AnyBackend>,
}

#[wasm_bindgen]
impl NetBench {
    #[wasm_bindgen(constructor)]
    pub fn new(model: Vec<u8>, arch: String, input: Vec<u8>) -> Result<NetBench, JsValue> {
        let dict = StateDict::read(&model, "model").map_err(page_error)?;
        drop(model);
        let net = families::build(&dict, Some(&arch)).map_err(page_error)?;
        let x = crate::weights::read_input(&input).map_err(page_error)?;
        let backend = crate::backend::AnyBackend::Cpu(crate::backend::CpuBackend::new());
        Ok(NetBench { net: Rc::new(net), x: Rc::new(x), backend: Rc::new(backend) })
    }

    /// One forward pass; resolves when done (the logits are dropped).
    pub fn run(&self) -> Promise {
        let (net, x, backend) = (self.net.clone(), self.x.clone(), self.backend.clone());
        future_to_promise(async move {
            net.run(&backend, &x, &Off::default()).await.map_err(page_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The logits of one forward pass.
    pub fn logits(&self) -> Promise {
        let (net, x, backend) = (self.net.clone(), self.x.clone(), self.backend.clone());
        future_to_promise(async move {
            let run = net.run(&backend, &x, &Off::default()).await.map_err(page_error)?;
            Ok(Float32Array::from(run.logits.data()).into())
        })
    }

    /// `x`, for the other engine's input.
    pub fn input(&self) -> Float32Array {
        Float32Array::from(self.x.data())
    }

    /// The shape of `x` (N, 3, H, W).
    #[wasm_bindgen(getter)]
    pub fn shape(&self) -> Vec<u32> {
        self.x.shape().iter().map(|&d| d as u32).collect()
    }

    /// The CPU kernels that run: `simd128`, or `portable` in the scalar build.
    #[wasm_bindgen(getter)]
    pub fn kernels(&self) -> String {
        self.backend.cpu_kernels().name().into()
    }

    /// This module's WebAssembly memory in bytes (it only grows: the peak so far).
    #[wasm_bindgen(getter)]
    pub fn memory(&self) -> f64 {
        (core::arch::wasm32::memory_size(0) * 65536) as f64
    }
}
