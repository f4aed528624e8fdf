//! Every WGSL module the GPU compiles parses and validates with naga (no GPU needed), the
//! preludes parse on their own, and every file under shaders/ is one the engine uses.

use lantern::gpu::{MODULES, SHADERS, reduce};

/// Parses and validates `source`, with the subgroup operations allowed or not.
fn validate(name: &str, source: &str, subgroups: bool) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    // unpack2x16float needs SHADER_FLOAT16_IN_FLOAT32; every WebGPU implementation has it.
    let mut caps = naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32;
    if subgroups {
        caps |= naga::valid::Capabilities::SUBGROUP;
    }
    let mut validator = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps);
    if subgroups {
        validator
            .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
            .subgroup_operations(naga::valid::SubgroupOperationSet::all());
    }
    validator
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
}

/// A kernel that reduces, with both kinds of reductions; the tree kind without subgroups.
fn validate_reducing(name: &str, source: &str) {
    validate(name, &format!("{}{source}", reduce::SOURCE), false);
    let with_subgroups = format!("{}{source}", reduce::SUBGROUP_SOURCE);
    validate(&format!("{name} (subgroups)"), &with_subgroups, true);
}

#[test]
fn every_module_parses_and_validates() {
    for &(name, source, reduces, subgroups) in MODULES {
        if reduces {
            validate_reducing(name, source);
        } else {
            validate(name, source, subgroups);
        }
    }
}

/// attention.wgsl as each model gets it: 1 to 4 query heads per workgroup.
#[test]
fn attention_validates_for_each_count_of_heads() {
    use lantern::gpu::attention;
    for heads in 1..=4 {
        let source = attention::source(heads, attention::kept_scores(heads, 256, 16384));
        validate_reducing(&format!("attention, {heads} heads"), &source);
    }
}

#[test]
fn the_preludes_parse_on_their_own() {
    for (name, source) in SHADERS.iter().filter(|(n, _)| {
        [
            "quant.wgsl",
            "linear.wgsl",
            "reduce.wgsl",
            "reduce_subgroup.wgsl",
        ]
        .contains(n)
    }) {
        naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    }
}

#[test]
fn every_file_in_shaders_is_listed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SHADERS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}
