// Rows of the attention matrix f(i, .) of Non-local / self-attention, for the queries a caller
// asked for: one row when a user clicks a pixel, every row only when the full map is requested.
// One workgroup per (row, image * head); f is the same as in attention.wgsl. With `normalise` 0
// the rows are the scores before normalising (a block's trace): scale * q.k, q.k, relu(q + k).
// out[((image * heads + head) * rows + row) * keys + j].
// GROUP, `partial`, reduce_max and reduce_sum come from workgroup_reduce.wgsl.

struct Params {
    queries: u32,
    keys: u32,
    dim: u32,
    heads: u32,
    mode: u32,
    scale: f32,
    first_query: u32,
    rows: u32,
    q_stride: u32,
    q_first: u32,
    k_stride: u32,
    k_first: u32,
    normalise: u32,
}

// A finite "minus infinity" for running maxima: WGSL rejects infinite constants, and Chrome's
// compiler also rejects -3.4028235e38 (it rounds past f32::MAX).
const LOWEST: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let row = group.x;
    let query = params.first_query + row;
    let image = group.z / params.heads;
    let head = group.z % params.heads;
    let q_base = image * params.q_stride + (params.q_first + head * params.dim) * params.queries;
    let k_base = image * params.k_stride + (params.k_first + head * params.dim) * params.keys;
    let out_base = (group.z * params.rows + row) * params.keys;
    var inv_keys = 1.0 / f32(params.keys);
    if (params.normalise == 0u) {
        inv_keys = 1.0;
    }

    var largest = LOWEST;
    for (var j = lane; j < params.keys; j += GROUP) {
        var s = 0.0;
        if (params.mode == 2u) {
            s = max(q[q_base + query] + k[k_base + j], 0.0) * inv_keys;
        } else {
            for (var d = 0u; d < params.dim; d++) {
                s += q[q_base + d * params.queries + query] * k[k_base + d * params.keys + j];
            }
            if (params.mode == 0u) {
                s *= params.scale;
            } else {
                s *= inv_keys;
            }
        }
        out[out_base + j] = s;
        largest = max(largest, s);
    }
    if (params.mode != 0u || params.normalise == 0u) {
        return;
    }

    partial[lane] = largest;
    let row_max = reduce_max(lane);
    var sum = 0.0;
    for (var j = lane; j < params.keys; j += GROUP) {
        let e = exp(out[out_base + j] - row_max);
        out[out_base + j] = e;
        sum += e;
    }
    partial[lane] = sum;
    let inv = 1.0 / reduce_sum(lane);
    for (var j = lane; j < params.keys; j += GROUP) {
        out[out_base + j] *= inv;
    }
}
