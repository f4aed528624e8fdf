//! The workgroup reductions kernels share (`shaders/reduce.wgsl`, a tree in workgroup memory,
//! or `shaders/reduce_subgroup.wgsl`, the same functions on subgroup operations), and the
//! load-time probe that decides whether the subgroup ones may be used on this adapter.

use super::{Gpu, Kernel, Slot};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/reduce.wgsl");
pub const SUBGROUP_SOURCE: &str = include_str!("../../shaders/reduce_subgroup.wgsl");
pub const PROBE_SOURCE: &str = include_str!("../../shaders/subgroup_probe.wgsl");

/// `source` (a kernel that reduces) with the adapter's reductions put before it, and its
/// override constants with the subgroup size added where the subgroup ones are used.
pub fn with_reductions<'a>(
    gpu: &Gpu,
    source: &str,
    constants: &[(&'a str, f64)],
) -> (String, Vec<(&'a str, f64)>) {
    let mut constants = constants.to_vec();
    match gpu.subgroup_size {
        Some(sg) => {
            constants.push(("SG", sg as f64));
            (format!("{}{SUBGROUP_SOURCE}{source}", enable()), constants)
        }
        None => (format!("{SOURCE}{source}"), constants),
    }
}

/// The directive Chromium asks for before subgroup operations; naga refuses it (it checks the
/// device's features instead), so only the page's modules carry it.
fn enable() -> &'static str {
    if cfg!(target_arch = "wasm32") {
        "enable subgroups;\n"
    } else {
        ""
    }
}

/// Invocations of the probe's workgroup: the most any kernel here uses.
const PROBE_WG: u32 = 256;

/// The subgroup size reduce_subgroup.wgsl may assume on `gpu` (whose device has subgroups):
/// every invocation reports the same size `sg`, at least 4 (WebGPU's minimum, which
/// `share4` and `reduce_4` take for granted), and invocation `tid` is lane `tid % sg`.
/// `None` where the adapter does otherwise; the tree reductions are used there.
pub async fn probe(gpu: &Gpu) -> Result<Option<u32>> {
    let source = format!("{}{PROBE_SOURCE}", enable());
    let constants = [("WG", PROBE_WG as f64)];
    let kernel = Kernel::new(
        gpu,
        "subgroup_probe",
        &source,
        &[Slot::ReadWrite],
        &constants,
    )
    .await?;
    let out = gpu.storage("subgroup probe", (PROBE_WG * 2 * 4) as u64)?;
    let bind = kernel.bind(gpu, &[&out]);
    let mut enc = gpu.encoder();
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        kernel.dispatch(gpu, &mut pass, &bind, [1, 1, 1]);
    }
    gpu.submit(enc);
    let got = gpu.read_u32(&out, (PROBE_WG * 2) as usize).await?;
    Ok(linear_subgroups(&got))
}

/// The subgroup size when `(size, lane)` pairs (one per invocation, in index order) show one
/// power-of-two size of at least 4 and lanes in index order.
fn linear_subgroups(pairs: &[u32]) -> Option<u32> {
    let sg = *pairs.first()?;
    let ok = sg.is_power_of_two()
        && sg >= 4
        && pairs
            .chunks(2)
            .enumerate()
            .all(|(tid, p)| p[0] == sg && p[1] == tid as u32 % sg);
    ok.then_some(sg)
}

#[cfg(test)]
mod tests {
    use super::linear_subgroups;

    #[test]
    fn the_probe_accepts_only_one_size_in_index_order() {
        let pairs = |sg: u32, n: u32| (0..n).flat_map(|t| [sg, t % sg]).collect::<Vec<_>>();
        assert_eq!(linear_subgroups(&pairs(8, 64)), Some(8));
        assert_eq!(linear_subgroups(&pairs(32, 16)), Some(32));
        let mut mixed = pairs(8, 64);
        mixed[40] = 16;
        assert_eq!(linear_subgroups(&mixed), None);
        let mut shuffled = pairs(8, 64);
        shuffled.swap(3, 5);
        assert_eq!(linear_subgroups(&shuffled), None);
        assert_eq!(linear_subgroups(&pairs(6, 12)), None);
        assert_eq!(linear_subgroups(&pairs(2, 16)), None);
        assert_eq!(linear_subgroups(&[]), None);
    }
}
