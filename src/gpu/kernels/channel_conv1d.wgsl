// ECA's 1-D convolution along the channel axis of the pooled means, odd kernel, padding
// (k - 1) / 2 with zeros (EcaModule) or wrapping around (CecaModule). Gives logits (N, C).

struct Params {
    channels: u32,
    images: u32,
    kernel_size: u32,
    // 0: zero padding, 1: circular.
    circular: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> means: array<f32>;
@group(0) @binding(2) var<storage, read> kernel: array<f32>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    if (index >= params.images * params.channels) {
        return;
    }
    let image = index / params.channels;
    let c = i32(index % params.channels);
    let channels = i32(params.channels);
    let half = (i32(params.kernel_size) - 1) / 2;
    var acc = 0.0;
    for (var t = 0; t < i32(params.kernel_size); t++) {
        var j = c + t - half;
        if (params.circular == 1u) {
            j = ((j % channels) + channels) % channels;
        } else if (j < 0 || j >= channels) {
            continue;
        }
        acc += kernel[t] * means[image * params.channels + u32(j)];
    }
    logits[index] = acc;
}
