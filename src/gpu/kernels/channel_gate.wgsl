// The channel gate from its logits: gate[i] = sigmoid(sum_k logits[i, k]) for every (image,
// channel) i. k runs over 1 term (SE, ECA, GC) or 2 (CBAM: the MLP of the mean plus the MLP of
// the max).

struct Params {
    count: u32,
    terms: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> gate: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= params.count) {
        return;
    }
    var sum = 0.0;
    for (var k = 0u; k < params.terms; k++) {
        sum += logits[i * params.terms + k];
    }
    gate[i] = 1.0 / (1.0 + exp(-sum));
}
