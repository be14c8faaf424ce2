// 1x1 convolution of a batch: out[n, o, p] = act(bias[o] + sum_c weight[o, c] * x[n, c, p]) + residual[n, o, p].
// A matrix product per image, in 16 x 16 tiles staged in workgroup memory (2 KiB).

struct Params {
    outputs: u32,
    inputs: u32,
    positions: u32,
    // 0: none, 1: relu.
    activation: u32,
    // 1: add `residual` after the activation (Non-local's `+ x`).
    has_residual: u32,
}

const TILE: u32 = 16u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

var<workgroup> weight_tile: array<f32, 256>; // [o][c]
var<workgroup> x_tile: array<f32, 256>;      // [c][p]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
    let p = group.x * TILE + local.x;
    let o = group.y * TILE + local.y;
    let image = group.z;
    let x_base = image * params.inputs * params.positions;

    var acc = 0.0;
    for (var c0 = 0u; c0 < params.inputs; c0 += TILE) {
        // local.x walks channels of the weight row and positions of x, so reads are contiguous.
        let wc = c0 + local.x;
        var w = 0.0;
        if (o < params.outputs && wc < params.inputs) {
            w = weight[o * params.inputs + wc];
        }
        weight_tile[local.y * TILE + local.x] = w;
        let xc = c0 + local.y;
        var v = 0.0;
        if (xc < params.inputs && p < params.positions) {
            v = x[x_base + xc * params.positions + p];
        }
        x_tile[local.y * TILE + local.x] = v;
        workgroupBarrier();
        for (var k = 0u; k < TILE; k++) {
            acc += weight_tile[local.y * TILE + k] * x_tile[k * TILE + local.x];
        }
        workgroupBarrier();
    }

    if (o < params.outputs && p < params.positions) {
        var value = acc + bias[o];
        if (params.activation == 1u) {
            value = select(value, 0.0, value < 0.0); // ReLU; a NaN passes, as in PyTorch
        }
        let at = (image * params.outputs + o) * params.positions + p;
        if (params.has_residual == 1u) {
            value += residual[at];
        }
        out[at] = value;
    }
}
