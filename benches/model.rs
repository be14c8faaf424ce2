//! The playground's trained network at its working size, natively on the CPU reference: the stem
//! and body alone (every block off), with the three early blocks, and with all six.
//! `cargo bench --bench model` (or `./build.sh bench`). The browser runs the same code compiled to
//! wasm; its per-stage times show in the page's badge.

use attention_playground::model::{EARLY_BLOCKS, Model, ModelConfig, image};
use attention_playground::{AnyBackend, BackendChoice};
use criterion::{Criterion, criterion_group, criterion_main};

fn model(c: &mut Criterion) {
    let (w, h) = image::working_size(512, 512);
    let rgba: Vec<u8> = (0..w * h * 4).map(|i| ((i * 7919) % 251) as u8).collect();
    let input = image::rgba_to_input(&rgba, w, h).unwrap();
    let cpu = pollster::block_on(AnyBackend::select(BackendChoice::Cpu)).unwrap();
    let mut group = c.benchmark_group(format!("cpu/model/{w}x{h}"));
    group.sample_size(10);
    let all = ModelConfig::all_trained();
    let early = ModelConfig { blocks: all.blocks.iter().filter(|(k, _)| EARLY_BLOCKS.contains(k)).cloned().collect() };
    for (label, config) in [("no blocks", ModelConfig::default()), ("se eca gc", early), ("all six", all)] {
        let model = Model::trained(&config).unwrap();
        group.bench_function(label, |b| b.iter(|| pollster::block_on(model.run(&cpu, &input, &|| 0.0)).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, model);
criterion_main!(benches);
