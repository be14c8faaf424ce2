// Writes a block's output from its input and gates, in one pass over the activation:
//   mode 0: y[n, c, p] = x[n, c, p] * channel[n, c]                  (SE, ECA, GC scale)
//   mode 1: y[n, c, p] = x[n, c, p] + channel[n, c]                  (GC add)
//   mode 2: y[n, c, p] = x[n, c, p] * channel[n, c] * spatial[n, p]  (CBAM)

struct Params {
    channels: u32,
    positions: u32,
    images: u32,
    mode: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> channel: array<f32>;
@group(0) @binding(3) var<storage, read> spatial: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    if (index >= params.images * params.channels * params.positions) {
        return;
    }
    let image_channel = index / params.positions;
    let image = image_channel / params.channels;
    let p = index % params.positions;
    let g = channel[image_channel];
    switch params.mode {
        case 0u: { y[index] = x[index] * g; }
        case 1u: { y[index] = x[index] + g; }
        default: { y[index] = x[index] * g * spatial[image * params.positions + p]; }
    }
}
