//! LVM2: physical volume labels, metadata areas, the metadata text and the
//! volume groups it describes. Parsers on bytes; [`super`] finds the PVs of
//! a disk and turns logical volumes into volumes.

mod crc;
pub mod label;
pub mod mda;
pub mod text;
pub mod vg;
