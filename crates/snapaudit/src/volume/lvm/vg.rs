//! A volume group from its metadata text, and the mapping of each logical
//! volume onto its physical volumes.
//!
//! The sections and keys are those lvm2 writes (`lib/format_text/export.c`,
//! `import_vsn1.c`): `extent_size`, `pe_start` and `dev_size` are in
//! 512-byte sectors, `start_extent`/`extent_count` and the stripe offsets in
//! extents, `stripe_size` in sectors.

use std::collections::HashSet;

use super::text::{Section, Value};

const SECTOR_BYTES: u64 = 512;
/// Most runs one logical volume is cut into. A striped LV has one run per
/// stripe chunk (a 64 KiB chunk on two stripes makes 16 384 runs per GiB),
/// so this caps a striped LV at about 16 GiB of 64 KiB chunks; above it the
/// LV is [`LvError::Unsupported`] rather than a huge allocation.
pub const MAX_RUNS: usize = 1 << 18;
/// Deepest LV-on-LV stacking followed (a mirror leg is one level).
const MAX_STACK: usize = 4;

/// One physical volume as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvMeta {
    /// The key of its section: `pv0`, `pv1`, …
    pub name: String,
    /// The PV UUID without dashes (as in the label).
    pub uuid: String,
    pub pe_start_bytes: u64,
    pub pe_count: u64,
    pub dev_size_bytes: u64,
}

/// What a segment maps onto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentKind {
    /// `striped` (linear is one stripe): `(PV or LV name, first extent)` per
    /// stripe, and the chunk size.
    Striped {
        stripe_bytes: u64,
        stripes: Vec<(String, u64)>,
    },
    /// `mirror` or `raid1`: the image sub-LVs, each a full copy.
    Mirror { images: Vec<(String, u64)> },
    /// Any other type (`thin`, `thin-pool`, `cache`, `writecache`, `vdo`,
    /// `raid5`, `snapshot`, …), by name.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMeta {
    pub start_extent: u64,
    pub extent_count: u64,
    pub kind: SegmentKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvMeta {
    pub name: String,
    pub uuid: String,
    /// Shown by `lvs` (sub-LVs such as `root_rimage_0` are not).
    pub visible: bool,
    pub segments: Vec<SegmentMeta>,
}

/// A volume group's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgMeta {
    pub name: String,
    pub uuid: String,
    pub seqno: u64,
    pub extent_bytes: u64,
    pub pvs: Vec<PvMeta>,
    pub lvs: Vec<LvMeta>,
}

/// A run of an LV on one PV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PvRun {
    pub lv_offset: u64,
    /// Index into [`VgMeta::pvs`].
    pub pv: usize,
    /// Byte offset from the PV's first byte.
    pub pv_offset: u64,
    pub len: u64,
}

/// Why an LV cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LvError {
    /// A segment type snapaudit does not read.
    Unsupported(String),
    /// A PV it needs is not on this disk.
    Missing(String),
    /// The metadata contradicts itself.
    Corrupt(String),
}

impl std::fmt::Display for LvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LvError::Unsupported(s) | LvError::Missing(s) | LvError::Corrupt(s) => f.write_str(s),
        }
    }
}

fn uint(s: &Section, key: &str, what: &str) -> Result<u64, String> {
    let v = s
        .int(key)
        .ok_or_else(|| format!("{what}: no integer {key}"))?;
    u64::try_from(v).map_err(|_| format!("{what}: {key} = {v} is negative"))
}

fn sectors(s: &Section, key: &str, what: &str) -> Result<u64, String> {
    uint(s, key, what)?
        .checked_mul(SECTOR_BYTES)
        .ok_or_else(|| format!("{what}: {key} is too large"))
}

/// `(name, number)` pairs of an array such as `stripes = ["pv0", 0, …]`.
fn pairs(arr: &[Value], what: &str) -> Result<Vec<(String, u64)>, String> {
    if !arr.len().is_multiple_of(2) || arr.is_empty() {
        return Err(format!("{what}: expects name, extent pairs"));
    }
    arr.chunks_exact(2)
        .map(|p| match p {
            [Value::Str(n), Value::Int(e)] if *e >= 0 => Ok((n.clone(), *e as u64)),
            _ => Err(format!("{what}: expects name, extent pairs")),
        })
        .collect()
}

