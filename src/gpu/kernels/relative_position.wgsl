// BoTNet's relative position logits as extra dimensions of the queries and keys, so that the fused
// attention (attention.wgsl) computes content plus position in one dot product:
//   q~[i] = [content_scale * q_i,  position_scale * q_i . r^W[x' - x_i + W - 1] for x' < W,
//                                  position_scale * q_i . r^H[y' - y_i + H - 1] for y' < H]
//   k~[j] = [k_j,  one-hot of x_j over W,  one-hot of y_j over H]
// so q~[i] . k~[j] = content_scale * q_i . k_j + position_scale * (q_i . r^W[x_j - x_i + W - 1]
// + q_i . r^H[y_j - y_i + H - 1]), timm's BottleneckAttn logits. With `uniform` both are zero and
// every attention weight is 1 / P (the block switched off).
//
// qkv is channel-major per image (`qkv_channels` x P): head h's queries at channels h * dim,
// its keys at first_key + h * dim. The tables: r^H (2H - 1, dim), then r^W (2W - 1, dim).
// Out, per image, channel-major: head h's dim + W + H channels of q~ (and of k~), P positions.

struct Params {
    positions: u32,
    height: u32,
    width: u32,
    dim: u32,
    heads: u32,
    qkv_channels: u32,
    first_key: u32,
    uniform: u32,
    content_scale: f32,
    position_scale: f32,
    count: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> tables: array<f32>;
@group(0) @binding(3) var<storage, read_write> q_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> k_out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = id.x + id.y * groups.x * 256u;
    if (index >= params.count) {
        return;
    }
    if (params.uniform == 1u) {
        q_out[index] = 0.0;
        k_out[index] = 0.0;
        return;
    }
    let P = params.positions;
    let D = params.dim;
    let W = params.width;
    let H = params.height;
    let wide = D + W + H;
    let p = index % P;
    let d = (index / P) % wide;
    let head = (index / (P * wide)) % params.heads;
    let image = index / (P * wide * params.heads);
    let base = image * params.qkv_channels * P;
    let q_at = base + head * D * P + p;
    let y = p / W;
    let x = p % W;
    if (d < D) {
        q_out[index] = params.content_scale * qkv[q_at + d * P];
        k_out[index] = qkv[base + (params.first_key + head * D + d) * P + p];
        return;
    }
    var row = 0u;
    var hot = false;
    if (d < D + W) {
        let column = d - D;
        // r^W follows r^H's 2H - 1 rows.
        row = (2u * H - 1u) + (column + W - 1u - x);
        hot = column == x;
    } else {
        let r = d - D - W;
        row = r + H - 1u - y;
        hot = r == y;
    }
    var sum = 0.0;
    for (var e = 0u; e < D; e++) {
        sum += qkv[q_at + e * P] * tables[row * D + e];
    }
    q_out[index] = params.position_scale * sum;
    k_out[index] = select(0.0, 1.0, hot);
}
