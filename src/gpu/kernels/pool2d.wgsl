// Max or average pooling over k x k windows with stride and padding (PyTorch's MaxPool2d and
// AvgPool2d, ceil_mode and count_include_pad included): the GPU side of
// `crate::layers::Pool`. One thread per output of (C, Ho, Wo); the output size comes from
// the CPU side.

struct Params {
    channels: u32,
    height: u32,
    width: u32,
    out_height: u32,
    out_width: u32,
    kernel: u32,
    stride: u32,
    padding: u32,
    is_max: u32,
    count_include_pad: u32,
}

// A finite "minus infinity" (see channel_reduce.wgsl).
const LOWEST: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// A NaN by its bits (a comparison of it with itself may be folded away).
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    let positions = params.out_height * params.out_width;
    if (index >= params.channels * positions) {
        return;
    }
    let c = index / positions;
    let oy = (index % positions) / params.out_width;
    let ox = index % params.out_width;
    let y0 = i32(oy * params.stride) - i32(params.padding);
    let x0 = i32(ox * params.stride) - i32(params.padding);
    let h = i32(params.height);
    let w = i32(params.width);
    let pad = i32(params.padding);
    var acc = 0.0;
    if (params.is_max == 1u) {
        acc = LOWEST;
    }
    var count = 0u;
    // Padded pixels inside the padded input (not past it, as a ceil-mode window can reach).
    var padded = 0u;
    for (var iy = y0; iy < y0 + i32(params.kernel); iy++) {
        for (var ix = x0; ix < x0 + i32(params.kernel); ix++) {
            if (iy < 0 || ix < 0 || iy >= h || ix >= w) {
                if (iy < h + pad && ix < w + pad) {
                    padded += 1u;
                }
                continue;
            }
            let v = x[(c * params.height + u32(iy)) * params.width + u32(ix)];
            if (params.is_max == 1u) {
                // NaN if any value is, as PyTorch's max pooling (WGSL's max() of a NaN is undefined).
                acc = select(select(select(acc, v, v > acc), v, is_nan(v)), acc, is_nan(acc));
            } else {
                acc += v;
            }
            count += 1u;
        }
    }
    if (params.is_max == 0u) {
        var divisor = count;
        if (params.count_include_pad == 1u) {
            divisor += padded;
        }
        acc = acc / f32(max(divisor, 1u));
    }
    out[index] = acc;
}
