// CBAM's spatial pooling: at every position, the mean and the max over channels of the
// channel-gated input x[n, c, p] * gate[n, c] (never written out as its own tensor).
// out[n, 0, p] and out[n, 1, p] hold them in the order the block asks for.

struct Params {
    channels: u32,
    positions: u32,
    images: u32,
    // 0: [mean, max] (timm), 1: [max, mean] (the official code).
    max_first: u32,
}

// A finite "minus infinity" for running maxima: WGSL rejects infinite constants, and Chrome's
// compiler also rejects -3.4028235e38 (it rounds past f32::MAX).
const LOWEST: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    if (index >= params.images * params.positions) {
        return;
    }
    let image = index / params.positions;
    let p = index % params.positions;
    var sum = 0.0;
    var largest = LOWEST;
    for (var c = 0u; c < params.channels; c++) {
        let v = x[(image * params.channels + c) * params.positions + p] * gate[image * params.channels + c];
        sum += v;
        largest = max(largest, v);
    }
    let mean = sum / f32(params.channels);
    let base = image * 2u * params.positions + p;
    if (params.max_first == 1u) {
        out[base] = largest;
        out[base + params.positions] = mean;
    } else {
        out[base] = mean;
        out[base + params.positions] = largest;
    }
}
