// The parameters and bindings of `conv2d.wgsl` and `conv2d_direct.wgsl` (`layers.rs` fills them):
// one image, `x` (groups * in_channels, height, width) to `out` (groups * out_channels,
// out_height, out_width); `weight` (groups * out_channels, in_channels, kernel_h, kernel_w) in
// PyTorch's order; `activation` a code of activations.wgsl. A fragment joined before them.

struct Params {
    // Per group.
    in_channels: u32,
    out_channels: u32,
    groups: u32,
    height: u32,
    width: u32,
    out_height: u32,
    out_width: u32,
    kernel_h: u32,
    kernel_w: u32,
    stride: u32,
    dilation: u32,
    pad_y: u32,
    pad_x: u32,
    activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
