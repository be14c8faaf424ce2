//! The playground's model at its working size, natively on the CPU reference: the stem, then the
//! default blocks (`se cbam nonlocal`) and all six. `cargo bench --bench model` (or `./build.sh bench`).
//! The browser runs the same code compiled to wasm; its per-stage times show in the page's badge.

use attention_playground::model::{Model, ModelConfig, image};
use attention_playground::{AnyBackend, BackendChoice, BlockKind, BlockOptions};
use criterion::{Criterion, criterion_group, criterion_main};

fn config(blocks: &[BlockKind]) -> ModelConfig {
    ModelConfig {
        blocks: blocks.iter().map(|&k| (k, BlockOptions { heads: (k == BlockKind::Mhsa).then_some(4), ..Default::default() })).collect(),
    }
}

fn model(c: &mut Criterion) {
    let (w, h) = image::working_size(512, 512);
    let rgba: Vec<u8> = (0..w * h * 4).map(|i| ((i * 7919) % 251) as u8).collect();
    let input = image::rgba_to_input(&rgba, w, h).unwrap();
    let cpu = pollster::block_on(AnyBackend::select(BackendChoice::Cpu)).unwrap();
    let mut group = c.benchmark_group(format!("cpu/model/{w}x{h}"));
    group.sample_size(10);
    let cases: [(&str, &[BlockKind]); 3] =
        [("stem only", &[]), ("se cbam nonlocal", &[BlockKind::Se, BlockKind::Cbam, BlockKind::NonLocal]), ("all six", &BlockKind::ALL)];
    for (label, blocks) in cases {
        let model = Model::seeded(&config(blocks)).unwrap();
        group.bench_function(label, |b| b.iter(|| pollster::block_on(model.run(&cpu, &input, &|| 0.0)).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, model);
criterion_main!(benches);
