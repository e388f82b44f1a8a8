//! LVM2 volume groups and encrypted volumes, against disks the real lvm2
//! and cryptsetup wrote (`testdata/build-lvm-fixtures.sh`): LV maps equal
//! `lvs --segments`, files equal debugfs on the filesystem images copied in,
//! and a system check of a `/boot` + LVM root disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use snapaudit::ext4::Segment;
use snapaudit::image::Image;
use snapaudit::report::{Report, Severity};
use snapaudit::rules::{CheckOptions, Profile, ScanPolicy, check};
use snapaudit::volume::{LvProblem, Volumes};
use snapaudit_tests::fixtures::{run_ok, tool};
use snapaudit_tests::lvm_fixtures;

fn path(name: &str) -> PathBuf {
    lvm_fixtures().join(name)
}

fn volumes(name: &str) -> (Image, Volumes) {
    let image = Image::open(path(&format!("{name}.img"))).expect("fixture opens");
    let v = Volumes::read(&image).expect("table reads");
    (image, v)
}

/// `lvs --segments` of fixture `name` as the expected disk runs of each
/// LV (hidden ones too, named without brackets), with the segment type.
fn expected(name: &str) -> BTreeMap<String, (Vec<String>, Vec<Segment>)> {
    let pvs: BTreeMap<String, u64> = std::fs::read_to_string(path(&format!("{name}.pvs")))
        .unwrap()
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), w[2].parse().unwrap())
        })
        .collect();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path(&format!("{name}.lvs.json"))).unwrap())
            .unwrap();
    let mut out: BTreeMap<String, (Vec<String>, Vec<Segment>)> = BTreeMap::new();
    for row in json["report"][0]["seg"].as_array().unwrap() {
        let f = |k: &str| row[k].as_str().unwrap().to_string();
        let n = |k: &str| f(k).parse::<u64>().unwrap();
        let lv = f("lv_name").trim_matches(['[', ']']).to_string();
        let entry = out.entry(lv).or_default();
        entry.0.push(f("segtype"));
        let ext = n("vg_extent_size");
        let areas: Vec<u64> = f("seg_pe_ranges")
            .split_whitespace()
            .filter_map(|a| {
                let (dev, range) = a.rsplit_once(':')?;
                let first: u64 = range.split('-').next()?.parse().ok()?;
                Some(pvs.get(dev)? + first * ext)
            })
            .collect();
        if areas.is_empty() {
            continue;
        }
        let start = n("seg_start_pe") * ext;
        let size = n("seg_size_pe") * ext;
        let stripes = areas.len() as u64;
        let chunk = if stripes > 1 { n("stripe_size") } else { size };
        for i in 0..size / chunk {
            let disk = areas[(i % stripes) as usize] + (i / stripes) * chunk;
            let at = start + i * chunk;
            match entry.1.last_mut() {
                Some(l) if l.disk_offset + l.len == disk && l.volume_offset + l.len == at => {
                    l.len += chunk;
                }
                _ => entry.1.push(Segment {
                    volume_offset: at,
                    disk_offset: disk,
                    len: chunk,
                }),
            }
        }
    }
    out
}

