#!/usr/bin/env python3
"""Writes the whole-network golden cases under tests/fixtures/nets/: small, randomly initialised
variants of every CNN family the `net` command runs (timm ResNet / ResNeXt / SE / ECA / ... in the
ResNet `se` slot, timm EfficientNet and MobileNetV3, timm RegNetY, torchvision ResNet, MobileNetV3
and EfficientNet), each built by the library's own constructor with reduced widths and depths,
and what PyTorch computes for it.

Run by hand, never by CI, in the golden venv (torch, timm and torchvision pinned):

    python3 -m venv .venv-golden && .venv-golden/bin/pip install -r tools/requirements.txt
    .venv-golden/bin/python tools/make_golden_nets.py
    .venv-golden/bin/python tools/make_golden_nets.py --only lcnet_100 mnasnet_100 [--family-keys]
        (writes the named cases and keeps the others; --family-keys rewrites family_keys.json)

Every case is a folder tests/fixtures/nets/<case>/ with
  model.safetensors     the model's state_dict() under the library's own names: float32 tensors
                        (float16 where the case says "dtype": "F16"), num_batches_tracked int64;
  input.safetensors     `x`, float32 (2, 3, H, W), odd sizes through the stride-2 layers;
  expected.safetensors  `logits` (2, num_classes); for every attention block, in the order the
                        forward pass runs them, its maps under its module path:
                          <path>.channel   (N, C)     the channel gate (SE, ECA, CECA, ESE, CBAM's
                                                      channel gate, GC's scale gate);
                          <path>.spatial   (N, H, W)  CBAM's spatial gate;
                          <path>.context   (N, H, W)  GC's softmax context weights;
                          <path>.attention (N, HW, HW) Non-local's softmax attention matrix;
                        and `logits_off`: the logits with the blocks listed in the case's "off"
                        replaced by nn.Identity() (the first and the last attention block).
The seresnet50 case also holds the same weights as other checkpoints: model.pth (torch.save of
the state dict), model_nested.pth ({"state_dict": DataParallel's state dict, keys under `module.`,
"epoch": 3}) and model_bf16.safetensors (every float tensor rounded to bfloat16) with
expected_bf16.safetensors computed from those rounded weights.

tests/fixtures/nets/cases.json lists the cases: name, arch, family, input_size, num_classes,
blocks (path, kind, channels, grid, maps, gate), off, constructor (the Python call that built
the model), dtype and files.

The weights: every conv / linear weight N(0, 1/fan_in), biases N(0, 0.2), norm affines
U(0.5, 1.5) / N(0, 0.2). Then, on a calibration batch (x and two more images): the BatchNorm
running statistics are set to the batch's (activations keep a sane scale through the depth, as in a
trained network); each attention map's last linear layer is scaled so that its logits spread out
(RMS 1.5 into a gate, standard deviation 1 along a softmax), so that gates span most of (0, 1)
instead of sitting at 0.5 or saturating; the classifier is scaled to logits of RMS 2; the
statistics are measured again, then moved off (mean + 0.25 std N(0, 1), var x U(0.6, 1.6)) and the
scaling redone. Outputs are computed in float64 from exactly the stored (float32, float16 or
bfloat16-rounded) weights and stored as float32. Each case is then read back from its files into a
freshly built model (load_state_dict, strict) and checked against what was stored.
"""

import copy
import json
import sys
import math
import shutil
import zlib
from functools import partial
from types import SimpleNamespace
from pathlib import Path

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import load_file, save_file
from timm.layers.bottleneck_attn import BottleneckAttn
from timm.layers.cbam import CbamModule
from timm.layers.eca import CecaModule, EcaModule
from timm.layers.global_context import GlobalContext
from timm.layers.non_local_attn import NonLocalAttn
from timm.layers.selective_kernel import SelectiveKernel
from timm.layers.split_attn import SplitAttn
from timm.layers.squeeze_excite import EffectiveSEModule, SEModule
from timm.models import _efficientnet_blocks
from timm.models import efficientnet as timm_efficientnet_py
from timm.models import mobilenetv3 as timm_mobilenetv3_py
from torchvision.ops.misc import SqueezeExcitation as TvSqueezeExcitation

SEED = 20261121
NETS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "nets"
NUM_CLASSES = 7
BATCH = 2
# ResNets: 41 -> stem 21 -> maxpool 11 -> 6 -> 3 -> 2 and 37 -> 19 -> 10 -> 5 -> 3 -> 2, so the
# stride-2 convolutions and the ceil-mode average pools of ResNet-D see odd sizes in every stage.
RESNET_SIZE = (41, 37)
# The others: 44 -> 22 -> 11 -> 6 -> 3 -> 2 and 37 -> 19 -> 10 -> 5 -> 3 -> 2: even and odd sizes
# at the stride-2 layers, so TF "same" padding is asymmetric (one more at the bottom / right) at
# the even ones.
MOBILE_SIZE = (44, 37)
# BoTNet: its position embeddings fix the grid, so sizes whose stride-16 grid is exact.
BOTNET_SIZE = (64, 64)


# ----------------------------------------------------------------------------------------------
# Attention blocks: which modules they are, their kind, and how their maps are captured.

def attention_kind(module: nn.Module):
    """The kind of an attention block for cases.json, or None when the module is not one."""
    if isinstance(module, (SEModule, _efficientnet_blocks.SqueezeExcite, TvSqueezeExcitation)):
        return "se"
    if isinstance(module, CecaModule):
        return "ceca"
    if isinstance(module, EcaModule):
        return "eca"
    if isinstance(module, EffectiveSEModule):
        return "ese"
    if isinstance(module, CbamModule):
        return "cbam"
    if isinstance(module, GlobalContext):
        return "gc" if module.mlp_scale is not None else "gca"
    if isinstance(module, NonLocalAttn):
        return "nl"
    if isinstance(module, SelectiveKernel):
        return "sk"
    if isinstance(module, SplitAttn):
        return "splat"
    if isinstance(module, BottleneckAttn):
        return "bot"
    return None


def branch_count(module: nn.Module) -> int:
    """R, the branches a Selective Kernel or Split Attention weighs."""
    return module.num_paths if isinstance(module, SelectiveKernel) else module.radix


def gate_name(module: nn.Module) -> str:
    """The gate function of a block's channel map, for cases.json."""
    gate = getattr(module, "scale_activation", None) or getattr(module, "gate", None)
    if isinstance(module, CbamModule):
        gate = module.channel.gate
    if isinstance(module, GlobalContext) and module.mlp_scale is None:
        gate = None  # gca: the context is added (mlp_add), there is no gate
    if isinstance(module, (SelectiveKernel, SplitAttn)):
        return "softmax" if branch_count(module) > 1 else "sigmoid"
    if isinstance(module, BottleneckAttn):
        return "softmax"
    if gate is None:
        return "none"
    return {"Sigmoid": "sigmoid", "Hardsigmoid": "hard_sigmoid"}[type(gate).__name__]