impl VgMeta {
    /// The VG of a parsed metadata text: its one top-level section.
    pub fn from_text(root: &Section) -> Result<VgMeta, String> {
        let [(name, vg)] = root.sections.as_slice() else {
            return Err(format!(
                "metadata text holds {} top-level sections, expected one volume group",
                root.sections.len()
            ));
        };
        let what = format!("VG {name}");
        let extent_bytes = sectors(vg, "extent_size", &what)?;
        if extent_bytes == 0 {
            return Err(format!("{what}: extent_size is 0"));
        }
        let mut pvs = Vec::new();
        for (pv_name, pv) in vg
            .section("physical_volumes")
            .map(|s| s.sections.as_slice())
            .unwrap_or_default()
        {
            let what = format!("{what}: PV {pv_name}");
            let pe_start_bytes = sectors(pv, "pe_start", &what)?;
            let pe_count = uint(pv, "pe_count", &what)?;
            // Every extent offset computed later fits in 64 bits.
            pe_count
                .checked_mul(extent_bytes)
                .and_then(|b| b.checked_add(pe_start_bytes))
                .ok_or_else(|| format!("{what}: {pe_count} extents do not fit in 64 bits"))?;
            pvs.push(PvMeta {
                name: pv_name.clone(),
                uuid: pv.str("id").unwrap_or_default().replace('-', ""),
                pe_start_bytes,
                pe_count,
                dev_size_bytes: sectors(pv, "dev_size", &what).unwrap_or(0),
            });
        }
        let mut lvs = Vec::new();
        for (lv_name, lv) in vg
            .section("logical_volumes")
            .map(|s| s.sections.as_slice())
            .unwrap_or_default()
        {
            let what = format!("{what}: LV {lv_name}");
            let mut segments = Vec::new();
            for (seg_name, seg) in &lv.sections {
                if !seg_name.starts_with("segment") {
                    continue;
                }
                let what = format!("{what} {seg_name}");
                let ty = seg.str("type").unwrap_or("striped");
                let kind = match ty {
                    "striped" | "linear" => SegmentKind::Striped {
                        stripe_bytes: sectors(seg, "stripe_size", &what).unwrap_or(0),
                        stripes: pairs(seg.array("stripes").unwrap_or_default(), &what)?,
                    },
                    "mirror" => SegmentKind::Mirror {
                        images: pairs(seg.array("mirrors").unwrap_or_default(), &what)?,
                    },
                    "raid1" => {
                        // raids = [rmeta_0, rimage_0, rmeta_1, rimage_1, …]
                        let names: Vec<&str> = seg.strings("raids");
                        if names.is_empty() || !names.len().is_multiple_of(2) {
                            return Err(format!("{what}: raids expects meta, image pairs"));
                        }
                        SegmentKind::Mirror {
                            images: names
                                .chunks_exact(2)
                                .filter_map(|p| p.get(1))
                                .map(|n| (n.to_string(), 0))
                                .collect(),
                        }
                    }
                    other => SegmentKind::Other(other.to_string()),
                };
                segments.push(SegmentMeta {
                    start_extent: uint(seg, "start_extent", &what)?,
                    extent_count: uint(seg, "extent_count", &what)?,
                    kind,
                });
            }
            segments.sort_by_key(|s| s.start_extent);
            lvs.push(LvMeta {
                name: lv_name.clone(),
                uuid: lv.str("id").unwrap_or_default().to_string(),
                visible: lv.strings("status").contains(&"VISIBLE"),
                segments,
            });
        }
        Ok(VgMeta {
            name: name.clone(),
            uuid: vg.str("id").unwrap_or_default().to_string(),
            seqno: uint(vg, "seqno", &what)?,
            extent_bytes,
            pvs,
            lvs,
        })
    }

    pub fn lv(&self, name: &str) -> Option<&LvMeta> {
        self.lvs.iter().find(|l| l.name == name)
    }

    /// Bytes of an LV: the sum of its segments' extents.
    pub fn lv_bytes(&self, lv: &LvMeta) -> u64 {
        lv.segments
            .iter()
            .map(|s| s.extent_count.saturating_mul(self.extent_bytes))
            .fold(0, u64::saturating_add)
    }

