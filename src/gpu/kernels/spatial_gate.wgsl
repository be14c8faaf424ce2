// CBAM's spatial gate: s[n, p] = sigmoid(bn(conv_kxk(pooled[n])))[p], a zero-padded "same"
// convolution of the two pooled maps, with BatchNorm folded into one scale and shift. Without
// `sigmoid` it writes the logits (the block's trace; scale 1 and shift 0 give the bare conv).

struct Params {
    height: u32,
    width: u32,
    images: u32,
    kernel_size: u32,
    bn_scale: f32,
    bn_shift: f32,
    sigmoid: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> pooled: array<f32>;  // (N, 2, H, W)
@group(0) @binding(2) var<storage, read> kernel: array<f32>;  // (2, k, k)
@group(0) @binding(3) var<storage, read_write> gate: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    let plane = params.height * params.width;
    if (index >= params.images * plane) {
        return;
    }
    let image = index / plane;
    let row = i32((index % plane) / params.width);
    let col = i32(index % params.width);
    let k = i32(params.kernel_size);
    let pad = k / 2;
    var acc = 0.0;
    for (var c = 0; c < 2; c++) {
        let in_base = (image * 2u + u32(c)) * plane;
        for (var ky = 0; ky < k; ky++) {
            let sy = row + ky - pad;
            if (sy < 0 || sy >= i32(params.height)) {
                continue;
            }
            for (var kx = 0; kx < k; kx++) {
                let sx = col + kx - pad;
                if (sx < 0 || sx >= i32(params.width)) {
                    continue;
                }
                acc += kernel[(c * k + ky) * k + kx] * pooled[in_base + u32(sy) * params.width + u32(sx)];
            }
        }
    }
    let v = acc * params.bn_scale + params.bn_shift;
    if (params.sigmoid == 1u) {
        gate[index] = 1.0 / (1.0 + exp(-v));
    } else {
        gate[index] = v;
    }
}
