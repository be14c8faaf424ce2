// Two channel-major tensors (1, Ca, H, W) and (1, Cb, H, W) joined along the channels and cut to
// the first `count` values: out[i] = a[i] for i < a_count, b[i - a_count] after (GhostNet's
// `cat([x1, x2])[:, :out_chs]`).

struct Params {
    count: u32,
    a_count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    if (index >= params.count) {
        return;
    }
    if (index < params.a_count) {
        out[index] = a[index];
    } else {
        out[index] = b[index - params.a_count];
    }
}
