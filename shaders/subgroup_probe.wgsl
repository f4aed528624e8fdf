// Run once at load where the adapter has subgroups: each invocation writes its subgroup
// size and its lane, so that gpu::Gpu can check what reduce_subgroup.wgsl assumes (one size,
// lanes in local_invocation_index order) before any kernel relies on it.

@group(0) @binding(0) var<storage, read_write> out: array<u32>;  // [WG, 2]: (size, lane)

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(subgroup_size) size: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
    out[2u * tid] = size;
    out[2u * tid + 1u] = lane;
}