def find_blocks(model: nn.Module):
    """(path, module) of every attention block, outermost only."""
    found = []
    for path, module in model.named_modules():
        if attention_kind(module) and not any(path.startswith(p + ".") for p, _ in found):
            found.append((path, module))
    return found


class MapRecorder:
    """Forward hooks that keep, for each attention block, exactly what its modules computed:
    the gate module's output (channel, spatial), GC's conv_attn output through the same softmax
    GC applies (context), Non-local's softmax(t^T p * scale) recomputed from the block's input
    with the block's own layers (attention). Also records the order the blocks ran in and the
    grid each one saw."""

    def __init__(self, blocks):
        self.maps = {}
        self.order = []
        self.grid = {}
        self.handles = []
        for path, m in blocks:
            self._on(m, partial(self._enter, path), pre=True)
            kind = attention_kind(m)
            if kind in ("se", "eca", "ceca", "ese", "gc"):
                gate = m.scale_activation if isinstance(m, TvSqueezeExcitation) else m.gate
                self._on(gate, partial(self._channel, path + ".channel"))
            if kind == "cbam":
                self._on(m.channel.gate, partial(self._channel, path + ".channel"))
                self._on(m.spatial.gate, partial(self._spatial, path + ".spatial"))
            if kind in ("gc", "gca"):
                self._on(m.conv_attn, partial(self._context, path + ".context"))
            if kind == "nl":
                self._on(m, partial(self._nonlocal, path + ".attention"))
            if kind == "bot":
                self._on(m, partial(self._bottleneck, path + ".attention"))
            # A branch attention's map: the weight (N, R, C) each channel gives each branch, as
            # SelectiveKernelAttn returns it (N, R, C, 1, 1) and as SplitAttn multiplies by it
            # (RadixSoftmax's (N, R * C) in radix-major order). Its grid is its branches'.
            if kind == "sk":
                self._on(m.attn, partial(self._branch, path + ".branch", branch_count(m)))
                self._on(m.attn, partial(self._grid, path), pre=True)
            if kind == "splat":
                self._on(m.rsoftmax, partial(self._branch, path + ".branch", branch_count(m)))
                self._on(m.conv, partial(self._grid_of_output, path))

    def _on(self, module, fn, pre=False):
        if pre:
            self.handles.append(module.register_forward_pre_hook(fn))
        else:
            self.handles.append(module.register_forward_hook(fn))

    def _enter(self, path, _module, inputs):
        self.order.append(path)
        self.grid[path] = list(inputs[0].shape[2:])

    def _channel(self, name, _module, _inputs, output):
        self.maps[name] = output.detach().reshape(output.shape[0], -1).clone()  # (N, C)

    def _branch(self, name, branches, _module, _inputs, output):
        self.maps[name] = output.detach().reshape(output.shape[0], branches, -1).clone()  # (N, R, C)

    def _grid(self, path, _module, inputs):
        self.grid[path] = list(inputs[0].shape[-2:])

    def _grid_of_output(self, path, _module, _inputs, output):
        self.grid[path] = list(output.shape[-2:])

    def _spatial(self, name, _module, _inputs, output):
        self.maps[name] = output.detach()[:, 0].clone()  # (N, 1, H, W) -> (N, H, W)

    def _context(self, name, _module, _inputs, output):
        b, _, h, w = output.shape
        # GlobalContext.forward: F.softmax(conv_attn(x).reshape(B, 1, H * W), dim=-1)
        self.maps[name] = F.softmax(output.detach().reshape(b, 1, h * w), dim=-1).reshape(b, h, w)

    def _nonlocal(self, name, m, inputs, _output):
        # NonLocalAttn.forward: F.softmax(torch.bmm(t, p) * self.scale, dim=2)
        self.maps[name] = F.softmax(nonlocal_logits(m, inputs[0].detach()), dim=2)  # (N, HW, HW)

    def _bottleneck(self, name, m, inputs, _output):
        # BottleneckAttn.forward: softmax((q @ k) * scale + pos_embed(q)), per head
        self.maps[name] = bottleneck_weights(m, inputs[0].detach())  # (N, heads, HW, HW)

    def remove(self):
        for h in self.handles:
            h.remove()


# ----------------------------------------------------------------------------------------------
# Random weights with non-trivial BatchNorm statistics.

