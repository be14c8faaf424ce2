// out[i] = act(x[i]), or act(x[i] + addend[i]): a network's activation layers and the join of a
// residual block's two branches (`act(body(x) + shortcut(x))`). The codes are activations.wgsl's.

struct Params {
    count: u32,
    activation: u32,
    has_addend: u32,
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
    if (params.has_addend == 1u) {
        v += addend[index];
    }
    out[index] = activate(params.activation, v);
}
