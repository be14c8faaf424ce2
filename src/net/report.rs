//! A network's run as the result object its readers share: `render --model` writes it as
//! `result.json` and the page's worker hands it to the element (see the README, "The result
//! object on a network"). Also the words both use: a network's one-line description, its blocks
//! counted by kind, a block's stage.

use super::preprocess::{Preprocess, top_k};
use super::{Attention, BlockRecord, Net};
use crate::report::{Value, plane};
use crate::tensor::Tensor;

/// `16 se blocks`, `3 eca blocks, 1 nl block`, or `no attention blocks`.
pub fn block_counts(blocks: &[&Attention]) -> String {
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

/// What was found in a checkpoint, in one line: `timm resnet seresnet50, 16 se blocks, 1000
/// ImageNet classes` (`timm resnet, ...` where the architecture was not named).
pub fn describe(net: &Net) -> String {
    let classes = if net.classes == 1000 { "1000 ImageNet classes".to_string() } else { format!("{} classes", net.classes) };
    let name = if net.family.ends_with(net.arch.as_str()) { net.family.to_string() } else { format!("{} {}", net.family, net.arch) };
    format!("{name}, {}, {classes}", block_counts(&net.attention_blocks()))
}

/// The stage of a module path: its components up to the first that holds a digit (`layer1` of
/// `layer1.0.se`, `blocks.3` of `blocks.3.0.se`, `s2` of `s2.b1.se`, `features.4` of
/// `features.4.block.2`).
pub fn stage_of(path: &str) -> String {
    let mut out = Vec::new();
    for part in path.split('.') {
        out.push(part);
        if part.bytes().any(|b| b.is_ascii_digit()) {
            break;
        }
    }
    out.join(".")
}

/// `{ index, name, probability }` of the five most probable classes.
pub fn top5(logits: &Tensor, names: &[String]) -> Value {
    Value::List(
        top_k(logits.data(), 5)
            .into_iter()
            .map(|(i, p)| {
                let name = names.get(i).cloned().unwrap_or_else(|| format!("class {i}"));
                object(vec![("index", Value::Number(i as f64)), ("name", Value::Text(name)), ("probability", number(p))])
            })
            .collect(),
    )
}

/// An f32 as the shortest decimal that reads back as it.
pub fn number(v: f32) -> Value {
    Value::Number(v.to_string().parse().unwrap_or(v as f64))
}

pub fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The first image's share of a batched map.
pub fn first_image(t: &Tensor) -> &[f32] {
    let per = t.shape()[1..].iter().product::<usize>();
    &t.data()[..per]
}

/// One block: `{ path, kind, stage, channels, grid: { width, height }, off, ran_on, channel?,
/// spatial?, context?, branch? }`: the gates as one float per channel, the maps as `{ width,
/// height, data }` of the first image (a branch attention's `branch`: `height` branches by `width`
/// channels, each column summing to 1).
pub fn block(record: &BlockRecord) -> Value {
    let (h, w) = record.grid;
    let mut fields = vec![
        ("path", Value::Text(record.path.clone())),
        ("kind", Value::Text(record.kind.into())),
        ("stage", Value::Text(stage_of(&record.path))),
        ("channels", Value::Number(record.channels as f64)),
        ("grid", object(vec![("width", Value::Number(w as f64)), ("height", Value::Number(h as f64))])),
        ("off", Value::Bool(record.off)),
        ("ran_on", Value::Text(record.ran_on.as_ref().map_or_else(|| "off".into(), |r| r.to_string()))),
    ];
    if let Some(gates) = record.maps.get("channel") {
        fields.push(("channel", Value::Floats(first_image(gates).to_vec())));
    }
    // `branch (N, R, C)`: one row per branch, one column per channel.
    for key in ["spatial", "context", "branch"] {
        if let Some(map) = record.maps.get(key) {
            let s = map.shape();
            fields.push((key, plane(s[2], s[1], first_image(map))));
        }
    }
    object(fields)
}

/// The transform the network's input went through: `{ size, crop_pct, interpolation, mean, std }`.
pub fn input(transform: &Preprocess) -> Value {
    object(vec![
        ("size", Value::Number(transform.input_size as f64)),
        ("crop_pct", Value::Number(transform.crop_pct)),
        ("interpolation", Value::Text(transform.interpolation.to_string())),
        ("crop_mode", Value::Text(transform.crop_mode.to_string())),
        ("mean", Value::Floats(transform.mean.to_vec())),
        ("std", Value::Floats(transform.std.to_vec())),
    ])
}

/// The network's blocks before any run: `{ family, arch, classes, summary, blocks: [{ path, kind,
/// stage, channels }] }`.
pub fn network(net: &Net) -> Value {
    let blocks = net
        .attention_blocks()
        .iter()
        .map(|b| {
            object(vec![
                ("path", Value::Text(b.path.clone())),
                ("kind", Value::Text(b.kind.into())),
                ("stage", Value::Text(stage_of(&b.path))),
                ("channels", Value::Number(b.channels() as f64)),
            ])
        })
        .collect();
    object(vec![
        ("family", Value::Text(net.family.into())),
        ("arch", Value::Text(net.arch.clone())),
        ("classes", Value::Number(net.classes as f64)),
        ("summary", Value::Text(describe(net))),
        ("blocks", Value::List(blocks)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_s_stage_is_its_path_up_to_the_first_numbered_part() {
        assert_eq!(stage_of("layer3.1.se"), "layer3");
        assert_eq!(stage_of("blocks.3.0.se"), "blocks.3");
        assert_eq!(stage_of("s2.b1.se"), "s2");
        assert_eq!(stage_of("features.4.block.2"), "features.4");
        assert_eq!(stage_of("se"), "se");
    }
}
