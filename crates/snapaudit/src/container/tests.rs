use super::chain::fill_gaps;
use super::*;

fn host(virt: u64, len: u64, offset: u64) -> Extent {
    Extent {
        virt,
        len,
        data: Data::Host {
            file: FileId(0),
            offset,
        },
    }
}

fn lower(virt: u64, len: u64, offset: u64) -> Extent {
    Extent {
        virt,
        len,
        data: Data::Host {
            file: FileId(1),
            offset,
        },
    }
}

#[test]
fn push_merged_joins_runs_contiguous_in_both_spaces_only() {
    let mut v = Vec::new();
    push_merged(&mut v, host(0, 10, 100));
    push_merged(&mut v, host(10, 10, 110));
    push_merged(&mut v, host(20, 10, 500));
    push_merged(
        &mut v,
        Extent {
            virt: 30,
            len: 5,
            data: Data::Zero,
        },
    );
    push_merged(
        &mut v,
        Extent {
            virt: 35,
            len: 5,
            data: Data::Zero,
        },
    );
    assert_eq!(
        v,
        vec![
            host(0, 20, 100),
            host(20, 10, 500),
            Extent {
                virt: 30,
                len: 10,
                data: Data::Zero
            }
        ]
    );
}

#[test]
fn fill_gaps_takes_the_lower_layer_only_where_the_upper_has_nothing() {
    // Upper: [10,20) and [40,50). Lower: all of [0,60).
    let upper = [host(10, 10, 0), host(40, 10, 10)];
    let low = [lower(0, 60, 1000)];
    let joined = fill_gaps(&upper, &low, 60);
    assert_eq!(
        joined,
        vec![
            lower(0, 10, 1000),
            host(10, 10, 0),
            lower(20, 20, 1020),
            host(40, 10, 10),
            lower(50, 10, 1050),
        ]
    );
    // A lower layer smaller than the disk: nothing past its end; an upper
    // extent past the lower layer's end is kept.
    let joined = fill_gaps(&[host(70, 10, 0)], &[lower(0, 30, 0)], 100);
    assert_eq!(joined, vec![lower(0, 30, 0), host(70, 10, 0)]);
    // A lower layer larger than the disk is clipped to it.
    let joined = fill_gaps(&[], &[lower(0, 300, 0)], 100);
    assert_eq!(joined, vec![lower(0, 100, 0)]);
}

#[test]
fn detect_names_formats_by_magic_and_refuses_ones_it_cannot_read() {
    let mut qcow = vec![0u8; 512];
    qcow[..4].copy_from_slice(b"QFI\xfb");
    assert_eq!(
        detect(&qcow, None, "x").unwrap(),
        Detected::Known(Format::Qcow2)
    );
    let mbr = vec![0u8; 512];
    assert_eq!(detect(&mbr, None, "x").unwrap(), Detected::Raw);
    let mut vhd_tail = vec![0u8; 512];
    vhd_tail[..8].copy_from_slice(b"conectix");
    assert_eq!(
        detect(&mbr, Some(&vhd_tail), "x").unwrap(),
        Detected::Known(Format::VhdFixed)
    );
    let mut qed = vec![0u8; 512];
    qed[..4].copy_from_slice(b"QED\0");
    let err = detect(&qed, None, "x").unwrap_err();
    assert!(err.to_string().contains("QED"), "{err}");
}

#[test]
fn validate_rejects_overlapping_or_out_of_range_extents() {
    let mut layer = Layer::raw(FileId(0), 100);
    assert!(layer.validate("x").is_ok());
    layer.extents = vec![host(0, 50, 0), host(40, 10, 0)];
    assert!(layer.validate("x").is_err());
    layer.extents = vec![host(90, 20, 0)];
    assert!(layer.validate("x").is_err());
}