    /// Map the LV called `name` onto the PVs. `present(pv)` says whether
    /// PV `pv` (an index into [`VgMeta::pvs`]) is on this disk; a mirror
    /// or raid1 LV is read from its first image whose PVs all are.
    pub fn map(&self, name: &str, present: &dyn Fn(usize) -> bool) -> Result<Vec<PvRun>, LvError> {
        let mut out = Vec::new();
        let mut stack = HashSet::new();
        self.map_into(name, 0, u64::MAX, 0, present, &mut stack, &mut out)?;
        Ok(out)
    }

    /// Append the runs of extents `from_extent..from_extent + extents` of LV
    /// `name` to `out`, at LV offset `at` of the top LV.
    #[allow(clippy::too_many_arguments)]
    fn map_into(
        &self,
        name: &str,
        from_extent: u64,
        extents: u64,
        at: u64,
        present: &dyn Fn(usize) -> bool,
        stack: &mut HashSet<String>,
        out: &mut Vec<PvRun>,
    ) -> Result<u64, LvError> {
        let corrupt = |s: String| LvError::Corrupt(format!("LV {}/{name}: {s}", self.name));
        let lv = self
            .lv(name)
            .ok_or_else(|| corrupt("a segment names an LV that does not exist".into()))?;
        if !stack.insert(name.to_string()) {
            return Err(corrupt("a segment maps the LV onto itself".into()));
        }
        if stack.len() > MAX_STACK {
            return Err(LvError::Unsupported(format!(
                "LV {}/{name}: stacked more than {MAX_STACK} LVs deep",
                self.name
            )));
        }
        let ext = self.extent_bytes;
        // The segments must tile the LV from extent 0.
        let mut next = 0u64;
        for s in &lv.segments {
            if s.start_extent != next || s.extent_count == 0 {
                return Err(corrupt(format!(
                    "segments overlap or leave a gap: a segment starts at extent {}, the previous one ends at {next}",
                    s.start_extent
                )));
            }
            next = next
                .checked_add(s.extent_count)
                .filter(|n| n.checked_mul(ext).is_some())
                .ok_or_else(|| corrupt("the LV's size does not fit in 64 bits".into()))?;
        }
        let want_end = from_extent.saturating_add(extents).min(next);
        let mut written = 0u64;
        for s in &lv.segments {
            let seg_end = s.start_extent + s.extent_count;
            let lo = from_extent.max(s.start_extent);
            let hi = want_end.min(seg_end);
            if lo >= hi {
                continue;
            }
            let seg_at = at + written;
            match &s.kind {
                SegmentKind::Other(ty) => {
                    return Err(LvError::Unsupported(format!(
                        "LV {}/{name} is a {ty} volume, which snapaudit does not read",
                        self.name
                    )));
                }
                SegmentKind::Mirror { images } => {
                    let mut last = None;
                    let mut done = false;
                    for (image, image_start) in images {
                        let mut runs = Vec::new();
                        let first = image_start.saturating_add(lo - s.start_extent);
                        match self.map_into(
                            image,
                            first,
                            hi - lo,
                            seg_at,
                            present,
                            stack,
                            &mut runs,
                        ) {
                            Ok(_) => {
                                out.extend(runs);
                                done = true;
                                break;
                            }
                            Err(e @ LvError::Missing(_)) => last = Some(e),
                            Err(e) => return Err(e),
                        }
                    }
                    if !done {
                        return Err(
                            last.unwrap_or_else(|| corrupt("a mirror with no images".into()))
                        );
                    }
                }
                SegmentKind::Striped {
                    stripe_bytes,
                    stripes,
                } => {
                    let n = stripes.len() as u64;
                    if !s.extent_count.is_multiple_of(n) {
                        return Err(corrupt(format!(
                            "{} extents do not divide into {n} stripes",
                            s.extent_count
                        )));
                    }
                    let area_extents = s.extent_count / n;
                    let area_bytes = area_extents * ext;
                    // Where each stripe's area is: a PV range, or an LV.
                    let mut areas = Vec::new();
                    for (target, first) in stripes {
                        if let Some(pv) = self.pvs.iter().position(|p| &p.name == target) {
                            let Some(pvm) = self.pvs.get(pv) else {
                                continue;
                            };
                            if first
                                .checked_add(area_extents)
                                .is_none_or(|e| e > pvm.pe_count)
                            {
                                return Err(corrupt(format!(
                                    "extents {first}..{} of {target} are past the PV's {} extents",
                                    first.saturating_add(area_extents),
                                    pvm.pe_count
                                )));
                            }
                            if !present(pv) {
                                return Err(LvError::Missing(format!(
                                    "LV {}/{name} has extents on {target} (PV {}), which is not on this disk",
                                    self.name,
                                    super::label::format_uuid(&pvm.uuid)
                                )));
                            }
                            areas.push(Area::Pv(pv, pvm.pe_start_bytes + first * ext));
                        } else {
                            areas.push(Area::Lv(target, *first));
                        }
                    }
                    let skip = (lo - s.start_extent) * ext;
                    let take = (hi - lo) * ext;
                    if n == 1 {
                        let area = areas
                            .first()
                            .copied()
                            .ok_or_else(|| corrupt("no stripes".into()))?;
                        self.area_runs(area, skip, take, seg_at, present, stack, out)?;
                    } else {
                        let chunk = *stripe_bytes;
                        let row_bytes = chunk.checked_mul(n).unwrap_or(0);
                        if chunk == 0
                            || row_bytes == 0
                            || !area_bytes.is_multiple_of(chunk)
                            || !skip.is_multiple_of(row_bytes)
                        {
                            return Err(corrupt(format!(
                                "stripe size {chunk} does not divide the {area_bytes}-byte stripe area"
                            )));
                        }
                        let chunks = take / chunk;
                        if chunks > MAX_RUNS as u64 {
                            return Err(LvError::Unsupported(format!(
                                "LV {}/{name}: striped into {chunks} chunks; snapaudit maps at most {MAX_RUNS}",
                                self.name
                            )));
                        }
                        let first_chunk = skip / chunk;
                        for i in 0..chunks {
                            let c = first_chunk + i;
                            let Some(&area) = areas.get((c % n) as usize) else {
                                continue;
                            };
                            let row = c / n;
                            self.area_runs(
                                area,
                                row * chunk,
                                chunk,
                                seg_at + i * chunk,
                                present,
                                stack,
                                out,
                            )?;
                        }
                    }
                }
            }
            written += (hi - lo) * ext;
            if out.len() > MAX_RUNS {
                return Err(LvError::Unsupported(format!(
                    "LV {}/{name}: more than {MAX_RUNS} runs",
                    self.name
                )));
            }
        }
        stack.remove(name);
        Ok(written)
    }

