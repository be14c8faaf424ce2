// A branch attention's last step (SKNet's SelectiveKernel, ResNeSt's SplitAttn): the weight each
// channel gives each of R branches, then the branches summed with them, in one pass:
//   w[r, c] = softmax over r of logits[r * C + c]     (mode 0)
//           = sigmoid(logits[r * C + c])             (mode 1, a one-branch Split Attention)
//           = 1 / R                                  (mode 2, the block switched off)
//   y[c, p] = sum over r of w[r, c] * x[(r * C + c) * P + p]
// The thread of position 0 of each channel also writes w, the block's `branch` map.

struct Params {
    channels: u32,
    positions: u32,
    branches: u32,
    mode: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;

fn weight(r: u32, c: u32) -> f32 {
    let C = params.channels;
    let R = params.branches;
    if (params.mode == 2u) {
        return 1.0 / f32(R);
    }
    if (params.mode == 1u) {
        return 1.0 / (1.0 + exp(-logits[r * C + c]));
    }
    var top = logits[c];
    for (var q = 1u; q < R; q++) {
        top = max(top, logits[q * C + c]);
    }
    var sum = 0.0;
    for (var q = 0u; q < R; q++) {
        sum += exp(logits[q * C + c] - top);
    }
    return exp(logits[r * C + c] - top) / sum;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    let C = params.channels;
    let P = params.positions;
    if (index >= C * P) {
        return;
    }
    let c = index / P;
    let p = index % P;
    var acc = 0.0;
    for (var r = 0u; r < params.branches; r++) {
        let w = weight(r, c);
        if (p == 0u) {
            weights[r * C + c] = w;
        }
        acc += w * x[(r * C + c) * P + p];
    }
    y[index] = acc;
}
