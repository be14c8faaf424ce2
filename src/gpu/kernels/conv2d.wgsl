// A k x k convolution of one image with stride, padding, dilation and groups, its bias (a folded
// BatchNorm) and activation fused: the GPU side of `crate::layers::Conv2d`.
//   out[g * Cog + o, oy, ox] = act(bias + sum_{c, ky, kx} weight[g * Cog + o, c, ky, kx]
//                                   * x[g * Cig + c, oy * stride + ky * dilation - pad_y, ...])
// As a matrix product per group ("implicit im2col"): rows are the group's output channels, columns
// the output positions, the sum runs over the taps (c, ky, kx) in PyTorch's weight order. Each
// workgroup computes a 16 x 16 tile, staging 16 taps of the weights and of the patches it reads
// (zero in the padding) in workgroup memory (2 KiB). Workgroups: (positions / 16, Cog / 16, groups).
// Parameters and bindings: conv2d_params.wgsl.

const TILE: u32 = 16u;

var<workgroup> weight_tile: array<f32, 256>; // [o][tap]
var<workgroup> patch_tile: array<f32, 256>;  // [tap][p]

// The input pixel tap `t` reads for output position (oy, ox) of group `g`; zero in the padding.
fn tap_value(t: u32, oy: u32, ox: u32, g: u32) -> f32 {
    let window = params.kernel_h * params.kernel_w;
    let c = t / window;
    let ky = (t % window) / params.kernel_w;
    let kx = t % params.kernel_w;
    let iy = i32(oy * params.stride + ky * params.dilation) - i32(params.pad_y);
    let ix = i32(ox * params.stride + kx * params.dilation) - i32(params.pad_x);
    if (iy < 0 || ix < 0 || iy >= i32(params.height) || ix >= i32(params.width)) {
        return 0.0;
    }
    return x[((g * params.in_channels + c) * params.height + u32(iy)) * params.width + u32(ix)];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
    let positions = params.out_height * params.out_width;
    let taps = params.in_channels * params.kernel_h * params.kernel_w;
    let p = group.x * TILE + local.x;
    let row = group.y * TILE + local.y;
    let g = group.z;
    let o = g * params.out_channels + row;
    let oy = p / params.out_width;
    let ox = p % params.out_width;
    // The position this thread loads patches for (local.x) is its own output's.
    var acc = 0.0;
    for (var t0 = 0u; t0 < taps; t0 += TILE) {
        let wt = t0 + local.x;
        var w = 0.0;
        if (row < params.out_channels && wt < taps) {
            w = weight[o * taps + wt];
        }
        weight_tile[local.y * TILE + local.x] = w;
        let xt = t0 + local.y;
        var v = 0.0;
        if (xt < taps && p < positions) {
            v = tap_value(xt, oy, ox, g);
        }
        patch_tile[local.y * TILE + local.x] = v;
        workgroupBarrier();
        for (var k = 0u; k < TILE; k++) {
            acc += weight_tile[local.y * TILE + k] * patch_tile[k * TILE + local.x];
        }
        workgroupBarrier();
    }
    if (row < params.out_channels && p < positions) {
        out[o * positions + p] = activate(params.activation, acc + bias[o]);
    }
}