NORMS = (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
# The spread each attention map's logits are scaled to on the calibration batch: the RMS of the
# gates' inputs (sigmoid and hard sigmoid then span most of (0, 1), few saturate), the standard
# deviation of the softmax logits along the softmax axis.
GATE_RMS = 1.5
SOFTMAX_STD = 1.0


def logit_sources(m: nn.Module):
    """For each map of an attention block: (the module to hook, 'in' or 'out' of it, or 'nl';
    the modules whose weight and bias scale that map's logits linearly; 'rms' or 'std')."""
    kind = attention_kind(m)
    if kind in ("se", "eca", "ceca", "ese"):
        gate = m.scale_activation if isinstance(m, TvSqueezeExcitation) else m.gate
        last = {SEModule: "fc2", _efficientnet_blocks.SqueezeExcite: "conv_expand", TvSqueezeExcitation: "fc2",
                EffectiveSEModule: "fc", EcaModule: "conv", CecaModule: "conv"}[type(m)]
        return [(gate, "in", [getattr(m, last)], "rms")]
    if kind == "cbam":  # fc2 sees the avg and the max path, their sum is linear in it
        return [(m.channel.gate, "in", [m.channel.fc2], "rms"),
                (m.spatial.gate, "in", [m.spatial.conv.bn], "rms")]
    if kind in ("gc", "gca"):
        sources = [(m.conv_attn, "out", [m.conv_attn], "std")]
        if m.mlp_scale is not None:
            sources.append((m.gate, "in", [m.mlp_scale.fc2], "rms"))
        return sources
    if kind == "nl":  # t^T p * scale, linear in t
        return [(m, "nl", [m.t], "std")]
    if kind in ("sk", "splat"):  # the logits of the softmax across branches (or of the sigmoid)
        last = m.attn.fc_select if kind == "sk" else m.fc2
        return [(last, "out", [last], "std" if branch_count(m) > 1 else "rms")]
    if kind == "bot":  # q.k scale + q.rel: linear in the queries, qkv's first dim_out_qk rows
        queries = SimpleNamespace(weight=m.qkv.weight.data[:m.dim_out_qk], bias=None)
        return [(m, "bot", [queries], "std")]
    raise ValueError(kind)


def bottleneck_qkv(m, x):
    """BottleneckAttn's q (B * heads, HW, dim_qk), k (B * heads, dim_qk, HW), v (B * heads, HW,
    dim_v), as its forward splits them."""
    b = x.shape[0]
    q, k, v = torch.split(m.qkv(x), [m.dim_out_qk, m.dim_out_qk, m.dim_out_v], dim=1)
    q = q.reshape(b * m.num_heads, m.dim_head_qk, -1).transpose(-1, -2)
    k = k.reshape(b * m.num_heads, m.dim_head_qk, -1)
    v = v.reshape(b * m.num_heads, m.dim_head_v, -1).transpose(-1, -2)
    return q, k, v


def bottleneck_logits(m, x):
    """BottleneckAttn's logits (N * heads, HW, HW) before the softmax, with its own pos_embed."""
    q, k, _ = bottleneck_qkv(m, x)
    if m.scale_pos_embed:
        return (q @ k + m.pos_embed(q)) * m.scale
    return (q @ k) * m.scale + m.pos_embed(q)


def bottleneck_weights(m, x):
    """BottleneckAttn's attention weights (N, heads, HW, HW)."""
    attn = bottleneck_logits(m, x)
    return attn.softmax(dim=-1).reshape(x.shape[0], m.num_heads, attn.shape[-2], attn.shape[-1])


def nonlocal_logits(m, x):
    b = x.shape[0]
    t = m.t(x).reshape(b, m.t.out_channels, -1).permute(0, 2, 1)
    p = m.p(x).reshape(b, m.p.out_channels, -1)
    return torch.bmm(t, p) * m.scale  # (N, HW queries, HW keys)


def scale_attention_logits(model: nn.Module, x_calibration: torch.Tensor):
    """Scales each attention map's last linear layer so its logits have the spread above on the
    calibration batch, one map after the other in the order the forward pass meets them (each
    scaling moves what the later ones see), and then the classifier so the logits' RMS is 2."""
    sources = [s for _, block in find_blocks(model) for s in logit_sources(block)]
    classifier = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    sources.append((classifier, "out", [classifier], "logits"))
    model.eval()
    for module, where, scaled, measure in sources:
        seen = []

        def hook(mod, inputs, output):
            z = {"in": lambda: inputs[0], "out": lambda: output,
                 "nl": lambda: nonlocal_logits(mod, inputs[0]),
                 "bot": lambda: bottleneck_logits(mod, inputs[0])}[where]()
            seen.append(z)

        handle = module.register_forward_hook(hook)
        with torch.no_grad():
            model(x_calibration)
        handle.remove()
        z = seen[0]
        if not z.abs().max() > 0:
            raise RuntimeError(f"{module}: logits all zero (a dead ReLU in front?), pick another seed or width")
        if measure == "rms":
            factor = GATE_RMS / z.pow(2).mean().sqrt().item()
        elif measure == "logits":
            factor = 2.0 / z.pow(2).mean().sqrt().item()
        else:  # along the softmax axis: all positions of a context map, the keys of a row
            z = z.flatten(1) if where == "out" else z
            factor = SOFTMAX_STD / z.std(dim=-1).mean().item()
        with torch.no_grad():
            for layer in scaled:
                layer.weight.mul_(factor)
                if layer.bias is not None:
                    layer.bias.mul_(factor)


def calibrate_batchnorm(model: nn.Module, x_calibration: torch.Tensor):
    """Sets every BatchNorm's running statistics to those of the calibration batch."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: after one batch, that batch's statistics
    model.train()
    with torch.no_grad():
        model(x_calibration)
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum
    model.eval()


def randomise(model: nn.Module, x_calibration: torch.Tensor) -> nn.Module:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, NORMS):
                if m.weight is not None:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0.0, 0.2)
            elif isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                m.weight.normal_(0.0, 1.0 / math.sqrt(m.weight[0].numel()))
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.2)
    # Activations at a sane scale through the depth: BatchNorm statistics measured, attention maps
    # spread out, and the statistics measured again behind the scaled blocks.
    calibrate_batchnorm(model, x_calibration)
    scale_attention_logits(model, x_calibration)
    calibrate_batchnorm(model, x_calibration)
    # Then the statistics away from the calibration batch's own, which moves the pooled means the
    # gates see, so the maps are spread out again.
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            std = bn.running_var.sqrt()
            bn.running_mean.add_(0.25 * std * torch.randn_like(std))
            bn.running_var.mul_(torch.empty_like(std).uniform_(0.6, 1.6))
            bn.num_batches_tracked.fill_(17)
    scale_attention_logits(model, x_calibration)
    return model.eval()


def round_weights(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Rounds every floating parameter and buffer to `dtype` (kept in the model's own dtype)."""
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.to(dtype))
    return model


# ----------------------------------------------------------------------------------------------
# The families. Each returns (model, constructor string); the model is float32, not yet random.

def timm_resnet(arch, attn_layer=None, **small):
    """A timm ResNet entrypoint (resnet.py) with smaller layers / channels / stem_width / cardinality;
    attn_layer puts that attention module into every block's `se` slot (block_args)."""
    kwargs = dict(pretrained=False, num_classes=NUM_CLASSES, **small)
    if attn_layer:
        kwargs["block_args"] = dict(attn_layer=attn_layer)
    model = timm.create_model(arch, **kwargs)
    return model, f"timm.create_model({arch!r}, {format_kwargs(kwargs)})"


def timm_create(arch, **small):
    """A timm entrypoint with smaller constructor arguments (the model class's own)."""
    kwargs = dict(pretrained=False, num_classes=NUM_CLASSES, **small)
    model = timm.create_model(arch, **kwargs)
    return model, f"timm.create_model({arch!r}, {format_kwargs(kwargs)})"


def timm_ghostnet(width, head):
    """timm's GhostNet v1 generator at a smaller width; its head (conv_head 1280 wide whatever the
    width) is replaced by one `head` wide, of the same kinds (1x1 with bias, then the classifier)."""
    from timm.models import ghostnet as timm_ghostnet_py
    model = timm_ghostnet_py._create_ghostnet("ghostnet_100", width=width, pretrained=False, num_classes=NUM_CLASSES)
    model.conv_head = nn.Conv2d(model.conv_head.in_channels, head, 1, 1, 0, bias=True)
    model.classifier = nn.Linear(head, NUM_CLASSES)
    return model, (f"timm.models.ghostnet._create_ghostnet('ghostnet_100', width={width}, num_classes={NUM_CLASSES}) "
                   f"with conv_head and classifier {head} wide")


