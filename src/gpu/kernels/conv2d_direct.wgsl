// The same convolution as `conv2d.wgsl` with one thread per output, for convolutions with few
// output channels per group (depthwise ones: one), where a 16-row tile would idle most threads.
// Its parameters and bindings are conv2d_params.wgsl's.

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    let positions = params.out_height * params.out_width;
    if (index >= params.groups * params.out_channels * positions) {
        return;
    }
    let o = index / positions;
    let p = index % positions;
    let oy = p / params.out_width;
    let ox = p % params.out_width;
    let g = o / params.out_channels;
    let window = params.kernel_h * params.kernel_w;
    var acc = 0.0;
    for (var c = 0u; c < params.in_channels; c++) {
        let plane = (g * params.in_channels + c) * params.height;
        let taps = (o * params.in_channels + c) * window;
        for (var ky = 0u; ky < params.kernel_h; ky++) {
            let iy = i32(oy * params.stride + ky * params.dilation) - i32(params.pad_y);
            if (iy < 0 || iy >= i32(params.height)) {
                continue;
            }
            for (var kx = 0u; kx < params.kernel_w; kx++) {
                let ix = i32(ox * params.stride + kx * params.dilation) - i32(params.pad_x);
                if (ix < 0 || ix >= i32(params.width)) {
                    continue;
                }
                acc += weight[taps + ky * params.kernel_w + kx] * x[(plane + u32(iy)) * params.width + u32(ix)];
            }
        }
    }
    out[index] = activate(params.activation, acc + bias[o]);
}
