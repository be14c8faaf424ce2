"""Ours against ONNX Runtime on the CPU, one thread each, same blocks, weights and inputs.

    .venv-bench/bin/python tools/bench/side_by_side.py --binary target/release/attention-playground

For every case of cases.py: writes the weights, the input and the ONNX graph; checks that ONNX
Runtime's output equals ours (so both compute the same function); times ONNX Runtime in this
process and ours with `attention-playground bench`; prints the table of BENCHMARKS.md and
writes it, with every figure, to OUT/native.json. The browser half (side_by_side_web.mjs) reads
the same case files, listed in OUT/cases.json.
"""

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file

sys.path.insert(0, str(Path(__file__).parent))
from cases import cases, flops, write_case  # noqa: E402

# Our output against ONNX Runtime's: both float32, different summation orders.
ABS_TOL, REL_TOL = 1e-4, 1e-3


def machine():
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", info)
    mhz = re.search(r"cpu MHz\s*:\s*([\d.]+)", info)
    ghz = float(mhz.group(1)) / 1000 if mhz else None
    # One core, two FMA units of 8 lanes (AVX2) or 16 (AVX-512): 32 or 64 flops a cycle at the
    # clock the kernel reports (turbo runs above it; some AVX-512 cores split 16 lanes in two).
    flags = re.search(r"^flags\s*:(.*)$", info, re.M)
    per_cycle = 64 if flags and " avx512f" in flags.group(1) else 32
    return {"cpu": model.group(1).strip() if model else platform.processor(), "ghz": ghz, "flops_per_cycle": per_cycle,
            "peak_gflops": per_cycle * ghz if ghz else None}


def ort_session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def time_ort(session, x, iters):
    feed = {"x": x}
    for _ in range(max(2, iters // 10)):
        session.run(None, feed)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def run_ours(binary, command, case, folder, *extra):
    """`attention-playground COMMAND` on the case's files, on the CPU; returns its stdout."""
    args = [binary, command, "--block", case.block, "--weights", folder / "weights.safetensors",
            "--input", folder / "input.safetensors", "--backend", "cpu", *case.cli_options(), *extra]
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout


def ours(binary, case, folder, iters, extra):
    stdout = run_ours(binary, "bench", case, folder, "--iters", str(iters), *extra)
    return json.loads(stdout.strip().splitlines()[-1])


def our_output(binary, case, folder):
    out = folder / "ours.safetensors"
    run_ours(binary, "apply", case, folder, "--output", out)
    return load_file(str(out))["y"]


def size(case):
    return f"C={case.channels}, {case.height}x{case.width}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/attention-playground")
    parser.add_argument("--out", default="target/bench-cases")
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--kernels", help="our CPU kernels (default: the fastest here)")
    args = parser.parse_args()
    root = Path(args.out)
    extra = ["--kernels", args.kernels] if args.kernels else []
    m = machine()
    rows, listing = [], []
    for seed, case in enumerate(cases()):
        folder, w, x = write_case(case, root, seed)
        listing.append({"name": case.name, "block": case.block, "size": size(case), "options": case.options,
                        "gflop": flops(case, w) / 1e9, "slow": case.positions > 56 * 56 and case.block in ("nonlocal", "mhsa")})
        session = ort_session(folder / "block.onnx")
        theirs_y = session.run(None, {"x": x})[0]
        diff = np.abs(our_output(args.binary, case, folder) - theirs_y)
        if not np.all(diff <= ABS_TOL + REL_TOL * np.abs(theirs_y)):
            sys.exit(f"{case.name}: our output differs from ONNX Runtime's by up to {diff.max():.3g}; the graphs disagree")
        # Fewer runs for the slow cases keep the whole table to a few minutes.
        iters = max(5, args.iters // 5) if listing[-1]["slow"] else args.iters
        ort_median, ort_min = time_ort(session, x, iters)
        mine = ours(args.binary, case, folder, iters, extra)
        gflop = listing[-1]["gflop"]
        rows.append({
            "block": case.block, "size": size(case), "kernels": mine["kernels"], "iters": iters,
            "ours_median_ms": mine["median_ms"], "ours_min_ms": mine["min_ms"],
            "ort_median_ms": ort_median, "ort_min_ms": ort_min,
            "speedup": ort_median / mine["median_ms"], "gflop": gflop,
            "ours_gflops": gflop / (mine["median_ms"] / 1e3), "max_abs_diff": float(diff.max()),
        })
        r = rows[-1]
        print(f"  {case.name}: ours {r['ours_median_ms']:.3f} ms, onnxruntime {ort_median:.3f} ms", file=sys.stderr, flush=True)
    peak = f"{m['peak_gflops']:.0f}" if m["peak_gflops"] else "?"
    print(f"\nCPU, one thread: {m['cpu']}, {m['ghz']} GHz; onnxruntime {ort.__version__}; our kernels: {rows[0]['kernels']}")
    print(f"\n| block | size | ours (median) | onnxruntime (median) | ours / theirs speed | our GFLOP/s (peak ~{peak}) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['block']} | {r['size']} | {r['ours_median_ms']:.3f} ms | {r['ort_median_ms']:.3f} ms | {r['speedup']:.2f}x | {r['ours_gflops']:.1f} |")
    (root / "cases.json").write_text(json.dumps(listing, indent=1))
    (root / "native.json").write_text(json.dumps({"machine": m, "onnxruntime": ort.__version__, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