def timm_efficientnet(arch, channel_multiplier, depth_multiplier):
    """timm's EfficientNet generator, as the entrypoint calls it (tf_ variants: BatchNorm eps 1e-3
    and TF 'same' padding), with smaller channel / depth multipliers."""
    kwargs = dict(channel_multiplier=channel_multiplier, depth_multiplier=depth_multiplier,
                  pretrained=False, num_classes=NUM_CLASSES)
    if arch.startswith("tf_"):
        kwargs.update(bn_eps=timm_efficientnet_py.BN_EPS_TF_DEFAULT, pad_type="same")
    model = timm_efficientnet_py._gen_efficientnet(arch, **kwargs)
    return model, f"timm.models.efficientnet._gen_efficientnet({arch!r}, {format_kwargs(kwargs)})"


def mnv3_with_head(generator, arch, num_features, kwargs):
    """timm's mobilenetv3.py `generator` called as its entrypoint calls it, with `num_features`
    set on its way into _create_mnv3: the generators fix the head's width (1280, 1024) whatever
    the multiplier, and that is the one thing that differs from the generator's own call."""
    create = timm_mobilenetv3_py._create_mnv3

    def create_with_head(variant, pretrained=False, **model_kwargs):
        model_kwargs["num_features"] = num_features
        return create(variant, pretrained, **model_kwargs)

    timm_mobilenetv3_py._create_mnv3 = create_with_head
    try:
        model = getattr(timm_mobilenetv3_py, generator)(arch, **kwargs)
    finally:
        timm_mobilenetv3_py._create_mnv3 = create
    return model, (f"timm.models.mobilenetv3.{generator}({arch!r}, {format_kwargs(kwargs)}) "
                   f"with num_features={num_features} passed to _create_mnv3")


def timm_mobilenetv3(arch, channel_multiplier, depth_multiplier, num_features, num_classes=NUM_CLASSES, **extra):
    """timm's MobileNetV3 generator with smaller multipliers and head width. `extra` goes to the
    generator (tools/make_golden_hub.py rebuilds a config.json's model_args through it)."""
    kwargs = dict(channel_multiplier=channel_multiplier, depth_multiplier=depth_multiplier,
                  pretrained=False, num_classes=num_classes, **extra)
    return mnv3_with_head("_gen_mobilenet_v3", arch, num_features, kwargs)


def timm_lcnet(arch, channel_multiplier, num_features):
    """timm's PP-LCNet generator (mobilenetv3.py _gen_lcnet) with a smaller multiplier and head. It
    has no depth multiplier: its 13 blocks are all kept."""
    kwargs = dict(channel_multiplier=channel_multiplier, pretrained=False, num_classes=NUM_CLASSES)
    return mnv3_with_head("_gen_lcnet", arch, num_features, kwargs)


def timm_effnet_generator(generator, arch, channel_multiplier, **extra):
    """One of timm's efficientnet.py generators (_gen_mnasnet_a1 for semnasnet_*, _gen_mnasnet_b1
    for mnasnet_*, _gen_mixnet_s, ...) with a smaller multiplier; `extra` goes to EfficientNet
    (num_features, where the generator does not fix it itself)."""
    kwargs = dict(channel_multiplier=channel_multiplier, **extra, pretrained=False, num_classes=NUM_CLASSES)
    model = getattr(timm_efficientnet_py, generator)(arch, **kwargs)
    return model, f"timm.models.efficientnet.{generator}({arch!r}, {format_kwargs(kwargs)})"


def timm_byobnet(arch, widths, group_size, depths=(1, 1, 1, 1), types=None, br=0.25, strides=(1, 2, 2, 2), **cfg):
    """A timm ByobNet entrypoint (byobnet.py, byoanet.py) with its stages overlaid by narrower and
    shallower ones (ByobNet lays keyword arguments over its ByoModelCfg); `types` gives each
    stage's block types (default: bottlenecks)."""
    from timm.models.byobnet import ByoBlockCfg
    types = types or [("bottle",) * d for d in depths]
    blocks = tuple(tuple(ByoBlockCfg(type=t, d=1, c=c, s=s, gs=group_size, br=br) for t in ts)
                   for ts, c, s in zip(types, widths, strides))
    kwargs = dict(pretrained=False, num_classes=NUM_CLASSES, blocks=blocks, **cfg)
    model = timm.create_model(arch, **kwargs)
    shown = dict(pretrained=False, num_classes=NUM_CLASSES, **cfg)
    return model, (f"timm.create_model({arch!r}, {format_kwargs(shown)}, blocks=<stages of {types}: "
                   f"widths {widths}, group size {group_size}, strides {strides}, br {br}>)")


def timm_regnet(arch, **cfg):
    """A timm RegNet entrypoint; extra kwargs overlay its RegNetCfg (w0, wa, wm, depth, ...)."""
    kwargs = dict(pretrained=False, num_classes=NUM_CLASSES, **cfg)
    model = timm.create_model(arch, **kwargs)
    return model, f"timm.create_model({arch!r}, {format_kwargs(kwargs)})"


def torchvision_resnet18(width):
    """torchvision's resnet18 at 1/(64/width) width: the constructor hard-codes 64..512 channels,
    so the stem, the four stages (torchvision's own _make_layer, BasicBlock, [2, 2, 2, 2]) and fc
    are rebuilt narrower; the names and topology are resnet18's."""
    from torchvision.models.resnet import BasicBlock
    model = torchvision.models.resnet18(weights=None, num_classes=NUM_CLASSES)
    model.inplanes = width
    model.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    model.bn1 = nn.BatchNorm2d(width)
    model.layer1 = model._make_layer(BasicBlock, width, 2)
    model.layer2 = model._make_layer(BasicBlock, width * 2, 2, stride=2)
    model.layer3 = model._make_layer(BasicBlock, width * 4, 2, stride=2)
    model.layer4 = model._make_layer(BasicBlock, width * 8, 2, stride=2)
    model.fc = nn.Linear(width * 8, NUM_CLASSES)
    return model, (f"torchvision.models.resnet18(num_classes={NUM_CLASSES}) with inplanes={width}, "
                   f"conv1/bn1 at {width} channels, layer1..4 = _make_layer(BasicBlock, "
                   f"{width}/{2 * width}/{4 * width}/{8 * width}, 2), fc = Linear({8 * width}, {NUM_CLASSES})")


def torchvision_mobilenet_v3_small(width_mult):
    model = torchvision.models.mobilenet_v3_small(weights=None, num_classes=NUM_CLASSES, width_mult=width_mult)
    return model, (f"torchvision.models.mobilenet_v3_small(num_classes={NUM_CLASSES}, "
                   f"width_mult={width_mult})")


