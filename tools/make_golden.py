#!/usr/bin/env python3
"""Writes the golden cases under tests/fixtures/: for every block and option, random weights
(BatchNorm with non-trivial running statistics, since zero-initialised BatchNorm hides bugs),
a random input of odd size with a batch of 2, and what the reference PyTorch code computes.

The references are timm's own modules where timm has the variant, and small modules written
after the papers' code where it does not (CBAM's [max, mean] order, Non-local's other pairwise
functions, scales and subsampling). Outputs are computed in float64 and stored as float32, so
the fixtures hold the exact values, not one float32 summation order.

Each case is a folder with weights.safetensors, input.safetensors (`x`) and expected.safetensors
(`y`, the maps, and `attention_row` for the query in QUERY); tests/fixtures/cases.json lists the
cases with the CLI options that select them.
"""

import json
import math
import shutil
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from timm.layers.cbam import CbamModule
from timm.layers.eca import CecaModule, EcaModule
from timm.layers.global_context import GlobalContext
from timm.layers.non_local_attn import NonLocalAttn
from timm.layers.squeeze_excite import SEModule
from timm.layers.attention2d import Attention2d

SEED = 20261120
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
# The query pixel (column, row) whose attention row each Non-local / MHSA case stores.
QUERY = (3, 2)


def randomise(module: nn.Module) -> nn.Module:
    """Gives every parameter and BatchNorm statistic a random, non-trivial value."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("norm.weight") or name.endswith("bn.weight"):
                p.uniform_(0.5, 1.5)
            elif name.endswith("bias"):
                p.normal_(0.0, 0.2)
            else:
                fan_in = p[0].numel()
                p.normal_(0.0, 1.0 / math.sqrt(fan_in))
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(17)
    return module.eval()


class GateRecorder:
    """Records what a gate (sigmoid) module returned during the forward pass."""

    def __init__(self, module: nn.Module):
        self.value = None
        module.register_forward_hook(self._hook)

    def _hook(self, _module, _inputs, output):
        self.value = output


class InputRecorder:
    """Records what a module received (its first input) during the forward pass; `trim` cuts
    `trim` values off both ends of the last axis (the circular padding CecaModule adds)."""

    def __init__(self, module: nn.Module, trim: int = 0):
        self.value = None
        self.trim = trim
        module.register_forward_pre_hook(self._hook)

    def _hook(self, _module, inputs):
        v = inputs[0]
        self.value = v[..., self.trim:v.shape[-1] - self.trim] if self.trim else v


class CbamMaxMean(CbamModule):
    """The official CBAM code's spatial gate: ChannelPool concatenates [max, mean]."""

    def forward(self, x):
        x = self.channel(x)
        s = self.spatial
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * s.gate(s.conv(pooled))


class NonLocalReference(nn.Module):
    """Non-local block with the four pairwise functions of Wang et al., following AlexHex7's
    port (pooling after the conv) and timm's naming (t, p, g, z, norm)."""

    def __init__(self, channels, rd, pairwise, scale, subsample):
        super().__init__()
        self.pairwise, self.subsample = pairwise, subsample
        if pairwise != "gaussian":
            self.t = nn.Conv2d(channels, rd, 1)
            self.p = nn.Conv2d(channels, rd, 1)
        self.g = nn.Conv2d(channels, rd, 1)
        self.z = nn.Conv2d(rd, channels, 1)
        self.norm = nn.BatchNorm2d(channels)
        if pairwise == "concatenation":
            self.concat_project = nn.Conv2d(2 * rd, 1, 1, bias=False)
        self.scale = {"input": channels ** -0.5, "inner": rd ** -0.5, "none": 1.0}[scale]
        self.attention = None

    def keys(self, v):
        return F.max_pool2d(v, 2) if self.subsample else v

    def forward(self, x):
        b, c, h, w = x.shape
        if self.pairwise == "gaussian":
            theta, phi = x, self.keys(x)
        else:
            theta, phi = self.t(x), self.keys(self.p(x))
        g = self.keys(self.g(x))
        theta = theta.flatten(2).transpose(1, 2)  # (B, N, d)
        phi = phi.flatten(2)                      # (B, d, N')
        g = g.flatten(2).transpose(1, 2)          # (B, N', rd)
        n_keys = phi.shape[-1]
        if self.pairwise in ("embedded-gaussian", "gaussian"):
            f = torch.softmax(self.scale * theta @ phi, dim=-1)
        elif self.pairwise == "dot-product":
            f = theta @ phi / n_keys
        else:
            rd = theta.shape[-1]
            wt = self.concat_project.weight.view(-1)
            a = theta @ wt[:rd]                                # (B, N)
            bk = phi.transpose(1, 2) @ wt[rd:]                 # (B, N')
            f = F.relu(a[:, :, None] + bk[:, None, :]) / n_keys
        self.attention = f
        y = (f @ g).transpose(1, 2).reshape(b, -1, h, w)
        return self.norm(self.z(y)) + x


