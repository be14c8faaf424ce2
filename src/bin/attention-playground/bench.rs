//! `attention-playground bench`: times one block, N runs after a warm-up, in this process; the
//! last line printed is JSON.

use std::time::Instant;

use attention_playground::simd::Kernels;
use attention_playground::{Backend, BackendChoice, BackendKind, CpuBackend, MapRequest, select_backend};
use clap::Args;

use crate::apply::BlockInput;

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    what: BlockInput,
    /// cpu or gpu (auto: a hardware GPU if present, else the CPU)
    #[arg(long, value_name = "BACKEND", default_value = "cpu")]
    backend: BackendChoice,
    /// Timed runs, after a warm-up of a tenth as many (at least two)
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    iters: u32,
    /// CPU kernels: avx512, avx2, portable or reference (default: the fastest this machine runs)
    #[arg(long, value_name = "KERNELS")]
    kernels: Option<Kernels>,
}

/// Times the block; prints the JSON line on stdout and returns the human line.
pub fn bench(args: &BenchArgs) -> Result<String, String> {
    let (block, x, _) = args.what.load()?;
    let backend: Box<dyn Backend> = match (args.backend, args.kernels) {
        (BackendChoice::Cpu, Some(kernels)) => Box::new(CpuBackend::with_kernels(kernels)),
        (_, Some(_)) => return Err("option --kernels applies to --backend cpu only".into()),
        (choice, None) => select_backend(choice).map_err(|e| e.to_string())?,
    };
    let run = || backend.forward(&block, &x, MapRequest::default()).map_err(|e| e.to_string());
    let warm_up = (args.iters / 10).max(2);
    let mut ran_on = None;
    for _ in 0..warm_up {
        ran_on = Some(run()?.ran_on);
    }
    let mut times_ms: Vec<f64> = (0..args.iters)
        .map(|_| {
            let start = Instant::now();
            run().map(|_| start.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    times_ms.sort_by(f64::total_cmp);
    let n = times_ms.len();
    let median = if n % 2 == 1 { times_ms[n / 2] } else { 0.5 * (times_ms[n / 2 - 1] + times_ms[n / 2]) };
    let ran_on = ran_on.expect("the warm-up ran");
    let kernels = (ran_on.backend == BackendKind::Cpu).then(|| args.kernels.unwrap_or_else(Kernels::best).name());
    let line = serde_json::json!({
        "block": args.what.block.name(),
        "backend": ran_on.backend.to_string(),
        "kernels": kernels,
        "shape": x.shape(),
        "iters": args.iters,
        "median_ms": median,
        "min_ms": times_ms[0],
    });
    println!("{line}");
    Ok(format!(
        "attention-playground: block {} on the {}: median {median:.4} ms, min {:.4} ms over {} runs",
        args.what.block.name(),
        ran_on,
        times_ms[0],
        args.iters
    ))
}