def torchvision_efficientnet_b0(width_mult, depth_mult):
    """efficientnet_b0 passes width_mult=1.0, depth_mult=1.0 to _efficientnet_conf itself, so the
    same two calls are made with smaller multipliers."""
    from torchvision.models.efficientnet import _efficientnet, _efficientnet_conf
    setting, last_channel = _efficientnet_conf("efficientnet_b0", width_mult=width_mult, depth_mult=depth_mult)
    model = _efficientnet(setting, 0.2, last_channel, None, True, num_classes=NUM_CLASSES)
    return model, (f"torchvision.models.efficientnet._efficientnet(*_efficientnet_conf('efficientnet_b0', "
                   f"width_mult={width_mult}, depth_mult={depth_mult}), dropout=0.2, "
                   f"num_classes={NUM_CLASSES})")


def format_kwargs(kwargs):
    def fmt(v):
        return v.__name__ if isinstance(v, type) else repr(v)
    return ", ".join(f"{k}={fmt(v)}" for k, v in kwargs.items())


# name, arch, family, builder, input size (H, W), extra fields for cases.json
CASES = [
    # --- timm ResNet family (timm/models/resnet.py)
    ("resnet18", "resnet18", "timm.resnet",
     lambda: timm_resnet("resnet18", channels=(4, 8, 16, 32)), RESNET_SIZE, {}),
    ("resnet50", "resnet50", "timm.resnet",
     lambda: timm_resnet("resnet50", layers=(1, 1, 1, 1), channels=(4, 8, 16, 32)), RESNET_SIZE, {}),
    ("seresnet50", "seresnet50", "timm.resnet",
     lambda: timm_resnet("seresnet50", layers=(1, 2, 1, 1), channels=(4, 8, 16, 32)), RESNET_SIZE, {}),
    ("seresnext26d_32x4d", "seresnext26d_32x4d", "timm.resnet",
     lambda: timm_resnet("seresnext26d_32x4d", layers=(1, 1, 2, 1), channels=(4, 8, 16, 32),
                         cardinality=4, base_width=32, stem_width=8), RESNET_SIZE, {}),
    ("ecaresnet50d", "ecaresnet50d", "timm.resnet",
     lambda: timm_resnet("ecaresnet50d", layers=(1, 1, 1, 2), channels=(4, 8, 16, 32), stem_width=8),
     RESNET_SIZE, {}),
    ("ecaresnet26t", "ecaresnet26t", "timm.resnet",
     lambda: timm_resnet("ecaresnet26t", layers=(1, 1, 1, 1), channels=(4, 8, 16, 32), stem_width=8),
     RESNET_SIZE, {}),
    ("resnet50_ceca", "resnet50", "timm.resnet",
     lambda: timm_resnet("resnet50", "ceca", layers=(1, 1, 1, 1), channels=(4, 8, 16, 32)),
     RESNET_SIZE, {"attn_layer": "ceca"}),
    ("resnet18_ese", "resnet18", "timm.resnet",
     lambda: timm_resnet("resnet18", "ese", layers=(1, 1, 1, 1), channels=(4, 8, 16, 32)),
     RESNET_SIZE, {"attn_layer": "ese"}),
    ("resnet50d_cbam", "resnet50d", "timm.resnet",
     lambda: timm_resnet("resnet50d", "cbam", layers=(1, 1, 1, 1), channels=(6, 12, 24, 48), stem_width=8),
     RESNET_SIZE, {"attn_layer": "cbam"}),
    ("resnet50_gc", "resnet50", "timm.resnet",
     lambda: timm_resnet("resnet50", "gc", layers=(1, 1, 1, 1), channels=(4, 8, 16, 32)),
     RESNET_SIZE, {"attn_layer": "gc"}),
    ("resnet26t_gca", "resnet26t", "timm.resnet",
     lambda: timm_resnet("resnet26t", "gca", layers=(1, 1, 1, 1), channels=(4, 8, 16, 32), stem_width=8),
     RESNET_SIZE, {"attn_layer": "gca"}),
    ("resnet50_nl", "resnet50", "timm.resnet",
     lambda: timm_resnet("resnet50", "nl", layers=(1, 1, 1, 1), channels=(4, 8, 16, 32)),
     RESNET_SIZE, {"attn_layer": "nl"}),
    # --- timm SKNet (sknet.py): Selective Kernel paths (3x3 dilated 1 and 2) over split inputs in
    # BasicBlocks, and over the whole input in groups in Bottlenecks (skresnext50_32x4d)
    ("skresnet18", "skresnet18", "timm.sknet",
     lambda: timm_create("skresnet18", layers=(1, 1, 1, 1), channels=(8, 16, 32, 64)), RESNET_SIZE, {}),
    ("skresnext50_32x4d", "skresnext50_32x4d", "timm.sknet",
     lambda: timm_create("skresnext50_32x4d", layers=(1, 1, 1, 1), channels=(4, 8, 16, 32),
                         cardinality=4, base_width=64), RESNET_SIZE, {}),
    # --- timm ResNeSt (resnest.py): Split Attention of radix 2 (the 3x3's stride taken by an average
    # pool after it), and of radix 4 in 2 groups with the pool before it (resnest50d_4s2x40d)
    ("resnest14d", "resnest14d", "timm.resnest",
     lambda: timm_create("resnest14d", channels=(4, 8, 16, 32), stem_width=8), RESNET_SIZE, {}),
    ("resnest50d_4s2x40d", "resnest50d_4s2x40d", "timm.resnest",
     lambda: timm_create("resnest50d_4s2x40d", layers=(1, 1, 1, 1), channels=(4, 8, 16, 32),
                         stem_width=8, base_width=64), RESNET_SIZE, {}),
    # --- timm ByobNet (byobnet.py): tiered stems, SiLU, the attention between the 3x3 and the last
    # 1x1; with a max-pooled stem and groups (gcresnext26ts, eca_resnext26ts), and a strided stem
    # with a final 1x1 (seresnet33ts)
    ("gcresnext26ts", "gcresnext26ts", "timm.byobnet",
     lambda: timm_byobnet("gcresnext26ts", (32, 64, 64, 128), 4, (1, 1, 2, 1), stem_chs=16), RESNET_SIZE, {}),
    ("eca_resnext26ts", "eca_resnext26ts", "timm.byobnet",
     lambda: timm_byobnet("eca_resnext26ts", (32, 32, 64, 64), 8, stem_chs=16), RESNET_SIZE, {}),
    ("seresnet33ts", "seresnet33ts", "timm.byobnet",
     lambda: timm_byobnet("seresnet33ts", (32, 32, 64, 64), 0, (1, 2, 1, 1), stem_chs=16, num_features=48),
     RESNET_SIZE, {}),
    # RegNetZ: bottleneck widths from the block's input (bottle_in), no activation after the sum
    # (linear_out), no shortcut where a block changes the shape, SE; a single 3x3 stem and every
    # stage strided (regnetz_b16), a tiered stem and a first stage at stride 1 (regnetz_d8)
    ("regnetz_b16", "regnetz_b16", "timm.byobnet",
     lambda: timm_byobnet("regnetz_b16", (16, 24, 32, 48), 8, (1, 2, 1, 1), br=3, strides=(2, 2, 2, 2),
                          stem_chs=16, num_features=64), RESNET_SIZE, {}),
    ("regnetz_d8", "regnetz_d8", "timm.byobnet",
     lambda: timm_byobnet("regnetz_d8", (16, 24, 32, 48), 8, (2, 1, 1, 1), br=4, stem_chs=16, num_features=64),
     RESNET_SIZE, {}),
    # --- timm BoTNet (byoanet.py): BottleneckAttn self-attention blocks (4 heads, relative position
    # logits, an average pool after the stride-2 one) in the last two stages; its position
    # embedding fixes the input size (64 x 64: stage 3 sees 4 x 4, even for the pool)
    ("botnet26t_256", "botnet26t_256", "timm.byoanet",
     lambda: timm_byobnet("botnet26t_256", (32, 32, 64, 64), 0,
                          types=[("bottle",), ("bottle",), ("bottle", "self_attn"), ("self_attn",)],
                          stem_chs=16, img_size=BOTNET_SIZE), BOTNET_SIZE, {}),
    ("eca_botnext26ts_256", "eca_botnext26ts_256", "timm.byoanet",
     lambda: timm_byobnet("eca_botnext26ts_256", (32, 32, 64, 64), 8,
                          types=[("bottle",), ("bottle",), ("bottle", "self_attn"), ("self_attn",)],
                          stem_chs=16, img_size=BOTNET_SIZE, self_attn_kwargs=dict(dim_head=8)), BOTNET_SIZE, {}),
    # --- timm EfficientNet / MobileNetV3 (timm/models/efficientnet.py, mobilenetv3.py)
    ("efficientnet_b0", "efficientnet_b0", "timm.efficientnet",
     lambda: timm_efficientnet("efficientnet_b0", 0.125, 0.5), MOBILE_SIZE, {}),
    ("tf_efficientnet_b0", "tf_efficientnet_b0", "timm.efficientnet",
     lambda: timm_efficientnet("tf_efficientnet_b0", 0.125, 0.25), MOBILE_SIZE, {}),
    ("mobilenetv3_large_100", "mobilenetv3_large_100", "timm.mobilenetv3",
     lambda: timm_mobilenetv3("mobilenetv3_large_100", 0.125, 0.5, 64), MOBILE_SIZE, {}),
    ("mobilenetv3_small_100", "mobilenetv3_small_100", "timm.mobilenetv3",
     lambda: timm_mobilenetv3("mobilenetv3_small_100", 0.125, 0.5, 64), MOBILE_SIZE, {}),
    # --- the other networks of those generators: PP-LCNet (dsa blocks, no skips; its SE only in
    # the last stage), SE-MNASNet and MNASNet (ReLU, EfficientNet's head)
    ("lcnet_100", "lcnet_100", "timm.mobilenetv3",
     lambda: timm_lcnet("lcnet_100", 0.25, 64), MOBILE_SIZE, {}),
    ("semnasnet_100", "semnasnet_100", "timm.efficientnet",
     lambda: timm_effnet_generator("_gen_mnasnet_a1", "semnasnet_100", 0.125, num_features=64), MOBILE_SIZE, {}),
    # MixNet-S: mixed depthwise kernels (3/5/7/9/11) and grouped 1x1s of two groups (MixedConv2d)
    ("mixnet_s", "mixnet_s", "timm.efficientnet",
     lambda: timm_effnet_generator("_gen_mixnet_s", "mixnet_s", 0.25), MOBILE_SIZE, {}),
    ("mnasnet_100", "mnasnet_100", "timm.efficientnet",
     lambda: timm_effnet_generator("_gen_mnasnet_b1", "mnasnet_100", 0.125, num_features=64), MOBILE_SIZE, {}),
    # --- timm ReXNet (timm/models/rexnet.py): SE with a BatchNorm, ReLU6 after it, the input added
    # to the first channels of a block that widens; full depth (the strides are depth 1's)
    ("rexnet_100", "rexnet_100", "timm.rexnet",
     lambda: timm_create("rexnet_100", width_mult=0.25, final_chs=40), MOBILE_SIZE, {}),
    # --- timm GhostNet v1 (timm/models/ghostnet.py): ghost modules (a primary 1x1 and cheap depthwise
    # features joined), SE with hard-sigmoid, depthwise shortcuts
    ("ghostnet_100", "ghostnet_100", "timm.ghostnet",
     lambda: timm_ghostnet(0.125, 64), MOBILE_SIZE, {}),
    # --- timm RegNetY (timm/models/regnet.py)
    ("regnety_002", "regnety_002", "timm.regnet",
     lambda: timm_regnet("regnety_002", w0=16, wa=16, wm=1.5, depth=5, group_size=8, stem_width=16),
     MOBILE_SIZE, {}),
    # --- torchvision
    ("torchvision_resnet18", "torchvision.resnet18", "torchvision.resnet",
     lambda: torchvision_resnet18(4), RESNET_SIZE, {}),
    ("torchvision_mobilenet_v3_small", "torchvision.mobilenet_v3_small", "torchvision.mobilenetv3",
     lambda: torchvision_mobilenet_v3_small(0.125), MOBILE_SIZE, {}),
    ("torchvision_efficientnet_b0", "torchvision.efficientnet_b0", "torchvision.efficientnet",
     lambda: torchvision_efficientnet_b0(0.125, 0.5), MOBILE_SIZE, {}),
]

