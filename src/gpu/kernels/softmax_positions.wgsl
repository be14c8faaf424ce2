// Softmax over the positions of each image, one workgroup per image (GC's context weights).
// Three sweeps: the max, the sum of exponentials, then the normalised weights.
// GROUP, `partial`, reduce_max and reduce_sum come from workgroup_reduce.wgsl.

struct Params {
    positions: u32,
}

// A finite "minus infinity" for running maxima: WGSL rejects infinite constants, and Chrome's
// compiler also rejects -3.4028235e38 (it rounds past f32::MAX).
const LOWEST: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let base = group.x * params.positions;
    var largest = LOWEST;
    for (var p = lane; p < params.positions; p += GROUP) {
        largest = max(largest, logits[base + p]);
    }
    partial[lane] = largest;
    let row_max = reduce_max(lane);

    var sum = 0.0;
    for (var p = lane; p < params.positions; p += GROUP) {
        let e = exp(logits[base + p] - row_max);
        out[base + p] = e;
        sum += e;
    }
    partial[lane] = sum;
    let inv = 1.0 / reduce_sum(lane);

    for (var p = lane; p < params.positions; p += GROUP) {
        out[base + p] *= inv;
    }
}
