"""The benchmark cases, their weights and inputs, and each block written as an ONNX graph.

Every case is one block at one size with seeded random weights in timm's state-dict names (the
files our `bench` command reads) and the same weights as initializers of an ONNX graph built with
onnx.helper, op by op from the block's definition (shared/reference/blocks.md). ONNX Runtime
then runs the graph a PyTorch export would give, with its own graph optimisations on.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file


@dataclass
class Case:
    block: str
    channels: int
    height: int
    width: int
    options: dict = field(default_factory=dict)

    @property
    def name(self):
        return f"{self.block}-c{self.channels}-{self.height}x{self.width}"

    @property
    def positions(self):
        return self.height * self.width

    def cli_options(self):
        return [arg for key, value in self.options.items() for arg in (f"--{key}", str(value))]


def cases():
    gates = [Case(b, c, s, s) for b in ("se", "cbam", "eca", "gc") for c, s in ((64, 56), (256, 28))]
    attention = [Case("nonlocal", 64, s, s) for s in (32, 64)]
    attention += [Case("mhsa", 64, s, s, {"heads": 4}) for s in (32, 64)]
    return gates + attention


def rd(channels, ratio=1 / 16, divisor=8):
    """timm's make_divisible(channels * ratio, divisor)."""
    value = channels * ratio
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def eca_kernel(channels, gamma=2, beta=1):
    t = int(abs(np.log2(channels) + beta) / gamma)
    return max(t if t % 2 else t + 1, 3)


def weights(case, rng):
    """The block's state dict, float32, in timm's names (as blocks.md lists them)."""
    c = case.channels
    normal = lambda *shape, scale=1.0: (rng.standard_normal(shape) * scale).astype(np.float32)
    bn = lambda prefix, n: {
        f"{prefix}.weight": normal(n, scale=0.2) + 1.0,
        f"{prefix}.bias": normal(n, scale=0.1),
        f"{prefix}.running_mean": normal(n, scale=0.1),
        f"{prefix}.running_var": np.abs(normal(n, scale=0.2)) + 0.5,
    }
    if case.block == "se":
        r = rd(c)
        return {"fc1.weight": normal(r, c, 1, 1, scale=c**-0.5), "fc1.bias": normal(r, scale=0.1),
                "fc2.weight": normal(c, r, 1, 1, scale=r**-0.5), "fc2.bias": normal(c, scale=0.1)}
    if case.block == "cbam":
        r = rd(c)
        return {"channel.fc1.weight": normal(r, c, 1, 1, scale=c**-0.5), "channel.fc2.weight": normal(c, r, 1, 1, scale=r**-0.5),
                "spatial.conv.conv.weight": normal(1, 2, 7, 7, scale=0.1), **bn("spatial.conv.bn", 1)}
    if case.block == "eca":
        return {"conv.weight": normal(1, 1, eca_kernel(c), scale=0.5)}
    if case.block == "gc":
        r = rd(c, 1 / 8)
        return {"conv_attn.weight": normal(1, c, 1, 1, scale=c**-0.5), "conv_attn.bias": normal(1, scale=0.1),
                "mlp_scale.fc1.weight": normal(r, c, 1, 1, scale=c**-0.5), "mlp_scale.fc1.bias": normal(r, scale=0.1),
                "mlp_scale.norm.weight": normal(r, scale=0.2) + 1.0, "mlp_scale.norm.bias": normal(r, scale=0.1),
                "mlp_scale.fc2.weight": normal(c, r, 1, 1, scale=r**-0.5), "mlp_scale.fc2.bias": normal(c, scale=0.1)}
    if case.block == "nonlocal":
        r = rd(c, 1 / 8)
        conv = lambda name, o, i: {f"{name}.weight": normal(o, i, 1, 1, scale=i**-0.5), f"{name}.bias": normal(o, scale=0.1)}
        return {**conv("t", r, c), **conv("p", r, c), **conv("g", r, c), **conv("z", c, r), **bn("norm", c)}
    if case.block == "mhsa":
        conv = lambda name, o, i: {f"{name}.weight": normal(o, i, 1, 1, scale=i**-0.5), f"{name}.bias": normal(o, scale=0.1)}
        return {**conv("qkv", 3 * c, c), **conv("proj", c, c)}
    raise ValueError(case.block)


class Graph:
    """A small builder over onnx.helper: named initializers and nodes with generated outputs."""

    def __init__(self, w):
        self.w, self.nodes, self.inits, self.count = w, [], {}, 0

    def init(self, name, array=None):
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.asarray(self.w[name] if array is None else array), name)
        return name

    def const(self, name, values, dtype=np.int64):
        return self.init(name, np.asarray(values, dtype=dtype))

    def op(self, op_type, *inputs, **attrs):
        self.count += 1
        out = f"{op_type.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def conv(self, x, name, bias=True, **attrs):
        inputs = [x, self.init(f"{name}.weight")] + ([self.init(f"{name}.bias")] if bias else [])
        return self.op("Conv", *inputs, **attrs)

    def bn(self, x, prefix):
        names = [self.init(f"{prefix}.{f}") for f in ("weight", "bias", "running_mean", "running_var")]
        return self.op("BatchNormalization", x, *names, epsilon=1e-5)

    def model(self, y, case):
        shape = [1, case.channels, case.height, case.width]
        graph = helper.make_graph(
            self.nodes, case.name,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, shape)],
            list(self.inits.values()),
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8  # what opset 17 needs; onnxruntime reads older IR versions than onnx writes
        onnx.checker.check_model(model)
        return model