#[test]
fn lv_maps_equal_lvs_segments() {
    for (name, vg, lvs) in [
        ("lvm-sys-mbr", "vg0", &["root", "swap"][..]),
        ("lvm-gpt", "my-vg", &["my-root"][..]),
        ("lvm-whole", "wd", &["data", "secret"][..]),
        ("lvm-striped", "st", &["pad", "stripe"][..]),
        ("lvm-frag", "fr", &["frag", "other"][..]),
        ("lvm-thin", "th", &["plain"][..]),
    ] {
        let (_image, v) = volumes(name);
        assert!(v.lvm.problems.is_empty(), "{name}: {:?}", v.lvm.problems);
        let want = expected(name);
        for lv in lvs {
            let got = v.lvm.get(&format!("{vg}/{lv}")).unwrap();
            assert_eq!(got.problem, None, "{name} {lv}");
            assert_eq!(
                got.segments(),
                want[*lv].1,
                "{name}: {vg}/{lv} against lvs --segments"
            );
            assert_eq!(
                got.size_bytes,
                want[*lv].1.iter().map(|s| s.len).sum::<u64>(),
                "{name} {lv}"
            );
        }
        let visible: Vec<String> = v.lvm.lvs().map(|l| l.lv.clone()).collect();
        assert!(
            visible.iter().all(|l| !l.contains("_t")),
            "{name}: hidden LVs listed: {visible:?}"
        );
    }
    // The fragmented LV has three runs, the striped one a run per 64 KiB chunk.
    let (_i, v) = volumes("lvm-frag");
    assert!(v.lvm.get("fr/frag").unwrap().runs.len() > 1);
    let (_i, v) = volumes("lvm-striped");
    assert_eq!(v.lvm.get("st/stripe").unwrap().runs.len(), 32 * 1024 / 64);
}