# Cases whose weights would be over about 1 MB as float32 are stored as float16 (and computed
# from the float16-rounded weights).
F16_ABOVE_BYTES = 1_000_000


# ----------------------------------------------------------------------------------------------

class UniformBranches(nn.Module):
    """A branch attention switched off: every branch weighed 1 / R, in the shape the layer's own
    attention gives (SelectiveKernelAttn's (N, R, C, 1, 1), RadixSoftmax's (N, R * C))."""

    def __init__(self, branches, shape_of):
        super().__init__()
        self.branches = branches
        self.shape_of = shape_of

    def forward(self, x):
        return torch.full(self.shape_of(x), 1.0 / self.branches, dtype=x.dtype)


class UniformAttention(nn.Module):
    """BoTNet's BottleneckAttn switched off: every position weighs every position 1 / HW, so each
    gets the mean of the values over the grid; then the block's own pool."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        b, _, h, w = x.shape
        _, _, v = bottleneck_qkv(self.m, x)  # (B * heads, HW, dim_v)
        out = v.mean(dim=1, keepdim=True).expand(-1, h * w, -1)
        return self.m.pool(out.transpose(-1, -2).reshape(b, self.m.dim_out_v, h, w))


def switch_off(model, path):
    """The block at `path` off: nn.Identity() for an add-on block; for a Selective Kernel or a
    Split Attention (they replace a convolution) its attention weighs the branches uniformly, and
    BoTNet's self-attention every position alike."""
    module = model.get_submodule(path)
    if isinstance(module, BottleneckAttn):
        parent, _, leaf = path.rpartition(".")
        setattr(model.get_submodule(parent), leaf, UniformAttention(module))
    elif isinstance(module, SelectiveKernel):
        module.attn = UniformBranches(module.num_paths, lambda x: (x.shape[0], x.shape[1], x.shape[2], 1, 1))
    elif isinstance(module, SplitAttn):
        module.rsoftmax = UniformBranches(module.radix, lambda x: (x.shape[0], x.shape[1]))
    else:
        parent, _, leaf = path.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, leaf, nn.Identity())


