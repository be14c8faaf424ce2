// Reduces every channel of a batch over its positions, one workgroup per (channel, image):
//   mode 0: out[n, c]            = mean_p x[n, c, p]                      (SE, ECA)
//   mode 1: out[n, c, 0..2]      = [mean_p x[n, c, p], max_p x[n, c, p]]  (CBAM's channel gate)
//   mode 2: out[n, c]            = sum_p x[n, c, p] * weights[n, p]       (GC's context)

struct Params {
    channels: u32,
    positions: u32,
    mode: u32,
}

const GROUP: u32 = 256u;
// A finite "minus infinity" for running maxima: WGSL rejects infinite constants, and Chrome's
// compiler also rejects -3.4028235e38 (it rounds past f32::MAX).
const LOWEST: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial_sum: array<f32, GROUP>;
var<workgroup> partial_max: array<f32, GROUP>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let c = group.x;
    let image = group.y;
    let base = (image * params.channels + c) * params.positions;
    let weight_base = image * params.positions;

    var sum = 0.0;
    var largest = LOWEST;
    for (var p = lane; p < params.positions; p += GROUP) {
        let v = x[base + p];
        if (params.mode == 2u) {
            sum += v * weights[weight_base + p];
        } else {
            sum += v;
        }
        largest = max(largest, v);
    }
    partial_sum[lane] = sum;
    partial_max[lane] = largest;
    workgroupBarrier();
    for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
        if (lane < stride) {
            partial_sum[lane] += partial_sum[lane + stride];
            partial_max[lane] = max(partial_max[lane], partial_max[lane + stride]);
        }
        workgroupBarrier();
    }

    if (lane == 0u) {
        let at = image * params.channels + c;
        switch params.mode {
            case 0u: { out[at] = partial_sum[0] / f32(params.positions); }
            case 1u: {
                out[2u * at] = partial_sum[0] / f32(params.positions);
                out[2u * at + 1u] = partial_max[0];
            }
            default: { out[at] = partial_sum[0]; }
        }
    }
}