    /// Runs of `len` bytes at `skip` into a stripe area.
    #[allow(clippy::too_many_arguments)]
    fn area_runs(
        &self,
        area: Area<'_>,
        skip: u64,
        len: u64,
        at: u64,
        present: &dyn Fn(usize) -> bool,
        stack: &mut HashSet<String>,
        out: &mut Vec<PvRun>,
    ) -> Result<(), LvError> {
        match area {
            Area::Pv(pv, start) => {
                let run = PvRun {
                    lv_offset: at,
                    pv,
                    pv_offset: start + skip,
                    len,
                };
                match out.last_mut() {
                    Some(l)
                        if l.pv == pv
                            && l.lv_offset + l.len == at
                            && l.pv_offset + l.len == run.pv_offset =>
                    {
                        l.len += len;
                    }
                    _ => out.push(run),
                }
                Ok(())
            }
            Area::Lv(lv, first) => {
                let ext = self.extent_bytes;
                if !skip.is_multiple_of(ext) || !len.is_multiple_of(ext) {
                    return Err(LvError::Unsupported(format!(
                        "VG {}: a striped segment over LV {lv} with chunks smaller than an extent",
                        self.name
                    )));
                }
                self.map_into(lv, first + skip / ext, len / ext, at, present, stack, out)
                    .map(|_| ())
            }
        }
    }