def run(model, x, blocks, off=()):
    """Logits and maps in float64; `off` blocks switched off (then no maps; `switch_off`)."""
    if off:
        model = copy.deepcopy(model)
        for path in off:
            switch_off(model, path)
        with torch.no_grad():
            return model(x), None
    recorder = MapRecorder(blocks)
    with torch.no_grad():
        logits = model(x)
    recorder.remove()
    return logits, recorder


def f32(tensors):
    return {k: v.detach().float().contiguous() for k, v in tensors.items()}


def state_dict_as(model, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
            for k, v in model.state_dict().items()}


def check_maps(name, maps):
    """Fails when a map is trivial: gates all ~0.5 or all saturated, uniform softmaxes."""
    for key, v in maps.items():
        v = v.double()
        if key.endswith(".channel") or key.endswith(".spatial") or key.endswith(".branch"):
            inside = ((v > 0.02) & (v < 0.98)).double().mean().item()
            spread = v.std().item()
            ok = inside > 0.5 and spread > 0.05
            stat = f"in (0.02, 0.98): {inside:.2f}, std {spread:.3f}, range [{v.min():.3f}, {v.max():.3f}]"
        else:  # context (N, H, W) or attention (N, HW, HW): softmax over the last one / two axes
            flat = v.reshape(v.shape[0], -1) if key.endswith(".context") else v.reshape(-1, v.shape[-1])
            n = flat.shape[-1]
            ratio = (flat.max(-1).values / flat.min(-1).values).median().item()
            peak = flat.max(-1).values.median().item()
            ok = n == 1 or (ratio > 1.5 and peak < 0.9)
            stat = f"max/min median {ratio:.2f}, peak median {peak:.3f}, over {n}"
        assert ok, f"{name}: {key} is trivial ({stat})"
        print(f"    {key:40s} {stat}")


def write_case(name, arch, family, build, size, extra):
    torch.manual_seed(SEED + zlib.crc32(name.encode()))
    model, constructor = build()
    h, w = size
    x = torch.randn(BATCH, 3, h, w)
    # The calibration batch holds x itself: the maps must be spread out on the fixture's own input.
    randomise(model, torch.cat([x, torch.randn(2, 3, h, w)]))
    float_bytes = sum(t.numel() * 4 for t in model.state_dict().values() if t.is_floating_point())
    dtype = torch.float16 if float_bytes > F16_ABOVE_BYTES else torch.float32
    if dtype != torch.float32:
        round_weights(model, dtype)
    model = model.double().eval()
    xd = x.double()
    blocks = find_blocks(model)
    logits, rec = run(model, xd, blocks)
    assert sorted(rec.order) == sorted(p for p, _ in blocks) and len(rec.order) == len(blocks), \
        f"{name}: every attention block must run exactly once"
    off = [rec.order[0], rec.order[-1]] if len(rec.order) > 1 else list(rec.order)
    logits_off, _ = run(model, xd, blocks, off)

    folder = NETS / name
    folder.mkdir(parents=True)
    save_file(state_dict_as(model, dtype), str(folder / "model.safetensors"))
    save_file({"x": x.contiguous()}, str(folder / "input.safetensors"))
    expected = {"logits": logits, **{k: rec.maps[k] for k in sorted(rec.maps, key=map_order(rec.order))},
                "logits_off": logits_off}
    save_file(f32(expected), str(folder / "expected.safetensors"))
    print(f"  {name}: {len(blocks)} blocks, logits {logits[0, :3].tolist()}..., "
          f"off changes them by {(logits - logits_off).abs().max().item():.3f}")
    check_maps(name, rec.maps)
    by_path = dict(blocks)
    entry = {
        "name": name, "arch": arch, "family": family, **extra,
        "input_size": [h, w], "num_classes": NUM_CLASSES,
        "dtype": "F16" if dtype == torch.float16 else "F32",
        "blocks": [{"path": p, "kind": attention_kind(by_path[p]),
                    "channels": block_channels(by_path[p], rec, p), "grid": rec.grid[p],
                    "gate": gate_name(by_path[p]),
                    "maps": [k for k in sorted(rec.maps, key=map_order(rec.order)) if k.startswith(p + ".")]}
                   for p in rec.order],
        "off": off, "constructor": constructor,
    }
    if name == "seresnet50":
        entry["checkpoints"] = write_checkpoints(folder, model, xd, off)
    entry["files"] = sorted(f.name for f in folder.iterdir())
    verify(entry, build)
    return entry


def verify(entry, build):
    """Reads the case back from disk into a freshly built model (load_state_dict strict, so the
    files hold every key and nothing else) and checks that it gives the stored outputs."""
    folder = NETS / entry["name"]
    x = load_file(str(folder / "input.safetensors"))["x"].double()
    checkpoints = {"model.safetensors": ("expected.safetensors", load_file(str(folder / "model.safetensors")))}
    if "checkpoints" in entry:
        nested = torch.load(folder / "model_nested.pth", weights_only=True)
        assert nested["epoch"] == 3
        checkpoints.update({
            "model.pth": ("expected.safetensors", torch.load(folder / "model.pth", weights_only=True)),
            "model_nested.pth": ("expected.safetensors",
                                 {k.removeprefix("module."): v for k, v in nested["state_dict"].items()}),
            "model_bf16.safetensors": ("expected_bf16.safetensors",
                                       load_file(str(folder / "model_bf16.safetensors"))),
        })
    for file, (expected_file, state) in checkpoints.items():
        model, _ = build()
        model.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
        model = model.double().eval()
        blocks = find_blocks(model)
        logits, rec = run(model, x, blocks)
        logits_off, _ = run(model, x, blocks, entry["off"])
        expected = load_file(str(folder / expected_file))
        got = f32({"logits": logits, **rec.maps, "logits_off": logits_off})
        assert sorted(got) == sorted(expected), f"{entry['name']}/{file}: {sorted(got)} != {sorted(expected)}"
        for k, v in got.items():
            assert torch.allclose(v, expected[k], rtol=1e-6, atol=1e-7), f"{entry['name']}/{file}: {k} differs"


