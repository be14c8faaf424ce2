// 2x2 max pooling, stride 2, of (planes, H, W) into (planes, H/2, W/2); an odd last row or
// column is dropped, as PyTorch's MaxPool2d(2) does (Non-local's subsampled keys and values).

struct Params {
    planes: u32,
    height: u32,
    width: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// The larger value, NaN if either is (PyTorch's max pooling; WGSL's max() of a NaN is undefined).
fn max_nan(a: f32, b: f32) -> f32 {
    let a_nan = (bitcast<u32>(a) & 0x7fffffffu) > 0x7f800000u;
    let b_nan = (bitcast<u32>(b) & 0x7fffffffu) > 0x7f800000u;
    return select(select(max(a, b), b, b_nan), a, a_nan);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    let out_h = params.height / 2u;
    let out_w = params.width / 2u;
    if (index >= params.planes * out_h * out_w) {
        return;
    }
    let plane = index / (out_h * out_w);
    let row = (index / out_w) % out_h;
    let col = index % out_w;
    let top = (plane * params.height + 2u * row) * params.width + 2u * col;
    let bottom = top + params.width;
    out[index] = max_nan(max_nan(x[top], x[top + 1u]), max_nan(x[bottom], x[bottom + 1u]));
}