    /// Check that no two LVs (visible or not) use the same extents of a
    /// PV. Returns the pairs of LV names that do, with a message.
    pub fn overlaps(&self) -> Vec<(String, String, String)> {
        let mut used: Vec<(usize, u64, u64, &str)> = Vec::new();
        for lv in &self.lvs {
            for s in &lv.segments {
                if let SegmentKind::Striped { stripes, .. } = &s.kind {
                    let per = s.extent_count / (stripes.len() as u64).max(1);
                    for (target, first) in stripes {
                        if let Some(pv) = self.pvs.iter().position(|p| &p.name == target) {
                            used.push((pv, *first, first.saturating_add(per), &lv.name));
                        }
                    }
                }
            }
        }
        used.sort_unstable();
        let mut out = Vec::new();
        for w in used.windows(2) {
            if let [a, b] = w
                && a.0 == b.0
                && b.1 < a.2
            {
                out.push((
                    a.3.to_string(),
                    b.3.to_string(),
                    format!(
                        "VG {}: LVs {} and {} both use extent {} of {}",
                        self.name,
                        a.3,
                        b.3,
                        b.1,
                        self.pvs.get(a.0).map_or("?", |p| p.name.as_str())
                    ),
                ));
            }
        }
        out
    }

    /// The extent ranges of PV `pv` no LV uses: `(first, count)`.
    pub fn free_extents(&self, pv: usize) -> Vec<(u64, u64)> {
        let Some(pvm) = self.pvs.get(pv) else {
            return Vec::new();
        };
        let mut used: Vec<(u64, u64)> = Vec::new();
        for lv in &self.lvs {
            for s in &lv.segments {
                if let SegmentKind::Striped { stripes, .. } = &s.kind {
                    let per = s.extent_count / (stripes.len() as u64).max(1);
                    for (target, first) in stripes {
                        if *target == pvm.name {
                            used.push((*first, first.saturating_add(per).min(pvm.pe_count)));
                        }
                    }
                }
            }
        }
        used.sort_unstable();
        let mut out = Vec::new();
        let mut at = 0u64;
        for (s, e) in used
            .into_iter()
            .chain(std::iter::once((pvm.pe_count, pvm.pe_count)))
        {
            if s > at {
                out.push((at, s - at));
            }
            at = at.max(e);
        }
        out
    }
}

