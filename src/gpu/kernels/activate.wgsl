// out[i] = act(x[i] + addend[i]) for i < addend_count, act(x[i]) after: a network's activation
// layers (addend_count 0) and the join of a residual block's two branches
// (`act(body(x) + shortcut(x))`; a shortcut of fewer channels, ReXNet's, covers a prefix of the
// channel-major data). The codes are activations.wgsl's.

struct Params {
    count: u32,
    activation: u32,
    addend_count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> addend: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    if (index >= params.count) {
        return;
    }
    var v = x[index];
    if (index < params.addend_count) {
        v += addend[index];
    }
    out[index] = activate(params.activation, v);
}
