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

The `trace.*` maps are each block's intermediate steps (what the engine's MapRequest::trace
returns), read from forward hooks on the reference modules, so they are what the reference
computed, not a re-derivation; every trace is then checked against its neighbours recomputed by
hand (`check`), so a wrong hook or reshape fails the generator instead of writing a bad fixture.
The Non-local and MHSA traces are taken at the one query pixel in QUERY. Every map keeps the batch
as its leading axis.
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


class CallRecorder:
    """Records every call of a module, in call order: what it received (its first input,
    `what="input"`) or what it returned (`what="output"`). The values are copies, so an in-place
    activation that runs afterwards cannot change them. `value` is the last call's."""

    def __init__(self, module: nn.Module, what: str = "output"):
        self.values = []
        if what == "input":
            module.register_forward_pre_hook(lambda _module, inputs: self.values.append(inputs[0].clone()))
        else:
            module.register_forward_hook(lambda _module, _inputs, output: self.values.append(output.clone()))

    @property
    def value(self):
        return self.values[-1]


def check(what, got, want):
    """Fails the generator when a recorded step disagrees with the same step recomputed from the
    steps around it (float64, so only summation order may differ)."""
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    err = (got - want).abs().max().item()
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-12), f"{what}: max difference {err:.3e}"


def at_query(v, query_index):
    """The vector of a (B, C, H, W) map at the query pixel (row-major index over H x W): (B, C)."""
    return v.flatten(2)[:, :, query_index]


class CbamMaxMean(CbamModule):
    """The official CBAM code's spatial gate: ChannelPool concatenates [max, mean]."""

    def forward(self, x):
        x = self.channel(x)
        s = self.spatial
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * s.gate(s.conv(pooled))


class NonLocalReference(nn.Module):
    """Non-local block with the four pairwise functions of Wang et al., following AlexHex7's
    port (pooling after the conv) and timm's naming (t, p, g, z, norm). It keeps the pairwise
    scores before normalisation (`scores`, (B, N, N')) and the normalised weights (`attention`)."""

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
        self.scores = None
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
            scores = self.scale * theta @ phi
            f = torch.softmax(scores, dim=-1)
        elif self.pairwise == "dot-product":
            scores = theta @ phi
            f = scores / n_keys
        else:
            rd = theta.shape[-1]
            wt = self.concat_project.weight.view(-1)
            a = theta @ wt[:rd]                                # (B, N)
            bk = phi.transpose(1, 2) @ wt[rd:]                 # (B, N')
            scores = F.relu(a[:, :, None] + bk[:, None, :])
            f = scores / n_keys
        self.scores, self.attention = scores, f
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


def cbam_run(m):
    """A run function for CBAM: the two gates, then the steps (MapRequest::trace). Hooks keep every
    call of the channel MLP, which runs twice per forward (the means first, then the maxima)."""
    ca, sa = m.channel, m.spatial
    gates = {"channel": GateRecorder(ca.gate), "spatial": GateRecorder(sa.gate)}
    fc1_in, fc2_out = CallRecorder(ca.fc1, "input"), CallRecorder(ca.fc2)
    pooled, conv, bn = CallRecorder(sa.conv.conv, "input"), CallRecorder(sa.conv.conv), CallRecorder(sa.conv.bn)

    def run(m, x):
        b = x.shape[0]
        y = m(x)
        assert len(fc1_in.values) == len(fc2_out.values) == 2
        maps = {"channel": gates["channel"].value.reshape(b, -1),
                "spatial": gates["spatial"].value.reshape(b, *x.shape[2:]),
                # fc1's two inputs, per channel [mean, max] over H, W: (B, C, 2)
                "trace.squeeze": torch.stack([v.reshape(b, -1) for v in fc1_in.values], dim=-1),
                # fc2's two outputs, per channel [MLP(mean), MLP(max)]: (B, C, 2)
                "trace.mlp": torch.stack([v.reshape(b, -1) for v in fc2_out.values], dim=-1),
                # the spatial conv's input, the two pooled maps in the module's order: (B, 2, H, W)
                "trace.pooled": pooled.value,
                # the spatial conv's output, then BatchNorm's (the gate's logits): (B, H, W)
                "trace.conv": conv.value[:, 0],
                "trace.logits": bn.value[:, 0]}
        # Each step again from the one before it.
        sq, mlp = maps["trace.squeeze"], maps["trace.mlp"]
        check("cbam trace.squeeze", sq, torch.stack([x.mean((2, 3)), x.amax((2, 3))], dim=-1))
        hidden = F.relu(torch.einsum("rc,bck->brk", ca.fc1.weight.flatten(1), sq)
                        + (0 if ca.fc1.bias is None else ca.fc1.bias[:, None]))
        check("cbam trace.mlp", mlp, torch.einsum("cr,brk->bck", ca.fc2.weight.flatten(1), hidden)
              + (0 if ca.fc2.bias is None else ca.fc2.bias[:, None]))
        check("cbam channel = sigmoid(mlp mean + mlp max)", maps["channel"], torch.sigmoid(mlp.sum(-1)))
        xc = x * maps["channel"][:, :, None, None]
        mean_max = [xc.mean(1), xc.amax(1)]
        order = mean_max[::-1] if isinstance(m, CbamMaxMean) else mean_max
        check("cbam trace.pooled", maps["trace.pooled"], torch.stack(order, dim=1))
        c2 = sa.conv.conv
        check("cbam trace.conv", maps["trace.conv"],
              F.conv2d(maps["trace.pooled"], c2.weight, c2.bias, padding=c2.padding)[:, 0])
        n = sa.conv.bn
        check("cbam trace.logits", maps["trace.logits"],
              (maps["trace.conv"] - n.running_mean) / torch.sqrt(n.running_var + n.eps) * n.weight + n.bias)
        check("cbam spatial = sigmoid(trace.logits)", maps["spatial"], torch.sigmoid(maps["trace.logits"]))
        check("cbam y", y, xc * maps["spatial"][:, None])
        return y, maps
    return run


