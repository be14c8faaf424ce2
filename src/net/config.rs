//! A timm checkpoint's `config.json`, the file timm writes beside `model.safetensors` when it
//! saves a network for the Hugging Face Hub (`timm.models.push_to_hf_hub` / `save_for_hf`):
//! `architecture` (timm's model name), `num_classes`, `label_names`, and `pretrained_cfg`, from
//! which timm's `resolve_data_config` takes the evaluation transform (`input_size`, `crop_pct`,
//! `crop_mode`, `interpolation`, `mean`, `std`). Applying it evaluates each checkpoint as timm
//! does ([`Preprocess`]); the CLI reads it with `--config` or beside the checkpoint, the page
//! from the Hub with the weights.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::net::Net;
use crate::net::preprocess::{CropMode, Interpolation, Preprocess};

/// What a `config.json` says about a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointConfig {
    /// timm's model name (`mobilenetv3_large_100`), where the file gives one.
    pub architecture: Option<String>,
    /// The classifier's outputs, where given.
    pub num_classes: Option<usize>,
    /// The class names in the head's order (`label_names`), where given.
    pub label_names: Option<Vec<String>>,
    /// The evaluation transform `pretrained_cfg` implies; timm's defaults for what it leaves out.
    pub transform: Preprocess,
}

impl CheckpointConfig {
    /// Parses `text`, the contents of the config file `file` (named in messages).
    ///
    /// Errors: not JSON, or a `pretrained_cfg` field of the wrong type or value (a non-square
    /// `input_size`, an interpolation other than bilinear or bicubic, a mean or std that is not
    /// three numbers): each named with the field and what the engine takes.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let bad = |reason: String| Error::BadConfig { file: file.to_string(), reason };
        let root: Value = serde_json::from_str(text).map_err(|e| bad(format!("is not JSON ({e})")))?;
        let Value::Object(root) = root else {
            return Err(bad("is not a JSON object such as timm's config.json".into()));
        };
        let architecture = match root.get("architecture").or_else(|| root.get("arch")) {
            Some(Value::String(a)) if !a.trim().is_empty() => Some(a.trim().to_string()),
            None | Some(Value::Null) => None,
            Some(other) => return Err(bad(format!("`architecture` is {other}, not a timm model name"))),
        };
        let num_classes = match root.get("num_classes") {
            Some(Value::Number(n)) => Some(n.as_u64().filter(|&n| n > 0).ok_or_else(|| bad(format!("`num_classes` is {n}")))? as usize),
            None | Some(Value::Null) => None,
            Some(other) => return Err(bad(format!("`num_classes` is {other}, not a count"))),
        };
        let label_names = match root.get("label_names") {
            Some(Value::Array(names)) => Some(
                names
                    .iter()
                    .map(|n| match n {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(bad(format!("`label_names` holds {other}, not a name"))),
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            None | Some(Value::Null) => None,
            Some(other) => return Err(bad(format!("`label_names` is {other}, not a list of names"))),
        };
        if let (Some(names), Some(classes)) = (&label_names, num_classes)
            && names.len() != classes
        {
            return Err(bad(format!("`label_names` has {} names for `num_classes` {classes}", names.len())));
        }
        let transform = match root.get("pretrained_cfg") {
            Some(Value::Object(cfg)) => transform(cfg, &bad)?,
            None | Some(Value::Null) => Preprocess::default(),
            Some(other) => return Err(bad(format!("`pretrained_cfg` is {other}, not an object"))),
        };
        Ok(Self { architecture, num_classes, label_names, transform })
    }

    /// The config of the checkpoint at `model`: the file `explicit` names, else `config.json`
    /// beside the checkpoint (as a Hub repository or `save_for_hf` lays them out), else none.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn for_checkpoint(model: &std::path::Path, explicit: Option<&std::path::Path>) -> Result<Option<Self>> {
        // `--config none`: no config, not even the one beside the checkpoint.
        if explicit.is_some_and(|p| p.as_os_str() == "none") {
            return Ok(None);
        }
        let beside = model.parent().map(|dir| dir.join("config.json")).filter(|p| p.is_file());
        let Some(path) = explicit.map(std::path::Path::to_path_buf).or(beside) else { return Ok(None) };
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::BadConfig { file: file.clone(), reason: format!("cannot be read ({e})") })?;
        Self::parse(&text, &file).map(Some).map_err(|e| match e {
            // Found by itself: say how to run without it.
            Error::BadConfig { file, reason } if explicit.is_none() => {
                Error::BadConfig { file, reason: format!("{reason} (found beside the checkpoint; `--config none` reads none)") }
            }
            other => other,
        })
    }
}

/// The transform `net`'s photos go through: `config`'s, where there is one, else the family's
/// default ([`Preprocess::for_arch`]) at the size a fixed grid needs ([`Net::fixed_input_size`]).
pub fn transform_for(net: &Net, config: Option<&CheckpointConfig>) -> Preprocess {
    config.map_or_else(
        || {
            // A network whose self-attention fixes its grid (BoTNet) gets the size that gives it.
            let t = Preprocess::for_arch(&net.arch);
            Preprocess { input_size: net.fixed_input_size().unwrap_or(t.input_size), ..t }
        },
        |c| c.transform.clone(),
    )
}

/// `net`'s class names: `labels` (one per line) when given, else `config`'s `label_names`, else
/// the head's defaults ([`Net::class_names`]).
pub fn class_names_for(net: &Net, config: Option<&CheckpointConfig>, labels: Option<&str>) -> Result<Vec<String>> {
    let from_config = config.and_then(|c| c.label_names.as_ref()).map(|names| names.join("\n"));
    net.class_names(labels.or(from_config.as_deref()))
}

