// Fused attention for Non-local blocks and multi-head self-attention, flash-attention style:
// out_i = sum_j f(i, j) v_j without ever storing the N x N matrix f.
//
// One invocation per query; a workgroup of 64 queries sweeps the keys in tiles of 32, staging
// each tile of keys (32 dims at a time, 4 KiB) and of values (32 value channels, 4 KiB) in
// workgroup memory. For the softmax forms it keeps a running max and sum per query and rescales
// what it has accumulated when the max grows (online softmax). Each workgroup column
// (group.y) produces 32 of the value channels; group.z is (image, head).
//
// The keys are swept in ranges of at most 2048, one dispatch per range, so no dispatch runs
// long (browsers reset a GPU that is busy for seconds; Mesa's llvmpipe stops any loop after
// 65535 iterations). Between ranges each query's running max and sum wait in `state`, and its
// unnormalised sums in `out`; the last range normalises.
//
// Tensors are channel-major per image, as the 1x1 convolutions write them: element (channel d,
// position p) of image n sits at n * stride + (first + d) * positions + p, and head h starts
// `h * dim` channels (queries, keys) or `h * value_dim` channels (values, output) further on.
//
// f(i, j):
//   mode 0  softmax_j(scale * q_i . k_j)    embedded Gaussian, Gaussian, self-attention
//   mode 1  (q_i . k_j) / keys              dot product
//   mode 2  relu(q_i + k_j) / keys          concatenation, with q and k the per-query and
//                                           per-key terms of the split projection (dim 1)

struct Params {
    queries: u32,
    keys: u32,
    dim: u32,
    value_dim: u32,
    heads: u32,
    mode: u32,
    scale: f32,
    q_stride: u32,
    q_first: u32,
    k_stride: u32,
    k_first: u32,
    v_stride: u32,
    v_first: u32,
    out_stride: u32,
    // This dispatch's keys, and whether it is the first and the last range.
    key_begin: u32,
    key_end: u32,
    first_range: u32,
    last_range: u32,
}

const QUERY_TILE: u32 = 64u;
const KEY_TILE: u32 = 32u;
const DIM_CHUNK: u32 = 32u;
const VALUE_CHUNK: u32 = 32u;
// A finite "minus infinity" for running maxima: WGSL rejects infinite constants, and Chrome's
// compiler also rejects -3.4028235e38 (it rounds past f32::MAX).
const LOWEST: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
// (running max, running sum) per (image, head, query, value chunk).
@group(0) @binding(5) var<storage, read_write> state: array<f32>;

var<workgroup> key_tile: array<f32, 1024>;   // [d][j], DIM_CHUNK x KEY_TILE
var<workgroup> value_tile: array<f32, 1024>; // [c][j], VALUE_CHUNK x KEY_TILE

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = group.x * QUERY_TILE + lane;
    let in_range = i < params.queries;
    let query = select(0u, i, in_range);
    let first_value = group.y * VALUE_CHUNK;
    let image = group.z / params.heads;
    let head = group.z % params.heads;
    let q_base = image * params.q_stride + (params.q_first + head * params.dim) * params.queries;
    let k_base = image * params.k_stride + (params.k_first + head * params.dim) * params.keys;
    let v_base = image * params.v_stride + (params.v_first + head * params.value_dim) * params.keys;
    let out_base = image * params.out_stride + head * params.value_dim * params.queries;
    let state_at = 2u * ((group.z * params.queries + query) * groups.y + group.y);
    let channels = min(VALUE_CHUNK, params.value_dim - first_value);
    let inv_keys = 1.0 / f32(params.keys);

    var running_max = LOWEST;
    var running_sum = 0.0;
    var acc: array<f32, VALUE_CHUNK>;
    if (params.first_range == 0u && in_range) {
        running_max = state[state_at];
        running_sum = state[state_at + 1u];
        for (var c = 0u; c < channels; c++) {
            acc[c] = out[out_base + (first_value + c) * params.queries + i];
        }
    }
    var scores: array<f32, KEY_TILE>;

    for (var k0 = params.key_begin; k0 < params.key_end; k0 += KEY_TILE) {
        let valid = min(KEY_TILE, params.key_end - k0);
        for (var j = 0u; j < KEY_TILE; j++) {
            scores[j] = 0.0;
        }
        // Scores of this query against the tile, DIM_CHUNK dimensions at a time.
        for (var d0 = 0u; d0 < params.dim; d0 += DIM_CHUNK) {
            workgroupBarrier();
            for (var t = lane; t < DIM_CHUNK * KEY_TILE; t += QUERY_TILE) {
                let d = t / KEY_TILE;
                let j = t % KEY_TILE;
                var value = 0.0;
                if (d0 + d < params.dim && j < valid) {
                    value = k[k_base + (d0 + d) * params.keys + k0 + j];
                }
                key_tile[t] = value;
            }
            workgroupBarrier();
            let dims = min(DIM_CHUNK, params.dim - d0);
            for (var d = 0u; d < dims; d++) {
                let qv = q[q_base + (d0 + d) * params.queries + query];
                if (params.mode == 2u) {
                    for (var j = 0u; j < KEY_TILE; j++) {
                        scores[j] = max(qv + key_tile[d * KEY_TILE + j], 0.0) * inv_keys;
                    }
                } else {
                    for (var j = 0u; j < KEY_TILE; j++) {
                        scores[j] += qv * key_tile[d * KEY_TILE + j];
                    }
                }
            }
        }

        if (params.mode == 0u) {
            var tile_max = LOWEST;
            for (var j = 0u; j < KEY_TILE; j++) {
                scores[j] *= params.scale;
                if (j < valid) {
                    tile_max = max(tile_max, scores[j]);
                }
            }
            let new_max = max(running_max, tile_max);
            let correction = exp(running_max - new_max);
            running_sum *= correction;
            for (var c = 0u; c < VALUE_CHUNK; c++) {
                acc[c] *= correction;
            }
            for (var j = 0u; j < KEY_TILE; j++) {
                scores[j] = select(0.0, exp(scores[j] - new_max), j < valid);
                running_sum += scores[j];
            }
            running_max = new_max;
        } else {
            for (var j = 0u; j < KEY_TILE; j++) {
                var s = scores[j];
                if (params.mode == 1u) {
                    s *= inv_keys;
                }
                scores[j] = select(0.0, s, j < valid);
            }
        }

        // Accumulate this tile's values.
        workgroupBarrier();
        for (var t = lane; t < VALUE_CHUNK * KEY_TILE; t += QUERY_TILE) {
            let c = t / KEY_TILE;
            let j = t % KEY_TILE;
            var value = 0.0;
            if (first_value + c < params.value_dim && j < valid) {
                value = v[v_base + (first_value + c) * params.keys + k0 + j];
            }
            value_tile[t] = value;
        }
        workgroupBarrier();
        for (var c = 0u; c < VALUE_CHUNK; c++) {
            var sum = 0.0;
            for (var j = 0u; j < KEY_TILE; j++) {
                sum += scores[j] * value_tile[c * KEY_TILE + j];
            }
            acc[c] += sum;
        }
    }

    if (!in_range) {
        return;
    }
    var norm = 1.0;
    if (params.last_range == 1u) {
        if (params.mode == 0u) {
            norm = 1.0 / running_sum;
        }
    } else {
        state[state_at] = running_max;
        state[state_at + 1u] = running_sum;
    }
    for (var c = 0u; c < channels; c++) {
        out[out_base + (first_value + c) * params.queries + i] = acc[c] * norm;
    }
}