#[test]
fn the_newest_metadata_wins_after_the_buffer_wraps() {
    let (image, v) = volumes("lvm-frag");
    let seqno: u64 = std::fs::read_to_string(path("lvm-frag.seqno"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(seqno > 40, "the fixture rewrote its metadata {seqno} times");
    assert_eq!(v.lvm.groups[0].seqno, seqno);
    // The fixture rewrote the metadata until the current copy wraps around
    // the end of the 1 MiB area: it is read in two parts.
    let raw = std::fs::read(path("lvm-frag.img")).unwrap();
    let label = snapaudit::volume::lvm::label::read(&raw).unwrap().unwrap();
    let area = label.metadata_areas[0];
    let text = snapaudit::volume::lvm::mda::read(&raw, area)
        .unwrap()
        .unwrap();
    let end_in_area = text.offset - area.offset + text.text.len() as u64;
    assert!(
        end_in_area > area.size,
        "metadata at {} ({} bytes) does not wrap the {}-byte area",
        text.offset,
        text.text.len(),
        area.size
    );
    drop(image);
}

#[test]
fn files_on_lvs_equal_debugfs() {
    for (name, lv, fs) in [
        ("lvm-gpt", "my-vg/my-root", "lvm-gpt.my-root.fs"),
        ("lvm-whole", "wd/data", "lvm-whole.data.fs"),
        ("lvm-striped", "st/stripe", "lvm-striped.stripe.fs"),
        ("lvm-frag", "fr/frag", "lvm-frag.frag.fs"),
    ] {
        let (image, v) = volumes(name);
        let vol = v.lvm.get(lv).unwrap().volume(&image).unwrap();
        let fsys = vol.open().unwrap();
        for file in ["/data/big.txt", "/data/hello.txt"] {
            let ours = fsys.read_limited(file, 64 << 20).unwrap();
            let theirs = run_ok(
                tool("debugfs")
                    .arg("-R")
                    .arg(format!("cat {file}"))
                    .arg(path(fs)),
            )
            .stdout;
            assert_eq!(ours.len(), theirs.len(), "{name} {file}");
            assert!(ours == theirs, "{name}: {file} differs from debugfs");
        }
        assert_eq!(
            Some(fsys.uuid()),
            v.lvm
                .get(lv)
                .unwrap()
                .fs
                .as_ref()
                .and_then(|f| f.uuid.clone())
        );
    }
}

fn system_check(name: &str, profile: Profile, scan: ScanPolicy) -> Report {
    let image = Image::open(path(&format!("{name}.img"))).unwrap();
    check_image(&image, profile, scan)
}

fn check_image(image: &Image, profile: Profile, scan: ScanPolicy) -> Report {
    check(
        image,
        &CheckOptions {
            profile,
            scan,
            root_partition: None,
        },
    )
    .unwrap()
}

#[test]
fn a_boot_partition_and_an_lvm_root_are_audited() {
    let r = system_check("lvm-sys-mbr", Profile::alibaba_ecs(), ScanPolicy::Scan);
    let rules: Vec<(&str, Severity, Option<&str>)> = r
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.severity, f.location.volume.as_deref()))
        .collect();
    let lvm_root = r
        .findings
        .iter()
        .find(|f| f.rule == "disk.single-root" && f.location.volume.as_deref() == Some("vg0/root"))
        .unwrap_or_else(|| panic!("no LVM single-root finding: {rules:?}"));
    assert_eq!(lvm_root.severity, Severity::Error);
    assert!(
        lvm_root
            .message
            .contains("Alibaba supports a single root partition")
    );
    assert!(lvm_root.message.contains("cannot grow a root inside LVM"));
    // The /boot partition is another partition besides the root.
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "disk.single-root" && f.location.partition == Some(1))
    );
    for absent in [
        "disk.root-fs",
        "fstab.data-disk",
        "fstab.root-mismatch",
        "boot.root-mismatch",
        "disk.lvm",
    ] {
        assert!(
            !r.findings.iter().any(|f| f.rule == absent),
            "{absent}: {rules:?}"
        );
    }
    // The file rules ran on the LV: the system is known, the root LV named.
    let sys = r.system.as_ref().expect("system facts gathered");
    assert_eq!(
        sys.os.as_ref().and_then(|o| o.id.as_deref()),
        Some("debian")
    );
    assert!(!sys.kernels.is_empty());
    assert_eq!(sys.bootloader.as_deref(), Some("grub2"));
    let root = r
        .disk
        .volumes
        .iter()
        .find(|v| v.name == "vg0/root")
        .unwrap();
    assert_eq!(root.role.as_deref(), Some("root"));
    assert_eq!(root.fs.as_deref(), Some("ext4"));
    assert!(root.segments.iter().all(|s| s.partition == 2));
    let swap = r
        .disk
        .volumes
        .iter()
        .find(|v| v.name == "vg0/swap")
        .unwrap();
    assert_eq!(swap.fs.as_deref(), Some("swap"));
    assert!(r.disk.partitions.iter().all(|p| p.role.is_none()));
    // File findings name the volume they are in.
    for f in r.findings.iter().filter(|f| {
        f.location
            .path
            .as_deref()
            .is_some_and(|p| p.starts_with('/'))
    }) {
        assert_eq!(f.location.volume.as_deref(), Some("vg0/root"), "{f:?}");
    }
    // Under generic the LVM root is a warning.
    let g = system_check("lvm-sys-mbr", Profile::generic(), ScanPolicy::Skip);
    let f = g
        .findings
        .iter()
        .find(|f| f.rule == "disk.single-root" && f.location.volume.is_some())
        .unwrap();
    assert_eq!(f.severity, Severity::Warning);
    // The JSON report carries the volumes and the location field.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["schema"], "snapaudit.report/1");
    assert_eq!(json["disk"]["volumes"][0]["name"], "vg0/root");
    assert!(json["disk"]["volumes"][0]["segments"][0]["pv_offset"].is_u64());
}

