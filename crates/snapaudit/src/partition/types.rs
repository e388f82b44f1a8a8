//! Partition type codes and their readable names.

/// A partition's type as the table records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartitionType {
    /// GPT partition type GUID, uppercase hyphenated.
    Gpt(String),
    /// MBR system id byte.
    Mbr(u8),
    /// No table: the filesystem spans the disk.
    WholeDisk,
}

/// GPT type GUIDs we name (UEFI spec, systemd's Discoverable Partitions
/// Specification, and the common vendor ones).
const GPT_NAMES: &[(&str, &str)] = &[
    ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "esp"),
    ("21686148-6449-6E6F-744E-656564454649", "bios-boot"),
    ("0FC63DAF-8483-4772-8E79-3D69D8477DE4", "linux"),
    ("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "linux-root-x86-64"),
    ("44479540-F297-41B2-9AF7-D131D5F0458A", "linux-root-x86"),
    ("B921B045-1DF0-41C3-AF44-4C6F280D3FAE", "linux-root-arm64"),
    ("4D21B016-B534-45C2-A9FB-5C16E091FD2D", "linux-var"),
    ("933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "linux-home"),
    ("BC13C2FF-59E6-4262-A352-B275FD6F7172", "linux-xbootldr"),
    ("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "swap"),
    ("E6D6D379-F507-44C2-A23C-238F2A3DF928", "lvm"),
    ("A19D880F-05FC-4D3B-A006-743F0F84911E", "linux-raid"),
    ("CA7D7CCB-63ED-4C53-861C-1742536059CC", "luks"),
    (
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
        "microsoft-basic-data",
    ),
    ("E3C9E316-0B5C-4DB8-817D-F92DF00215AE", "microsoft-reserved"),
    ("DE94BBA4-06D1-4D40-A16A-BFD50179D6AC", "windows-recovery"),
    ("6A898CC3-1DD2-11B2-99A6-080020736631", "zfs"),
    ("516E7CB4-6ECF-11D6-8FF8-00022D09712B", "freebsd"),
];

/// MBR system ids we name.
const MBR_NAMES: &[(u8, &str)] = &[
    (0x83, "linux"),
    (0x82, "swap"),
    (0x8e, "lvm"),
    (0xfd, "linux-raid"),
    (0xef, "esp"),
    (0xee, "gpt-protective"),
    (0x05, "extended"),
    (0x0f, "extended"),
    (0x85, "extended"),
    (0x01, "fat12"),
    (0x04, "fat16"),
    (0x06, "fat16"),
    (0x0b, "fat32"),
    (0x0c, "fat32"),
    (0x0e, "fat16"),
    (0x07, "ntfs"),
    (0xa5, "freebsd"),
    (0xa6, "openbsd"),
    (0xa9, "netbsd"),
];

impl PartitionType {
    /// A short readable name: `linux`, `bios-boot`, `esp`, `swap`, `lvm`, …
    /// or `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            PartitionType::Gpt(guid) => GPT_NAMES
                .iter()
                .find(|(g, _)| g.eq_ignore_ascii_case(guid))
                .map_or("unknown", |(_, n)| n),
            PartitionType::Mbr(id) => MBR_NAMES
                .iter()
                .find(|(b, _)| b == id)
                .map_or("unknown", |(_, n)| n),
            PartitionType::WholeDisk => "whole-disk",
        }
    }

    /// The raw code: the GUID, or the MBR byte as `0x83`.
    pub fn code(&self) -> String {
        match self {
            PartitionType::Gpt(g) => g.clone(),
            PartitionType::Mbr(b) => format!("0x{b:02x}"),
            PartitionType::WholeDisk => String::new(),
        }
    }

    /// An MBR extended partition: a container of logical partitions.
    pub fn is_container(&self) -> bool {
        matches!(self, PartitionType::Mbr(0x05 | 0x0f | 0x85))
    }

    pub fn is_bios_boot(&self) -> bool {
        self.name() == "bios-boot"
    }

    pub fn is_esp(&self) -> bool {
        self.name() == "esp"
    }
}