def map_order(order):
    rank = {p: i for i, p in enumerate(order)}
    kinds = ["channel", "spatial", "context", "attention", "branch"]
    return lambda k: (rank[k.rsplit(".", 1)[0]], kinds.index(k.rsplit(".", 1)[1]))


def block_channels(module, rec, path):
    """C, the channels of the block's input (ECA / CECA have no weight that says it)."""
    return {
        SEModule: lambda m: m.fc1.in_channels,
        _efficientnet_blocks.SqueezeExcite: lambda m: m.conv_reduce.in_channels,
        TvSqueezeExcitation: lambda m: m.fc1.in_channels,
        EffectiveSEModule: lambda m: m.fc.in_channels,
        CbamModule: lambda m: m.channel.fc1.in_channels,
        GlobalContext: lambda m: m.conv_attn.in_channels,
        NonLocalAttn: lambda m: m.t.in_channels,
        SelectiveKernel: lambda m: m.num_paths * m.out_channels,  # its attention's input, the branches
        SplitAttn: lambda m: m.conv.out_channels,
        BottleneckAttn: lambda m: m.qkv.in_channels,
    }.get(type(module), lambda m: rec.maps[path + ".channel"].shape[1])(module)


def write_checkpoints(folder, model, xd, off):
    """The seresnet50 weights as other checkpoint forms (see the docstring)."""
    model32 = copy.deepcopy(model).float()
    torch.save(model32.state_dict(), folder / "model.pth")
    nested = nn.DataParallel(model32).state_dict()  # keys under `module.`, as a DataParallel run saves
    torch.save({"state_dict": nested, "epoch": 3}, folder / "model_nested.pth")
    bf16 = round_weights(copy.deepcopy(model), torch.bfloat16)
    save_file(state_dict_as(bf16, torch.bfloat16), str(folder / "model_bf16.safetensors"))
    blocks = find_blocks(bf16)
    logits, rec = run(bf16, xd, blocks)
    logits_off, _ = run(bf16, xd, blocks, off)
    save_file(f32({"logits": logits, **rec.maps, "logits_off": logits_off}),
              str(folder / "expected_bf16.safetensors"))
    return {"model.pth": "torch.save(model.state_dict()) (zip + pickle), float32",
            "model_nested.pth": "torch.save({'state_dict': nn.DataParallel(model).state_dict(), 'epoch': 3}): "
                                "the same float32 tensors, keys under `module.`",
            "model_bf16.safetensors": "every float tensor rounded to bfloat16 (num_batches_tracked int64)",
            "expected_bf16.safetensors": "logits, maps and logits_off computed from the bfloat16-rounded weights"}


def write_real_sized_shapes():
    """The keys and shapes of timm's real-sized networks that src/net/random.rs writes with seeded
    weights for the benchmarks (tests/net.rs checks them against this file)."""
    shapes = {}
    for arch in ["seresnet50", "mobilenetv3_large_100"]:
        model = timm.create_model(arch)
        shapes[arch] = {k: list(v.shape) for k, v in model.state_dict().items() if "num_batches" not in k}
    (NETS / "real_sized_shapes.json").write_text(json.dumps(shapes, separators=(",", ":")))


# timm networks the engine does not run (or runs only by name): their state-dict keys, for
# tests/net.rs to check that a refusal names what the checkpoint is (issue 30).
FAMILY_KEYS = {
    "skresnet18": "SKNet", "resnest14d": "ResNeSt", "bat_resnext26ts": "BAT", "botnet26t_256": "BoTNet",
    "halonet26t": "HaloNet", "lambda_resnet26t": "LambdaNet", "gcresnext26ts": "ByobNet",
    "eca_halonext26ts": "HaloNet", "haloregnetz_b": "HaloNet", "ghostnet_100": "GhostNet",
    "rexnet_100": "ReXNet", "mixnet_s": "MixNet", "convnext_atto": "ConvNeXt",
    "lcnet_100": "LCNet", "semnasnet_100": "EfficientNet", "mnasnet_100": "EfficientNet",
}


def write_family_keys():
    """{arch: {"looks": the family the refusal must name, "keys": the state dict's keys}} of each
    network in FAMILY_KEYS at its real size (keys only: no weights are stored)."""
    out = {}
    for arch, looks in FAMILY_KEYS.items():
        keys = [k for k in timm.create_model(arch).state_dict() if "num_batches" not in k]
        out[arch] = {"looks": looks, "keys": keys}
    (NETS / "family_keys.json").write_text(json.dumps(out, separators=(",", ":")))


def main():
    """Writes every case afresh; `--only NAME ...` writes those cases alone and keeps the others'
    files and entries as they are (cases.json stays in CASES' order)."""
    only = [a for a in sys.argv[sys.argv.index("--only") + 1:] if not a.startswith("--")] if "--only" in sys.argv else None
    torch.set_num_threads(2)
    if only is None:
        if NETS.exists():
            shutil.rmtree(NETS)
        NETS.mkdir(parents=True)
        entries = [write_case(*case) for case in CASES]
        write_real_sized_shapes()
        write_family_keys()
    else:
        unknown = set(only) - {case[0] for case in CASES}
        assert not unknown, f"no case named {sorted(unknown)}"
        kept = {e["name"]: e for e in json.loads((NETS / "cases.json").read_text())}
        for name in only:
            if (NETS / name).exists():
                shutil.rmtree(NETS / name)
        entries = [write_case(*case) if case[0] in only else kept[case[0]] for case in CASES]
        if "--family-keys" in sys.argv:
            write_family_keys()
    (NETS / "cases.json").write_text(json.dumps(entries, indent=1) + "\n")
    total = sum(f.stat().st_size for f in NETS.rglob("*") if f.is_file())
    print(f"wrote {len(entries)} cases to {NETS}: {total / 1e6:.2f} MB "
          f"(torch {torch.__version__}, timm {timm.__version__}, torchvision {torchvision.__version__})")


if __name__ == "__main__":
    main()