#[test]
fn an_fstab_or_grub_naming_another_lv_is_caught() {
    // The fixture's fstab and grub name vg0's LVs: rewriting the copy of
    // the tree is not possible offline, so check the resolution directly.
    let (_image, v) = volumes("lvm-sys-mbr");
    let ids = snapaudit::rules::DiskIds::with_lvm(&v.table, 2, &v.lvm, Some("vg0/root"));
    use snapaudit::rules::OnDisk;
    use snapaudit::system::fstab::Source;
    for (src, want, root) in [
        ("/dev/mapper/vg0-root", OnDisk::Yes, Some(true)),
        ("/dev/vg0/root", OnDisk::Yes, Some(true)),
        ("/dev/mapper/vg0-swap", OnDisk::Yes, Some(false)),
        ("/dev/vg0/data", OnDisk::No, Some(false)),
        ("/dev/mapper/othervg-root", OnDisk::Unknown, None),
    ] {
        let s = Source::parse(src);
        assert_eq!(ids.contains(&s), want, "{src}");
        assert_eq!(ids.is_root(&s), root, "{src}");
    }
    let root_uuid = v
        .lvm
        .get("vg0/root")
        .unwrap()
        .fs
        .as_ref()
        .unwrap()
        .uuid
        .clone()
        .unwrap();
    assert_eq!(
        ids.contains(&Source::parse(&format!("UUID={root_uuid}"))),
        OnDisk::Yes
    );
    assert_eq!(
        ids.is_root(&Source::parse(&format!("UUID={root_uuid}"))),
        Some(true)
    );
    assert!(ids.has_lv("vg0/root") && !ids.has_lv("vg1/root"));
}

#[test]
fn thin_volumes_are_unsupported_and_named() {
    let (_image, v) = volumes("lvm-thin");
    for (lv, ty) in [("th/pool", "thin-pool"), ("th/thin", "thin")] {
        let got = v.lvm.get(lv).unwrap();
        assert!(
            matches!(&got.problem, Some(LvProblem::Unsupported(m)) if m.contains(&format!("{lv} is a {ty} volume"))),
            "{lv}: {:?}",
            got.problem
        );
    }
    let r = system_check("lvm-thin", Profile::alibaba_ecs(), ScanPolicy::Skip);
    let lvm: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.rule == "disk.lvm")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(lvm.len(), 2, "{lvm:?}");
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "disk.root-fs" && f.message.contains("th/thin"))
    );
}

#[test]
fn encrypted_volumes_are_named_and_never_scanned() {
    let r = system_check("luks2-part", Profile::alibaba_ecs(), ScanPolicy::Scan);
    let e: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule == "disk.encrypted")
        .collect();
    assert_eq!(e.len(), 1, "{:?}", r.findings);
    assert_eq!(e[0].severity, Severity::Error);
    assert_eq!(e[0].location.partition, Some(1));
    let uuid = run_ok(
        tool("blkid")
            .args(["-p", "-o", "value", "-s", "UUID", "-O", "1048576"])
            .arg(path("luks2-part.img")),
    );
    let uuid = String::from_utf8_lossy(&uuid.stdout).trim().to_string();
    assert!(!uuid.is_empty());
    assert!(
        e[0].message.contains(&format!("UUID {uuid}")),
        "{}",
        e[0].message
    );
    assert!(
        e[0].message.contains("LUKS2, cipher aes-xts-plain64"),
        "{}",
        e[0].message
    );
    assert!(
        !r.findings.iter().any(|f| f.rule.starts_with("secret.")),
        "{:?}",
        r.findings
    );
    // A LUKS1 logical volume.
    let r = system_check("lvm-whole", Profile::alibaba_ecs(), ScanPolicy::Scan);
    let e: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule == "disk.encrypted")
        .collect();
    assert_eq!(e.len(), 1, "{:?}", r.findings);
    assert_eq!(e[0].location.volume.as_deref(), Some("wd/secret"));
    assert!(
        e[0].message.contains("LUKS1, cipher aes-cbc-essiv:sha256"),
        "{}",
        e[0].message
    );
    assert!(
        !r.findings
            .iter()
            .any(|f| f.rule.starts_with("secret.")
                && f.location.volume.as_deref() == Some("wd/secret")),
        "{:?}",
        r.findings
    );
    let g = system_check("luks2-part", Profile::generic(), ScanPolicy::Skip);
    assert!(
        g.findings
            .iter()
            .any(|f| f.rule == "disk.encrypted" && f.severity == Severity::Warning)
    );
}

