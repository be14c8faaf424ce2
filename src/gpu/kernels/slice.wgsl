// A block of a channel-major tensor, copied out: out[n, c, p] = x[n, first_channel + c,
// first_position + p] for `count` channels and `span` positions (a block's trace: one position's
// vector, or a range of channels).

struct Params {
    channels: u32,
    positions: u32,
    first_channel: u32,
    count: u32,
    first_position: u32,
    span: u32,
    images: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    if (index >= params.images * params.count * params.span) {
        return;
    }
    let p = index % params.span;
    let c = (index / params.span) % params.count;
    let n = index / (params.span * params.count);
    out[index] = x[(n * params.channels + params.first_channel + c) * params.positions + params.first_position + p];
}
