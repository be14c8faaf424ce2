//! CPU reference timings per block at the sizes of BENCHMARKS.md:
//! `cargo bench --bench blocks` (or `./build.sh bench`).
//! SE / CBAM / ECA / GC at C=64, 56x56; Non-local and MHSA (4 heads) at C=64, 32x32 and 64x64.

use attention_playground::blocks::init::seeded_weights;
use attention_playground::{Backend, Block, BlockKind, BlockOptions, CpuBackend, MapRequest, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn input(c: usize, side: usize) -> Tensor {
    // A smooth deterministic pattern; the values do not change the work done.
    let data = (0..c * side * side).map(|i| ((i as f32) * 0.618).sin()).collect();
    Tensor::new(vec![1, c, side, side], data).unwrap()
}

fn bench_block(c: &mut Criterion, label: &str, kind: BlockKind, options: BlockOptions, channels: usize, sides: &[usize]) {
    let weights = seeded_weights(kind, channels, &options, 42).unwrap();
    let block = Block::load(kind, &weights, &options).unwrap();
    let mut group = c.benchmark_group(format!("cpu/{label}"));
    group.sample_size(10);
    for &side in sides {
        let x = input(channels, side);
        group.throughput(Throughput::Elements((side * side) as u64));
        group.bench_with_input(BenchmarkId::new(format!("C{channels}"), format!("{side}x{side}")), &x, |b, x| {
            b.iter(|| CpuBackend::new().forward(&block, x, MapRequest::default()).unwrap())
        });
    }
    group.finish();
}

fn blocks(c: &mut Criterion) {
    for kind in [BlockKind::Se, BlockKind::Cbam, BlockKind::Eca, BlockKind::Gc] {
        bench_block(c, kind.name(), kind, BlockOptions::default(), 64, &[56]);
    }
    bench_block(c, "nonlocal", BlockKind::NonLocal, BlockOptions::default(), 64, &[32, 64]);
    let subsample = BlockOptions { subsample: true, ..Default::default() };
    bench_block(c, "nonlocal-subsample", BlockKind::NonLocal, subsample, 64, &[64]);
    bench_block(c, "mhsa-4heads", BlockKind::Mhsa, BlockOptions { heads: Some(4), ..Default::default() }, 64, &[32, 64]);
}

criterion_group!(benches, blocks);
criterion_main!(benches);