def onnx_model(case, w):
    g = Graph(w)
    c, n = case.channels, case.positions
    if case.block == "se":
        s = g.op("GlobalAveragePool", "x")
        s = g.op("Sigmoid", g.conv(g.op("Relu", g.conv(s, "fc1")), "fc2"))
        y = g.op("Mul", "x", s)
    elif case.block == "eca":
        k = w["conv.weight"].shape[-1]
        s = g.op("Reshape", g.op("GlobalAveragePool", "x"), g.const("shape_1_1_c", [1, 1, c]))
        s = g.op("Conv", s, g.init("conv.weight"), pads=[(k - 1) // 2] * 2)
        y = g.op("Mul", "x", g.op("Reshape", g.op("Sigmoid", s), g.const("shape_1_c_1_1", [1, c, 1, 1])))
    elif case.block == "gc":
        logits = g.op("Reshape", g.conv("x", "conv_attn"), g.const("shape_1_n_1", [1, n, 1]))
        weights = g.op("Softmax", logits, axis=1)
        flat = g.op("Reshape", "x", g.const("shape_1_c_n", [1, c, n]))
        context = g.op("Reshape", g.op("MatMul", flat, weights), g.const("shape_1_c_1_1", [1, c, 1, 1]))
        h = g.conv(context, "mlp_scale.fc1")
        r = w["mlp_scale.fc1.weight"].shape[0]
        ln_w = g.init("ln_weight", w["mlp_scale.norm.weight"].reshape(r, 1, 1))
        ln_b = g.init("ln_bias", w["mlp_scale.norm.bias"].reshape(r, 1, 1))
        h = g.op("Relu", g.op("LayerNormalization", h, ln_w, ln_b, axis=1, epsilon=1e-6))
        y = g.op("Mul", "x", g.op("Sigmoid", g.conv(h, "mlp_scale.fc2")))
    elif case.block == "cbam":
        mlp = lambda v: g.conv(g.op("Relu", g.conv(v, "channel.fc1", bias=False)), "channel.fc2", bias=False)
        a = g.op("Sigmoid", g.op("Add", mlp(g.op("GlobalAveragePool", "x")), mlp(g.op("GlobalMaxPool", "x"))))
        x1 = g.op("Mul", "x", a)
        pooled = g.op("Concat", g.op("ReduceMean", x1, keepdims=1, axes=[1]), g.op("ReduceMax", x1, keepdims=1, axes=[1]), axis=1)
        s = g.op("Conv", pooled, g.init("spatial.conv.conv.weight"), pads=[3, 3, 3, 3])
        y = g.op("Mul", x1, g.op("Sigmoid", g.bn(s, "spatial.conv.bn")))
    elif case.block == "nonlocal":
        r = w["g.weight"].shape[0]
        to_rows = lambda t: g.op("Transpose", g.op("Reshape", t, g.const("shape_1_r_n", [1, r, n])), perm=[0, 2, 1])
        theta = to_rows(g.conv("x", "t"))
        phi = g.op("Reshape", g.conv("x", "p"), g.const("shape_1_r_n", [1, r, n]))
        scores = g.op("Mul", g.op("MatMul", theta, phi), g.const("scale", c**-0.5, np.float32))
        out = g.op("MatMul", g.op("Softmax", scores, axis=-1), to_rows(g.conv("x", "g")))
        out = g.op("Reshape", g.op("Transpose", out, perm=[0, 2, 1]), g.const("shape_1_r_h_w", [1, r, case.height, case.width]))
        y = g.op("Add", g.bn(g.conv(out, "z"), "norm"), "x")
    elif case.block == "mhsa":
        heads = case.options["heads"]
        dh = c // heads
        qkv = g.op("Reshape", g.conv("x", "qkv"), g.const("shape_3_h_d_n", [3, heads, dh, n]))
        q, k, v = (g.op("Gather", qkv, g.const(f"index_{i}", i), axis=0) for i in range(3))
        scores = g.op("Mul", g.op("MatMul", g.op("Transpose", q, perm=[0, 2, 1]), k), g.const("scale", dh**-0.5, np.float32))
        out = g.op("MatMul", g.op("Softmax", scores, axis=-1), g.op("Transpose", v, perm=[0, 2, 1]))
        out = g.op("Reshape", g.op("Transpose", out, perm=[0, 2, 1]), g.const("shape_1_c_h_w", [1, c, case.height, case.width]))
        y = g.conv(out, "proj")
    else:
        raise ValueError(case.block)
    return g.model(y, case)


def flops(case, w):
    """Floating-point operations of one forward pass (a multiply-add counts two), the main terms."""
    c, n = case.channels, case.positions
    if case.block in ("se", "eca"):
        return 2 * c * n
    if case.block == "gc":
        return 5 * c * n
    if case.block == "cbam":
        return 8 * c * n + 2 * 2 * 49 * n
    if case.block == "nonlocal":
        r = w["g.weight"].shape[0]
        return 2 * n * c * r * 4 + 2 * 2 * n * n * r
    if case.block == "mhsa":
        return 2 * n * c * c * 4 + 2 * 2 * n * n * c


def write_case(case, root: Path, seed):
    """Writes weights.safetensors, input.safetensors and block.onnx under root/name."""
    rng = np.random.default_rng(seed)
    w = weights(case, rng)
    x = rng.standard_normal((1, case.channels, case.height, case.width)).astype(np.float32)
    out = root / case.name
    out.mkdir(parents=True, exist_ok=True)
    save_file(w, str(out / "weights.safetensors"))
    save_file({"x": x}, str(out / "input.safetensors"))
    onnx.save(onnx_model(case, w), str(out / "block.onnx"))
    return out, w, x