def nonlocal_recorders(m):
    """Hooks on a Non-local block's modules: what t, p (not in the gaussian form), g, z and norm
    returned, and what z received."""
    recs = {name: CallRecorder(getattr(m, name)) for name in ("t", "p", "g", "z", "norm") if hasattr(m, name)}
    recs["z.input"] = CallRecorder(m.z, "input")
    return recs


def nonlocal_trace(m, x, y, recs, query_index, pairwise, scale, pool, scores, weights):
    """The Non-local steps at the query pixel (MapRequest::trace). `pool` maps a full grid to the
    key grid (2x2 max pooling with subsampling); `scores` and `weights` are the query's row of the
    pairwise scores before normalisation and of the normalised weights f(q, j), (B, N')."""
    b = x.shape[0]
    if pairwise == "gaussian":
        theta, keys = at_query(x, query_index), pool(x)  # the raw input is compared
    else:
        theta, keys = at_query(recs["t"].value, query_index), pool(recs["p"].value)
    grid = keys.shape[2:]
    g = pool(recs["g"].value).flatten(2)  # (B, rd, N')
    trace = {"trace.input": at_query(x, query_index),
             "trace.theta": theta,                          # the query vector: (B, d)
             "trace.keys": keys,                            # phi over the key grid: (B, d, Hk, Wk)
             "trace.logits": scores.reshape(b, *grid),      # before normalisation: (B, Hk, Wk)
             "trace.weights": weights.reshape(b, *grid),    # f(q, j): (B, Hk, Wk)
             "trace.attended": at_query(recs["z.input"].value, query_index),  # sum_j f(q, j) g_j: (B, rd)
             "trace.z": at_query(recs["z"].value, query_index),               # (B, C)
             "trace.normed": at_query(recs["norm"].value, query_index),       # (B, C)
             "trace.output": at_query(y, query_index)}                        # normed + x: (B, C)
    # Each step again from the one before it.
    phi, n_keys = keys.flatten(2), keys.shape[2] * keys.shape[3]
    if pairwise in ("embedded-gaussian", "gaussian"):
        check("nonlocal trace.logits", scores, scale * torch.einsum("bd,bdn->bn", theta, phi))
        check("nonlocal trace.weights = softmax(trace.logits)", weights, torch.softmax(scores, dim=-1))
        check("nonlocal trace.weights sum to one", weights.sum(-1), torch.ones_like(weights[:, 0]))
    else:
        if pairwise == "dot-product":
            want = torch.einsum("bd,bdn->bn", theta, phi)
        else:
            wt = m.concat_project.weight.view(-1)
            d = theta.shape[-1]
            want = F.relu((theta @ wt[:d])[:, None] + torch.einsum("d,bdn->bn", wt[d:], phi))
        check("nonlocal trace.logits", scores, want)
        check("nonlocal trace.weights = trace.logits / N'", weights, scores / n_keys)
    check("nonlocal trace.attended", trace["trace.attended"], torch.einsum("bn,brn->br", weights, g))
    check("nonlocal trace.z", trace["trace.z"], trace["trace.attended"] @ m.z.weight.flatten(1).T + m.z.bias)
    n = m.norm
    check("nonlocal trace.normed", trace["trace.normed"],
          (trace["trace.z"] - n.running_mean) / torch.sqrt(n.running_var + n.eps) * n.weight + n.bias)
    check("nonlocal trace.output = normed + input", trace["trace.output"],
          trace["trace.normed"] + trace["trace.input"])
    return trace


