//! LVM2: the metadata text grammar and the volume group built from it (LV
//! maps, overlaps, free extents), and the same input as the start of a PV
//! (label, PV header, metadata areas) and as a whole disk (volume groups
//! read end to end).
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::image::Image;
use snapaudit::volume::Volumes;
use snapaudit::volume::lvm::{label, mda, text, vg::VgMeta};

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = text::parse(data)
        && let Ok(vg) = VgMeta::from_text(&root)
    {
        let _ = vg.overlaps();
        for (i, lv) in vg.lvs.iter().enumerate().take(64) {
            let _ = vg.map(&lv.name, &|_| true);
            let _ = vg.map(&lv.name, &|pv| pv % 2 == i % 2);
        }
        for pv in 0..vg.pvs.len().min(64) {
            let _ = vg.free_extents(pv);
        }
    }
    // As a PV: the label in the first four sectors, its metadata areas in
    // a 1 MiB prefix.
    let pv = snapaudit_fuzz::padded(data, 1 << 20);
    if let Ok(Some(l)) = label::read(&pv) {
        for area in l.metadata_areas.iter().take(8) {
            let _ = mda::read(&pv, *area);
        }
    }
    // As a whole disk: probe, label, metadata, VGs, LV probes.
    let image = Image::from_bytes("fuzz.raw", pv);
    if let Ok(v) = Volumes::read(&image) {
        for lv in v.lvm.lvs() {
            let _ = lv.volume(&image);
        }
    }
});
