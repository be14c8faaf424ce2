// Workgroup-wide reductions for shaders of 256 invocations, put ahead of each shader that uses
// them (see `shaders!` in mod.rs). Every invocation stores its partial value in `partial[lane]`
// and calls the reduction in uniform control flow; all of them get the result.

const GROUP: u32 = 256u;

var<workgroup> partial: array<f32, GROUP>;

fn reduce_max(lane: u32) -> f32 {
    workgroupBarrier();
    for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
        if (lane < stride) {
            partial[lane] = max(partial[lane], partial[lane + stride]);
        }
        workgroupBarrier();
    }
    let result = partial[0];
    // Nobody may overwrite `partial` for the next reduction before everyone has read it.
    workgroupBarrier();
    return result;
}

fn reduce_sum(lane: u32) -> f32 {
    workgroupBarrier();
    for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
        if (lane < stride) {
            partial[lane] += partial[lane + stride];
        }
        workgroupBarrier();
    }
    let result = partial[0];
    workgroupBarrier();
    return result;
}
