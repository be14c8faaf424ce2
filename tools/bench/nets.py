"""Whole networks: ours against ONNX Runtime on the CPU, one thread each, the same weights and
input, outputs checked equal first; and the peak memory of each (the largest resident set of a
process that loads the network and runs it).

    .venv-bench/bin/python tools/bench/nets.py --binary target/release/attention-playground [--out target/bench-nets]

For seresnet50, efficientnet_b0 and mobilenetv3_large_100 at 224 x 224: timm's own random
initialisation (seed 0, BatchNorm statistics randomised so that folding them matters), written as
OUT/ARCH/model.safetensors (float32, timm's names), model.onnx (torch's TorchScript exporter, opset
17) and input.safetensors (`x`, one image). ONNX Runtime's logits and ours must both equal
PyTorch's (float32, different summation orders: abs 1e-3 + rel 1e-3 on logits of size ~1). Each
engine runs in a child process of its own, so that its peak memory is its own. Prints the table of
BENCHMARKS.md and writes every figure to OUT/nets.json; the browser half (nets_web.mjs) reads the
same files.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ARCHS = ["seresnet50", "efficientnet_b0", "mobilenetv3_large_100"]
ABS_TOL, REL_TOL = 1e-3, 1e-3


def write_case(arch, folder):
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model(arch).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.8, 1.2)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        logits = model(x)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if v.dtype == torch.float32}
    save_file(state, str(folder / "model.safetensors"))
    save_file({"x": x.contiguous()}, str(folder / "input.safetensors"))
    save_file({"logits": logits.contiguous()}, str(folder / "torch.safetensors"))
    torch.onnx.export(model, (x,), str(folder / "model.onnx"), dynamo=False, input_names=["x"], output_names=["logits"],
                      opset_version=17)


def ort_child(folder, iters):
    """In a child process: ONNX Runtime, one thread; prints its logits and times as JSON."""
    import onnxruntime as ort
    from safetensors.numpy import load_file

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    x = load_file(str(folder / "input.safetensors"))["x"]
    logits = session.run(None, {"x": x})[0]
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        session.run(None, {"x": x})
        times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"logits": logits.ravel().tolist(), "median_ms": statistics.median(times), "min_ms": min(times),
                      "version": ort.__version__}))


def peak_mib(command):
    """Runs `command`; returns (stdout, stderr, its peak resident memory in MiB, from wait4). The
    child is spawned, not forked, so none of this process's memory counts toward its peak."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        actions = [(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        pid = os.posix_spawn(command[0], [str(c) for c in command], os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{stderr}")
    return stdout, stderr, usage.ru_maxrss / 1024


def close(got, want):
    got, want = np.asarray(got, dtype=np.float64).ravel(), np.asarray(want, dtype=np.float64).ravel()
    worst = np.max(np.abs(got - want) - (ABS_TOL + REL_TOL * np.abs(want)))
    return worst <= 0, float(np.max(np.abs(got - want)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/attention-playground")
    parser.add_argument("--out", default="target/bench-nets")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--ort-child", help=argparse.SUPPRESS)
    parser.add_argument("--write-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ort_child:
        return ort_child(Path(args.ort_child), args.iters)
    if args.write_case:
        return write_case(args.write_case, Path(args.out) / args.write_case)

    from safetensors.numpy import load_file

    out = Path(args.out)
    rows = []
    for arch in ARCHS:
        folder = out / arch
        if not (folder / "model.onnx").exists():
            # In a child: torch stays out of this process (and of the children it spawns).
            subprocess.run([sys.executable, __file__, "--write-case", arch, "--out", str(out)], check=True)
        want = load_file(str(folder / "torch.safetensors"))["logits"]
        size_mib = (folder / "model.safetensors").stat().st_size / 2**20

        text, _, ort_peak = peak_mib([sys.executable, __file__, "--ort-child", str(folder), "--iters", str(args.iters)])
        theirs = json.loads(text)
        ok, ort_diff = close(theirs["logits"], want)
        if not ok:
            raise SystemExit(f"{arch}: ONNX Runtime's logits differ from PyTorch's by {ort_diff:.2e}: the export is wrong")

        command = [args.binary, "net", "--model", str(folder / "model.safetensors"), "--arch", arch,
                   "--input", str(folder / "input.safetensors"), "--output", str(folder / "ours.safetensors"),
                   "--backend", "cpu", "--iters", str(args.iters)]
        _, err, our_peak = peak_mib(command)
        ok, our_diff = close(load_file(str(folder / "ours.safetensors"))["logits"], want)
        if not ok:
            raise SystemExit(f"{arch}: our logits differ from PyTorch's by {our_diff:.2e}")
        timing = re.search(r"forward median ([\d.]+) ms, min ([\d.]+) ms", err)
        ours = {"median_ms": float(timing.group(1)), "min_ms": float(timing.group(2))}
        rows.append({"arch": arch, "checkpoint_mib": size_mib, "ours": ours, "ort": {k: theirs[k] for k in ("median_ms", "min_ms")},
                     "ours_peak_mib": our_peak, "ort_peak_mib": ort_peak, "ours_diff": our_diff, "ort_diff": ort_diff,
                     "ort_version": theirs["version"]})
        print(f"  {arch}: ours {ours['median_ms']:.1f} ms, ONNX Runtime {theirs['median_ms']:.1f} ms", file=sys.stderr)

    print(f"\nWhole networks at 224 x 224, one image, one thread each; ONNX Runtime {rows[0]['ort_version']} "
          f"(graph optimisations on); median (min) of {args.iters} runs; peak = largest resident set of the process")
    print("\n| network | checkpoint | ours: median (min) | ONNX Runtime: median (min) | ours / theirs speed | peak memory ours | peak memory ONNX Runtime |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        o, t = r["ours"], r["ort"]
        print(f"| {r['arch']} | {r['checkpoint_mib']:.0f} MiB | {o['median_ms']:.1f} ms ({o['min_ms']:.1f}) | "
              f"{t['median_ms']:.1f} ms ({t['min_ms']:.1f}) | {t['median_ms'] / o['median_ms']:.2f}x | "
              f"{r['ours_peak_mib']:.0f} MiB | {r['ort_peak_mib']:.0f} MiB |")
    (out / "nets.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