#[test]
fn a_secret_in_free_extents_is_deleted_data() {
    // Plant a key in the PV's unused extents of a copy.
    let (image, v) = volumes("lvm-whole");
    let free = v.lvm.groups[0].free.last().copied().unwrap();
    drop(image);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("planted.img");
    std::fs::copy(path("lvm-whole.img"), &copy).unwrap();
    let key = run_ok(
        tool("python3")
            .arg(snapaudit_tests::workspace_root().join("testdata/fixtool.py"))
            .args(["secret", "rsa-pem", "lvm/planted"]),
    )
    .stdout;
    let mut raw = std::fs::read(&copy).unwrap();
    let at = (free.disk_offset + 4096) as usize;
    raw[at..at + key.len()].copy_from_slice(&key);
    std::fs::write(&copy, &raw).unwrap();
    let image = Image::open(&copy).unwrap();
    let r = check_image(&image, Profile::alibaba_ecs(), ScanPolicy::Scan);
    let f = r
        .findings
        .iter()
        .find(|f| f.location.offset_bytes == Some(at as u64))
        .unwrap_or_else(|| panic!("no finding at {at}: {:?}", r.findings));
    assert_eq!(f.rule, "secret.deleted");
    assert!(f.message.contains("volume group wd"), "{}", f.message);
}

#[test]
fn hostile_lvm_disks_give_clear_findings() {
    let dir = tempfile::tempdir().unwrap();
    let raw = std::fs::read(path("lvm-whole.img")).unwrap();
    let label = snapaudit::volume::lvm::label::read(&raw).unwrap().unwrap();
    let area = label.metadata_areas[0];
    let text = snapaudit::volume::lvm::mda::read(&raw, area)
        .unwrap()
        .unwrap();
    for (what, patch) in [
        ("label checksum", (label.label_offset + 100) as usize),
        ("metadata text checksum", (text.offset + 10) as usize),
        ("metadata area header", (area.offset + 5) as usize),
    ] {
        let mut bad = raw.clone();
        bad[patch] ^= 0x55;
        let p = dir.path().join("bad.img");
        std::fs::write(&p, &bad).unwrap();
        let image = Image::open(&p).unwrap();
        let r = check_image(&image, Profile::alibaba_ecs(), ScanPolicy::Skip);
        let f = r
            .findings
            .iter()
            .find(|f| f.rule == "disk.lvm")
            .unwrap_or_else(|| panic!("{what}: {:?}", r.findings));
        assert_eq!(f.severity, Severity::Error, "{what}");
        assert!(
            f.message.contains("partition 0 (LVM2 PV)"),
            "{what}: {}",
            f.message
        );
        assert!(r.disk.volumes.is_empty(), "{what}");
    }
}

#[test]
fn sanitize_does_not_write_inside_a_physical_volume() {
    let image = Image::open(path("lvm-sys-mbr.img")).unwrap();
    let report = check_image(&image, Profile::alibaba_ecs(), ScanPolicy::Scan);
    let plan =
        snapaudit::sanitize::Plan::from_report(&report, &image, &Default::default()).unwrap();
    let v = Volumes::read(&image).unwrap();
    let pv = v.table.get(2).unwrap();
    for r in plan
        .zeroed_ranges()
        .iter()
        .chain(plan.patched_ranges().iter())
    {
        assert!(
            r.offset_bytes + r.len_bytes <= pv.start_bytes || r.offset_bytes >= pv.end_bytes(),
            "the plan writes {r:?} inside the PV"
        );
    }
    // File findings on the root LV are left to a person, naming the LV.
    let on_lv = report
        .findings
        .iter()
        .filter(|f| {
            f.location.volume.as_deref() == Some("vg0/root")
                && f.location.path.is_some()
                && f.severity != Severity::Info
        })
        .count();
    let told = plan
        .not_fixable
        .iter()
        .filter(|n| n.reason.contains("logical volume vg0/root"))
        .count();
    assert!(on_lv > 0, "the fixture has a shell history on vg0/root");
    assert!(told >= on_lv, "{:?}", plan.not_fixable);
}