def timm_nonlocal_attention(m: NonLocalAttn, x):
    t = m.t(x).flatten(2).transpose(1, 2)
    p = m.p(x).flatten(2)
    return torch.softmax(t @ p * m.scale, dim=-1)


def mhsa_attention(m: Attention2d, x):
    b, c, h, w = x.shape
    q, k, _ = m.qkv(x).reshape(b, 3, m.num_heads, m.dim_head, -1).unbind(1)
    return torch.softmax(q.transpose(-1, -2) @ k * m.dim_head ** -0.5, dim=-1)  # (B, heads, N, N)


def attention_row(attention, query_index, key_grid):
    """The row of one query, shaped like the engine's attention_row: (B, [heads,] Hk, Wk)."""
    row = attention[..., query_index, :]
    return row.reshape(*row.shape[:-1], *key_grid)


def write_case(cases, name, block, args, module, x, run):
    """run(module, x) returns (y, maps) in float64."""
    module = module.double().eval()
    with torch.no_grad():
        y, maps = run(module, x.double())
    folder = FIXTURES / name
    folder.mkdir(parents=True)
    state = {k: v.float().contiguous() if v.is_floating_point() else v for k, v in module.state_dict().items()}
    save_file(state, str(folder / "weights.safetensors"))
    save_file({"x": x.float().contiguous()}, str(folder / "input.safetensors"))
    expected = {"y": y.float().contiguous(), **{k: v.float().contiguous() for k, v in maps.items()}}
    save_file(expected, str(folder / "expected.safetensors"))
    cases.append({"name": name, "block": block, "args": args, "outputs": sorted(expected)})


def gate_run(gates):
    """A run function that returns the module output and the recorded gates."""
    def run(m, x):
        y = m(x)
        return y, {name: rec.value.reshape(rec.value.shape[0], *shape(rec.value)) for name, (rec, shape) in gates.items()}
    return run