/// What to add to a refusal of a checkpoint whose config.json was found beside it (`explicit`
/// is the `--config` given): where the config came from and how to run without it.
#[cfg(not(target_arch = "wasm32"))]
pub fn beside_hint(e: &Error, explicit: Option<&std::path::Path>) -> &'static str {
    match e {
        Error::BadOption { option: "--config", .. } if explicit.is_none() => {
            " (its config.json was found beside the checkpoint; `--config none` reads none)"
        }
        _ => "",
    }
}

/// timm's `resolve_data_config` on a `pretrained_cfg` (no overrides, `use_test_size` off).
fn transform(cfg: &serde_json::Map<String, Value>, bad: &dyn Fn(String) -> Error) -> Result<Preprocess> {
    let mut t = Preprocess::default();
    let field = |key: &str| cfg.get(key).filter(|v| !v.is_null());
    if let Some(size) = field("input_size") {
        let dims: Vec<u64> = size.as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
        match dims.as_slice() {
            [3, h, w] if h == w && *h > 0 => t.input_size = *h as usize,
            [3, h, w] if *h > 0 && *w > 0 => {
                return Err(bad(format!("`pretrained_cfg.input_size` is {h} x {w}: the engine evaluates square inputs only")));
            }
            _ => return Err(bad(format!("`pretrained_cfg.input_size` is {size}, not [3, H, W] of an RGB network"))),
        }
    }
    if let Some(pct) = field("crop_pct") {
        match pct.as_f64() {
            Some(p) if p > 0.0 && p <= 1.0 => t.crop_pct = p,
            _ => return Err(bad(format!("`pretrained_cfg.crop_pct` is {pct}, not a share in (0, 1]"))),
        }
    }
    if let Some(mode) = field("crop_mode") {
        t.crop_mode = match mode.as_str() {
            Some(m) => m
                .parse::<CropMode>()
                .map_err(|_| bad(format!("`pretrained_cfg.crop_mode` is `{m}`: the engine runs center, squash and border")))?,
            None => return Err(bad(format!("`pretrained_cfg.crop_mode` is {mode}, not a name"))),
        };
    }
    if let Some(interp) = field("interpolation") {
        t.interpolation = match interp.as_str() {
            Some(i) => i
                .parse::<Interpolation>()
                .map_err(|_| bad(format!("`pretrained_cfg.interpolation` is `{i}`: the engine resizes with bilinear or bicubic")))?,
            None => return Err(bad(format!("`pretrained_cfg.interpolation` is {interp}, not a name"))),
        };
    }
    for (key, slot) in [("mean", &mut t.mean), ("std", &mut t.std)] {
        if let Some(v) = field(key) {
            let values: Vec<f32> = v.as_array().map(|a| a.iter().filter_map(Value::as_f64).map(|x| x as f32).collect()).unwrap_or_default();
            match values.as_slice() {
                [r, g, b] if key == "mean" || values.iter().all(|&s| s > 0.0) => *slot = [*r, *g, *b],
                _ => return Err(bad(format!("`pretrained_cfg.{key}` is {v}, not three numbers (R, G, B)"))),
            }
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timm_s_config_gives_the_architecture_the_names_and_the_transform() {
        let text = r#"{"architecture": "seresnet50", "num_classes": 2, "num_features": 2048, "global_pool": "avg",
            "label_names": ["cat", "dog"],
            "pretrained_cfg": {"tag": "a1_in1k", "input_size": [3, 288, 288], "test_input_size": [3, 320, 320],
              "crop_pct": 0.95, "crop_mode": "squash", "interpolation": "bilinear",
              "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.5, 1.0], "num_classes": 1000}}"#;
        let c = CheckpointConfig::parse(text, "config.json").unwrap();
        assert_eq!(c.architecture.as_deref(), Some("seresnet50"));
        assert_eq!(c.label_names, Some(vec!["cat".to_string(), "dog".to_string()]));
        let t = c.transform;
        assert_eq!((t.input_size, t.crop_pct, t.crop_mode, t.interpolation), (288, 0.95, CropMode::Squash, Interpolation::Bilinear));
        assert_eq!((t.mean, t.std), ([0.5; 3], [0.25, 0.5, 1.0]));
    }

    #[test]
    fn what_the_config_leaves_out_is_timm_s_default() {
        let c = CheckpointConfig::parse(r#"{"architecture": "resnet50", "pretrained_cfg": {"crop_pct": null}}"#, "c.json").unwrap();
        assert_eq!(c.transform, Preprocess::default());
        assert_eq!(c.label_names, None);
    }

    #[test]
    fn a_bad_config_is_named_with_its_field() {
        let cases = [
            ("not json", "is not JSON"),
            (r#"[1, 2]"#, "not a JSON object"),
            (r#"{"pretrained_cfg": {"input_size": [3, 224, 192]}}"#, "224 x 192"),
            (r#"{"pretrained_cfg": {"interpolation": "lanczos"}}"#, "`lanczos`"),
            (r#"{"pretrained_cfg": {"crop_mode": "random"}}"#, "center, squash and border"),
            (r#"{"pretrained_cfg": {"mean": [0.5, 0.5]}}"#, "pretrained_cfg.mean"),
            (r#"{"pretrained_cfg": {"crop_pct": 1.5}}"#, "crop_pct"),
            (r#"{"num_classes": 3, "label_names": ["a", "b"]}"#, "2 names for `num_classes` 3"),
        ];
        for (text, expected) in cases {
            let err = CheckpointConfig::parse(text, "cfg.json").unwrap_err().to_string();
            assert!(err.contains("cfg.json") && err.contains(expected), "{text}: {err}");
        }
    }
}