#[derive(Debug, Clone, Copy)]
enum Area<'a> {
    /// PV index and byte offset of the area in the PV.
    Pv(usize, u64),
    /// LV name and first extent in it.
    Lv(&'a str, u64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::lvm::text;

    fn vg(lvs: &str) -> VgMeta {
        let t = format!(
            r#"vg0 {{ id = "v" seqno = 7 extent_size = 8
physical_volumes {{
 pv0 {{ id = "aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa" dev_size = 2048 pe_start = 64 pe_count = 100 }}
 pv1 {{ id = "bbbbbb-bbbb-bbbb-bbbb-bbbb-bbbb-bbbbbb" dev_size = 2048 pe_start = 128 pe_count = 100 }}
}}
logical_volumes {{ {lvs} }} }}"#
        );
        VgMeta::from_text(&text::parse(t.as_bytes()).unwrap()).unwrap()
    }

    const ALL: &dyn Fn(usize) -> bool = &|_| true;

    #[test]
    fn linear_and_fragmented() {
        let v = vg(r#"root { status = ["READ", "VISIBLE"]
            segment1 { start_extent = 0 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 10] }
            segment2 { start_extent = 2 extent_count = 3 type = "striped" stripe_count = 1 stripes = ["pv0", 12] }
            segment3 { start_extent = 5 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv1", 0] } }"#);
        assert_eq!(v.seqno, 7);
        assert_eq!(v.extent_bytes, 4096);
        assert_eq!(v.pvs[0].uuid, "a".repeat(32));
        let runs = v.map("root", ALL).unwrap();
        // Segments 1 and 2 are contiguous on pv0: one run.
        assert_eq!(
            runs,
            [
                PvRun {
                    lv_offset: 0,
                    pv: 0,
                    pv_offset: 64 * 512 + 10 * 4096,
                    len: 5 * 4096
                },
                PvRun {
                    lv_offset: 5 * 4096,
                    pv: 1,
                    pv_offset: 128 * 512,
                    len: 4096
                },
            ]
        );
        assert_eq!(v.free_extents(0), [(0, 10), (15, 85)]);
        assert!(v.lvs[0].visible);
        // pv1 missing.
        assert!(matches!(
            v.map("root", &|pv| pv == 0),
            Err(LvError::Missing(_))
        ));
    }

    #[test]
    fn striped_interleaves_chunks() {
        let v = vg(
            r#"s { segment1 { start_extent = 0 extent_count = 4 type = "striped" stripe_count = 2 stripe_size = 4 stripes = ["pv0", 0, "pv1", 5] } }"#,
        );
        let runs = v.map("s", ALL).unwrap();
        // 2 KiB chunks, 2 extents (8 KiB) per stripe: 8 chunks alternating.
        assert_eq!(runs.len(), 8);
        for (i, r) in runs.iter().enumerate() {
            let i = i as u64;
            assert_eq!(r.lv_offset, i * 2048);
            assert_eq!(r.pv, (i % 2) as usize);
            let base = if i.is_multiple_of(2) {
                64 * 512
            } else {
                128 * 512 + 5 * 4096
            };
            assert_eq!(r.pv_offset, base + (i / 2) * 2048);
        }
    }

    #[test]
    fn mirror_reads_a_present_leg_and_others_are_unsupported() {
        let v = vg(
            r#"m { status = ["VISIBLE"] segment1 { start_extent = 0 extent_count = 2 type = "raid1" raids = ["m_rmeta_0", "m_rimage_0", "m_rmeta_1", "m_rimage_1"] } }
            m_rimage_0 { segment1 { start_extent = 0 extent_count = 2 type = "striped" stripes = ["pv0", 1] } }
            m_rimage_1 { segment1 { start_extent = 0 extent_count = 2 type = "striped" stripes = ["pv1", 1] } }
            t { status = ["VISIBLE"] segment1 { start_extent = 0 extent_count = 2 type = "thin" thin_pool = "pool" } }"#,
        );
        let runs = v.map("m", &|pv| pv == 1).unwrap();
        assert_eq!(
            runs,
            [PvRun {
                lv_offset: 0,
                pv: 1,
                pv_offset: 128 * 512 + 4096,
                len: 8192
            }]
        );
        assert_eq!(v.map("m", ALL).unwrap()[0].pv, 0);
        assert!(matches!(v.map("m", &|_| false), Err(LvError::Missing(_))));
        let e = v.map("t", ALL).unwrap_err();
        assert!(
            matches!(&e, LvError::Unsupported(m) if m.contains("vg0/t is a thin volume")),
            "{e}"
        );
    }

    #[test]
    fn hostile_maps_are_errors() {
        let v = vg(
            r#"past { segment1 { start_extent = 0 extent_count = 20 stripes = ["pv0", 90] } }
            gap { segment1 { start_extent = 0 extent_count = 1 stripes = ["pv0", 0] } segment2 { start_extent = 3 extent_count = 1 stripes = ["pv0", 1] } }
            self { segment1 { start_extent = 0 extent_count = 1 stripes = ["self", 0] } }
            loop_a { segment1 { start_extent = 0 extent_count = 1 stripes = ["loop_b", 0] } }
            loop_b { segment1 { start_extent = 0 extent_count = 1 stripes = ["loop_a", 0] } }
            dup { segment1 { start_extent = 0 extent_count = 2 stripes = ["pv0", 1] } }
            nolv { segment1 { start_extent = 0 extent_count = 1 stripes = ["ghost", 0] } }"#,
        );
        let msg = |lv: &str| v.map(lv, ALL).unwrap_err().to_string();
        assert!(msg("past").contains("past the PV"), "{}", msg("past"));
        assert!(msg("gap").contains("gap"));
        assert!(msg("self").contains("onto itself"));
        assert!(msg("loop_a").contains("onto itself"));
        assert!(msg("nolv").contains("does not exist"));
        let o = v.overlaps();
        assert!(
            o.iter()
                .any(|(a, b, _)| a == "dup" && b == "gap" || a == "gap" && b == "dup"),
            "{o:?}"
        );
        // A bad value in the text is an error, not a panic.
        for bad in [
            r#"vg0 { seqno = 1 extent_size = 0 }"#,
            r#"vg0 { seqno = -1 extent_size = 8 }"#,
            r#"vg0 { seqno = 1 extent_size = 9223372036854775807 }"#,
            r#"a { } b { }"#,
            r#"vg0 { seqno = 1 extent_size = 8 logical_volumes { x { segment1 { start_extent = 0 extent_count = 1 stripes = ["pv0"] } } } }"#,
        ] {
            assert!(
                VgMeta::from_text(&text::parse(bad.as_bytes()).unwrap()).is_err(),
                "{bad}"
            );
        }
    }
}