def main():
    torch.manual_seed(SEED)
    # Everything under tests/fixtures/ is rewritten, except nets/ (tools/make_golden_nets.py's)
    # and cases/ (real users' files, copied from shared/cases).
    for old in sorted(FIXTURES.iterdir()) if FIXTURES.exists() else []:
        if old.name not in ("nets", "cases"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    cases = []
    channel_map = lambda v: (-1,)  # (B, C, 1, 1) or (B, 1, C) to (B, C)
    spatial_map = lambda v: v.shape[2:]

    # --- SE: timm (biases, rd = make_divisible(C/16, 8)) and the bias-free port.
    for name, c, bias in [("se_timm", 24, True), ("se_no_bias", 32, False)]:
        m = SEModule(c) if bias else SEModule(c, rd_channels=c // 16)
        if not bias:
            m.fc1 = nn.Conv2d(c, c // 16, 1, bias=False)
            m.fc2 = nn.Conv2d(c // 16, c, 1, bias=False)
        randomise(m)
        # The steps (MapRequest::trace): the means fc1 receives, the hidden units after the
        # activation, fc2's logits, then the gate.
        steps = {"channel": (GateRecorder(m.gate), channel_map),
                 "trace.squeeze": (InputRecorder(m.fc1), channel_map),
                 "trace.hidden": (GateRecorder(m.act), channel_map),
                 "trace.logits": (GateRecorder(m.fc2), channel_map)}
        write_case(cases, name, "se", [], m, torch.randn(2, c, 7, 9), gate_run(steps))

    # --- CBAM: timm default, the official code (MLP bias, [max, mean]), and a 3x3 spatial kernel.
    for name, args, make in [
        ("cbam_timm", [], lambda: CbamModule(32)),
        ("cbam_official", ["--spatial-order", "max-mean"], lambda: CbamMaxMean(32, mlp_bias=True)),
        ("cbam_k3", [], lambda: CbamModule(16, rd_ratio=1 / 4, spatial_kernel_size=3, mlp_bias=True)),
    ]:
        m = randomise(make())
        gates = {"channel": (GateRecorder(m.channel.gate), channel_map),
                 "spatial": (GateRecorder(m.spatial.gate), spatial_map)}
        c = m.channel.fc1.in_channels
        write_case(cases, name, "cbam", args, m, torch.randn(2, c, 9, 7), gate_run(gates))

    # --- Non-local: timm itself, then every pairwise function, scale and subsampling.
    c, rd, h, w = 16, 8, 7, 9
    query_index = QUERY[1] * w + QUERY[0]
    m = randomise(NonLocalAttn(c))

    def run_timm_nonlocal(m, x):
        att = timm_nonlocal_attention(m, x)
        return m(x), {"attention": att, "attention_row": attention_row(att, query_index, (h, w))}

    x_nl = torch.randn(2, c, h, w)
    write_case(cases, "nonlocal_timm", "nonlocal", [], m, x_nl, run_timm_nonlocal)
    # The hand-written reference must agree with timm where both apply.
    ref = NonLocalReference(c, rd, "embedded-gaussian", "input", False)
    ref.load_state_dict(m.state_dict())
    ref.eval()
    with torch.no_grad():
        assert torch.allclose(ref.double()(x_nl.double()), m.double()(x_nl.double()), atol=1e-12)

    def run_reference(m, x):
        y = m(x)
        grid = (h // 2, w // 2) if m.subsample else (h, w)
        return y, {"attention": m.attention, "attention_row": attention_row(m.attention, query_index, grid)}

    variants = [("embedded-gaussian", "inner", False), ("embedded-gaussian", "none", False),
                ("embedded-gaussian", "input", True), ("dot-product", "input", False),
                ("dot-product", "input", True), ("gaussian", "input", False), ("gaussian", "none", True),
                ("concatenation", "input", False), ("concatenation", "input", True)]
    for pairwise, scale, subsample in variants:
        m = randomise(NonLocalReference(c, rd, pairwise, scale, subsample))
        if pairwise == "gaussian":
            x = torch.randn(2, c, h, w) * 0.5  # raw-input logits: keep the softmax away from one-hot
        else:
            x = torch.randn(2, c, h, w)
        name = f"nonlocal_{pairwise.replace('-', '_')}_{scale}" + ("_subsample" if subsample else "")
        args = ["--pairwise", pairwise, "--scale", scale] + (["--subsample"] if subsample else [])
        write_case(cases, name, "nonlocal", args, m, x, run_reference)

    # --- ECA: zero padding (EcaModule) and circular (CecaModule), k = 5 and k from C.
    for name, args, m, c in [("eca_zero_k5", [], EcaModule(kernel_size=5), 20),
                             ("eca_zero_auto", ["--padding", "zero"], EcaModule(channels=64), 64),
                             ("eca_circular_k5", ["--padding", "circular"], CecaModule(kernel_size=5), 20)]:
        randomise(m)
        # The steps: the channel means the 1-D convolution receives (without CecaModule's circular
        # padding), its logits, then the gate.
        steps = {"channel": (GateRecorder(m.gate), channel_map),
                 "trace.squeeze": (InputRecorder(m.conv, trim=m.padding if isinstance(m, CecaModule) else 0), channel_map),
                 "trace.logits": (GateRecorder(m.conv), channel_map)}
        write_case(cases, name, "eca", args, m, torch.randn(2, c, 5, 6), gate_run(steps))

    # --- GC: scale fusion (timm default) and add fusion (the paper's).
    for name, args, fuse_add in [("gc_scale", [], False), ("gc_add", ["--fusion", "add"], True)]:
        m = randomise(GlobalContext(24, fuse_add=fuse_add, fuse_scale=not fuse_add))

        def run_gc(m, x):
            b, _, hh, ww = x.shape
            context = torch.softmax(m.conv_attn(x).reshape(b, -1), dim=-1).reshape(b, hh, ww)
            maps = {"context": context}
            if m.mlp_scale is not None:
                rec = GateRecorder(m.gate)
                y = m(x)
                maps["channel"] = rec.value.reshape(b, -1)
            else:
                y = m(x)
            return y, maps

        write_case(cases, name, "gc", args, m, torch.randn(2, 24, 6, 7), run_gc)

    # --- Multi-head self-attention (timm Attention2d), 4 heads and 1 head.
    for name, c, heads in [("mhsa_heads4", 32, 4), ("mhsa_heads1", 16, 1)]:
        m = randomise(Attention2d(c, num_heads=heads))

        def run_mhsa(m, x):
            att = mhsa_attention(m, x)
            return m(x), {"attention": att, "attention_row": attention_row(att, query_index, (h, w))}

        write_case(cases, name, "mhsa", ["--heads", str(heads)], m, torch.randn(2, c, h, w), run_mhsa)

    manifest = {"query": list(QUERY), "generator": "tools/make_golden.py", "torch": torch.__version__,
                "cases": cases}
    (FIXTURES / "cases.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {FIXTURES}")


if __name__ == "__main__":
    main()