def mhsa_trace(m, x, y, qkv, proj_in, proj_out, query_index, attention):
    """The MHSA steps at the query pixel (MapRequest::trace), from qkv's output and proj's input
    and output (timm may run a fused attention kernel, so the weights are recomputed from q and k
    and checked against `attention`, the query's row of mhsa_attention: (B, heads, N))."""
    b, c, h, w = x.shape
    heads, dh = m.num_heads, m.dim_head
    q, k, v = qkv.value.reshape(b, 3, heads, dh, h, w).unbind(1)  # each (B, heads, dh, H, W)
    query = q.flatten(3)[..., query_index]                            # (B, heads, dh)
    scores = torch.einsum("bhd,bhdn->bhn", query, k.flatten(3)) * dh ** -0.5
    weights = torch.softmax(scores, dim=-1)
    trace = {"trace.query": query,
             "trace.keys": k,                                        # (B, heads, dh, H, W)
             "trace.values": v,                                      # (B, heads, dh, H, W)
             "trace.scores": scores.reshape(b, heads, h, w),
             "trace.weights": weights.reshape(b, heads, h, w),
             "trace.mixed": at_query(proj_in.value, query_index).reshape(b, heads, dh),  # proj's input
             "trace.output": at_query(proj_out.value, query_index)}                     # proj's output
    # Each step again from the one before it.
    check("mhsa trace.weights = attention row", weights, attention)
    check("mhsa trace.mixed", trace["trace.mixed"], torch.einsum("bhn,bhdn->bhd", weights, v.flatten(3)))
    check("mhsa trace.output", trace["trace.output"],
          trace["trace.mixed"].reshape(b, c) @ m.proj.weight.flatten(1).T + m.proj.bias)
    check("mhsa trace.output = y at the query", trace["trace.output"], at_query(y, query_index))
    return trace


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
        # The gates, and the steps (see cbam_run): fc1's inputs [mean, max] per channel, fc2's
        # outputs for both, the pooled maps, the spatial conv's output and BatchNorm's logits.
        c = m.channel.fc1.in_channels
        write_case(cases, name, "cbam", args, m, torch.randn(2, c, 9, 7), cbam_run(m))

    # --- Non-local: timm itself, then every pairwise function, scale and subsampling.
    c, rd, h, w = 16, 8, 7, 9
    query_index = QUERY[1] * w + QUERY[0]
    m = randomise(NonLocalAttn(c))
    # The steps at the query (see nonlocal_trace): the input there, the query vector, the keys, the
    # scores before the softmax, the weights, the attended values, z, norm and the output there.
    nl_recs = nonlocal_recorders(m)

    def run_timm_nonlocal(m, x):
        att = timm_nonlocal_attention(m, x)
        y = m(x)
        t, p = nl_recs["t"].value.flatten(2).transpose(1, 2), nl_recs["p"].value.flatten(2)
        scores = (t @ p * m.scale)[:, query_index]  # timm's bmm(t, p) * scale, the query's row
        trace = nonlocal_trace(m, x, y, nl_recs, query_index, "embedded-gaussian", m.scale, lambda v: v,
                               scores, att[:, query_index])
        return y, {"attention": att, "attention_row": attention_row(att, query_index, (h, w)), **trace}

    x_nl = torch.randn(2, c, h, w)
    write_case(cases, "nonlocal_timm", "nonlocal", [], m, x_nl, run_timm_nonlocal)
    # The hand-written reference must agree with timm where both apply.
    ref = NonLocalReference(c, rd, "embedded-gaussian", "input", False)
    ref.load_state_dict(m.state_dict())
    ref.eval()
    with torch.no_grad():
        assert torch.allclose(ref.double()(x_nl.double()), m.double()(x_nl.double()), atol=1e-12)

    def run_reference(m, x):
        recs = nonlocal_recorders(m)
        y = m(x)
        grid = (h // 2, w // 2) if m.subsample else (h, w)
        trace = nonlocal_trace(m, x, y, recs, query_index, m.pairwise, m.scale, m.keys,
                               m.scores[:, query_index], m.attention[:, query_index])
        return y, {"attention": m.attention, "attention_row": attention_row(m.attention, query_index, grid),
                   **trace}

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
            # The steps: conv_attn's logits (before the softmax), the context vector fc1 receives,
            # fc1's output, the activation's (ReLU of LayerNorm), then fc2's transform.
            mlp = m.mlp_scale if m.mlp_scale is not None else m.mlp_add
            steps = {"trace.logits": CallRecorder(m.conv_attn), "trace.context": CallRecorder(mlp.fc1, "input"),
                     "trace.hidden": CallRecorder(mlp.fc1), "trace.normed": CallRecorder(mlp.act),
                     "trace.transform": CallRecorder(mlp.fc2)}
            context = torch.softmax(m.conv_attn(x).reshape(b, -1), dim=-1).reshape(b, hh, ww)
            maps = {"context": context}
            if m.mlp_scale is not None:
                rec = GateRecorder(m.gate)
                y = m(x)
                maps["channel"] = rec.value.reshape(b, -1)
            else:
                y = m(x)
            for key, step in steps.items():
                maps[key] = step.value.reshape(b, hh, ww) if key == "trace.logits" else step.value.reshape(b, -1)
            # Each step again from the one before it.
            check("gc context = softmax(trace.logits)", context.reshape(b, -1),
                  torch.softmax(maps["trace.logits"].reshape(b, -1), dim=-1))
            check("gc trace.context", maps["trace.context"], torch.einsum("bcn,bn->bc", x.flatten(2), context.flatten(1)))
            check("gc trace.hidden", maps["trace.hidden"], maps["trace.context"] @ mlp.fc1.weight.flatten(1).T + mlp.fc1.bias)
            check("gc trace.normed", maps["trace.normed"], F.relu(F.layer_norm(
                maps["trace.hidden"], maps["trace.hidden"].shape[1:], mlp.norm.weight, mlp.norm.bias, mlp.norm.eps)))
            check("gc trace.transform", maps["trace.transform"],
                  maps["trace.normed"] @ mlp.fc2.weight.flatten(1).T + mlp.fc2.bias)
            if m.mlp_scale is not None:
                check("gc channel = sigmoid(trace.transform)", maps["channel"], torch.sigmoid(maps["trace.transform"]))
                check("gc y", y, x * maps["channel"][:, :, None, None])
            else:
                check("gc y = x + trace.transform", y, x + maps["trace.transform"][:, :, None, None])
            return y, maps

        write_case(cases, name, "gc", args, m, torch.randn(2, 24, 6, 7), run_gc)

    # --- Multi-head self-attention (timm Attention2d), 4 heads and 1 head.
    for name, c, heads in [("mhsa_heads4", 32, 4), ("mhsa_heads1", 16, 1)]:
        m = randomise(Attention2d(c, num_heads=heads))
        # The steps at the query (see mhsa_trace): its q per head, every k and v, the scaled
        # scores, their softmax, the weighted values proj receives, then proj's output there.
        qkv, proj_in, proj_out = CallRecorder(m.qkv), CallRecorder(m.proj, "input"), CallRecorder(m.proj)

        def run_mhsa(m, x):
            att = mhsa_attention(m, x)
            y = m(x)
            trace = mhsa_trace(m, x, y, qkv, proj_in, proj_out, query_index, att[:, :, query_index])
            return y, {"attention": att, "attention_row": attention_row(att, query_index, (h, w)), **trace}

        write_case(cases, name, "mhsa", ["--heads", str(heads)], m, torch.randn(2, c, h, w), run_mhsa)

    manifest = {"query": list(QUERY), "generator": "tools/make_golden.py", "torch": torch.__version__,
                "cases": cases}
    (FIXTURES / "cases.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {FIXTURES}")


if __name__ == "__main__":
    main()
