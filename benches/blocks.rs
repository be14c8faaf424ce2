//! Timings per block and backend at the sizes of BENCHMARKS.md:
//! `cargo bench --bench blocks` (or `./build.sh bench`).
//! SE / CBAM / ECA / GC at C=64, 56x56; Non-local and MHSA (4 heads) at C=64, 32x32 and 64x64;
//! on the GPU also Non-local at 128x128. Each figure is one whole forward pass as a caller sees
//! it: for the GPU that includes uploading x and reading y back.

use attention_playground::blocks::init::seeded_weights;
use attention_playground::{Backend, Block, BlockKind, BlockOptions, CpuBackend, GpuBackend, MapRequest, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn input(c: usize, side: usize) -> Tensor {
    // A smooth deterministic pattern; the values do not change the work done.
    let data = (0..c * side * side).map(|i| ((i as f32) * 0.618).sin()).collect();
    Tensor::new(vec![1, c, side, side], data).unwrap()
}

struct Case {
    label: &'static str,
    kind: BlockKind,
    options: BlockOptions,
    sides: &'static [usize],
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = [BlockKind::Se, BlockKind::Cbam, BlockKind::Eca, BlockKind::Gc]
        .into_iter()
        .map(|kind| Case { label: kind.name(), kind, options: BlockOptions::default(), sides: &[56] })
        .collect();
    cases.extend([
        Case { label: "nonlocal", kind: BlockKind::NonLocal, options: BlockOptions::default(), sides: &[32, 64] },
        Case {
            label: "nonlocal-subsample",
            kind: BlockKind::NonLocal,
            options: BlockOptions { subsample: true, ..Default::default() },
            sides: &[64],
        },
        Case {
            label: "mhsa-4heads",
            kind: BlockKind::Mhsa,
            options: BlockOptions { heads: Some(4), ..Default::default() },
            sides: &[32, 64],
        },
    ]);
    cases
}

fn bench_case(c: &mut Criterion, backend: &dyn Backend, prefix: &str, case: &Case, sides: &[usize]) {
    let channels = 64;
    let block = Block::load(case.kind, &seeded_weights(case.kind, channels, &case.options, 42).unwrap(), &case.options).unwrap();
    let mut group = c.benchmark_group(format!("{prefix}/{}", case.label));
    group.sample_size(10);
    for &side in sides {
        let x = input(channels, side);
        group.throughput(Throughput::Elements((side * side) as u64));
        group.bench_with_input(BenchmarkId::new(format!("C{channels}"), format!("{side}x{side}")), &x, |b, x| {
            b.iter(|| {
                let out = backend.forward(&block, x, MapRequest::default()).unwrap();
                assert_eq!(out.ran_on.backend, backend.kind(), "{}", out.ran_on);
                out
            })
        });
    }
    group.finish();
}

fn blocks(c: &mut Criterion) {
    let cpu = CpuBackend::new();
    for case in cases() {
        bench_case(c, &cpu, "cpu", &case, case.sides);
    }
    match pollster::block_on(GpuBackend::new()) {
        Ok(gpu) => {
            eprintln!("GPU benchmarks on {} ({})", gpu.adapter().name, gpu.adapter().backend);
            for case in cases() {
                bench_case(c, &gpu, "gpu", &case, case.sides);
            }
            let nonlocal = Case { label: "nonlocal", kind: BlockKind::NonLocal, options: BlockOptions::default(), sides: &[128] };
            bench_case(c, &gpu, "gpu", &nonlocal, nonlocal.sides);
        }
        Err(e) => eprintln!("no GPU benchmarks: {e}"),
    }
}

criterion_group!(benches, blocks);
criterion_main!(benches);
