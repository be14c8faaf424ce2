// GC's transform: relu(LayerNorm(v)) over each image's vector of `width` values, with affine
// weight and bias. One workgroup per image; two-pass mean and variance, as the reference does.
// GROUP, `partial`, reduce_max and reduce_sum come from workgroup_reduce.wgsl.

struct Params {
    width: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let base = group.x * params.width;
    let n = f32(params.width);
    var sum = 0.0;
    for (var i = lane; i < params.width; i += GROUP) {
        sum += x[base + i];
    }
    partial[lane] = sum;
    let mean = reduce_sum(lane) / n;

    var squares = 0.0;
    for (var i = lane; i < params.width; i += GROUP) {
        let d = x[base + i] - mean;
        squares += d * d;
    }
    partial[lane] = squares;
    let inv = inverseSqrt(reduce_sum(lane) / n + params.eps);

    for (var i = lane; i < params.width; i += GROUP) {
        let y = (x[base + i] - mean) * inv * weight[i] + bias[i];
        out[base + i] = select(y, 0.0, y < 0.0); // ReLU; a NaN passes, as in PyTorch
    }
}
