//! Helpers for the integration tests in `tests/tests/`: the fixture images
//! built by `testdata/build-fixtures.sh` (see `testdata/FIXTURES.md`), the
//! committed sample disk, and the peer corpus in `testdata/peer-corpus`.
//!
//! Test helpers panic with a clear message instead of returning errors: a
//! missing tool or a failed build should stop the test that needed it.

use std::path::{Path, PathBuf};

pub mod qemu;

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("the tests crate lives one level below the workspace root")
        .to_path_buf()
}

/// `<workspace>/testdata/peer-corpus`: test material written by other
/// projects (see its README.md and SOURCES.txt files), committed with the
/// project so that a fresh clone tests the same inputs.
pub fn peer_corpus() -> PathBuf {
    workspace_root().join("testdata").join("peer-corpus")
}

/// Decompresses a gzip file (an e2fsprogs corpus `image.gz`) into a
/// temporary file that lives as long as the returned handle.
pub fn gunzip_to_temp(path: &Path) -> tempfile::NamedTempFile {
    let input =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut decoder = flate2::read::GzDecoder::new(std::io::BufReader::new(input));
    copy_to_temp(&mut decoder, path)
}

/// Decompresses a zstd file (the committed sample disk) into a temporary file.
pub fn unzstd_to_temp(path: &Path) -> tempfile::NamedTempFile {
    let input =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut decoder = zstd::stream::read::Decoder::new(input)
        .unwrap_or_else(|e| panic!("cannot read zstd stream {}: {e}", path.display()));
    copy_to_temp(&mut decoder, path)
}

/// An e2fsprogs test image from the peer corpus, by test name
/// (`"f_badcluster"` reads `e2fsprogs/f_badcluster.img.gz`), gunzipped.
pub fn e2fsprogs_image(name: &str) -> tempfile::NamedTempFile {
    let path = peer_corpus()
        .join("e2fsprogs")
        .join(format!("{name}.img.gz"));
    gunzip_to_temp(&path)
}

fn copy_to_temp(reader: &mut dyn std::io::Read, source: &Path) -> tempfile::NamedTempFile {
    let mut out = tempfile::NamedTempFile::new().expect("cannot create a temporary file");
    std::io::copy(reader, out.as_file_mut())
        .unwrap_or_else(|e| panic!("cannot decompress {}: {e}", source.display()));
    out
}

pub mod containers;

/// The LVM2 and LUKS disks of `testdata/build-lvm-fixtures.sh`, built with
/// the real lvm2 and cryptsetup into `<fixtures dir>/lvm` (once per process;
/// the script skips the work when its stamp is current).
pub fn lvm_fixtures() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = fixtures::dir().join("lvm");
            let script = workspace_root()
                .join("testdata")
                .join("build-lvm-fixtures.sh");
            let out = std::process::Command::new("bash")
                .arg(&script)
                .arg(&dir)
                .env("PATH", fixtures::search_path())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "{} failed ({}):\n{}{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            dir
        })
        .clone()
}

/// The fixture images of `testdata/build-fixtures.sh`.
pub mod fixtures {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::OnceLock;

    /// Where the fixtures are: `$SNAPAUDIT_FIXTURES`, or
    /// `<workspace>/target/fixtures`.
    pub fn dir() -> PathBuf {
        match std::env::var_os("SNAPAUDIT_FIXTURES") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => super::workspace_root().join("target").join("fixtures"),
        }
    }

    /// Builds the fixtures (once per process; across processes the script
    /// serialises itself with flock and skips the work when its stamp is
    /// current). Panics with the script's output if it fails.
    pub fn build() {
        static BUILT: OnceLock<()> = OnceLock::new();
        BUILT.get_or_init(|| {
            let script = super::workspace_root()
                .join("testdata")
                .join("build-fixtures.sh");
            let output = Command::new("bash")
                .arg(&script)
                .arg(dir())
                .env("PATH", search_path())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                output.status.success(),
                "{} failed ({}):\n{}{}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        });
    }

    /// The image of fixture `name` (with or without the `.img` suffix),
    /// building the fixtures first if needed.
    pub fn image(name: &str) -> PathBuf {
        build();
        let name = name.strip_suffix(".img").unwrap_or(name);
        let path = dir().join(format!("{name}.img"));
        assert!(
            path.is_file(),
            "no fixture image {} (see testdata/FIXTURES.md)",
            path.display()
        );
        path
    }

    /// The tree `mke2fs -d` read for the root filesystem of fixture `name`
    /// (`tree("sys-gpt-data-part.p2")` for the tree of its partition 2).
    pub fn tree(name: &str) -> PathBuf {
        build();
        let path = dir().join("trees").join(name);
        assert!(
            path.is_dir(),
            "no fixture tree {} (see testdata/FIXTURES.md)",
            path.display()
        );
        path
    }

    /// Names of all fixtures, in build order.
    pub fn names() -> Vec<String> {
        build();
        let list = dir().join("fixtures.list");
        let text = std::fs::read_to_string(&list)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", list.display()));
        text.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The facts the build recorded about fixture `name` (`meta/NAME.env`).
    pub fn meta(name: &str) -> Meta {
        build();
        let path = dir().join("meta").join(format!("{name}.env"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Meta::parse(&text)
    }

    /// The committed sample system disk (`testdata/sample/system-disk.raw.zst`).
    pub fn sample_zst() -> PathBuf {
        super::workspace_root()
            .join("testdata")
            .join("sample")
            .join("system-disk.raw.zst")
    }

    /// PATH plus the sbin directories, where e2fsprogs and util-linux keep
    /// their tools (a non-login root shell may not have them).
    pub fn search_path() -> std::ffi::OsString {
        let mut paths: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        for extra in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
            let extra = Path::new(extra);
            if !paths.iter().any(|p| p == extra) {
                paths.push(extra.to_path_buf());
            }
        }
        std::env::join_paths(paths).expect("PATH entries contain no separator")
    }

    /// A `Command` for a system tool, with [`search_path`].
    pub fn tool(name: &str) -> Command {
        let mut command = Command::new(name);
        command.env("PATH", search_path());
        command
    }

    /// Runs `command` to completion; panics, with its stderr, unless it
    /// exits successfully.
    pub fn run_ok(command: &mut Command) -> std::process::Output {
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        assert!(
            out.status.success(),
            "{:?}: {}",
            command.get_program(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `meta/NAME.env`: `key=value` lines written by the build script.
    #[derive(Debug, Clone, Default)]
    pub struct Meta {
        values: BTreeMap<String, String>,
    }

    impl Meta {
        pub fn parse(text: &str) -> Meta {
            let values = text
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            Meta { values }
        }

        /// The value of `key`, if the build recorded one.
        pub fn get(&self, key: &str) -> Option<&str> {
            self.values.get(key).map(String::as_str)
        }

        /// The value of `key`; panics when it is missing.
        pub fn str(&self, key: &str) -> &str {
            self.get(key)
                .unwrap_or_else(|| panic!("fixture meta has no {key:?}"))
        }

        /// The value of `key` as a number; panics when missing or not one.
        pub fn u64(&self, key: &str) -> u64 {
            let value = self.str(key);
            value
                .parse()
                .unwrap_or_else(|e| panic!("fixture meta {key:?}={value:?}: {e}"))
        }

        /// `table`: `mbr`, `gpt` or `none`.
        pub fn table(&self) -> &str {
            self.str("table")
        }

        /// Every partition (index 0 = the whole disk, no table), in index order.
        pub fn partitions(&self) -> Vec<PartMeta> {
            let Some(parts) = self.get("parts") else {
                return Vec::new();
            };
            parts
                .split_whitespace()
                .map(|index| {
                    let key = |field: &str| format!("p{index}.{field}");
                    PartMeta {
                        index: index.parse().expect("partition index is a number"),
                        start_bytes: self.u64(&key("start_bytes")),
                        size_bytes: self.u64(&key("size_bytes")),
                        type_id: self.str(&key("type")).to_owned(),
                        fs: self.str(&key("fs")).to_owned(),
                        uuid: self.str(&key("uuid")).to_owned(),
                        label: self.str(&key("label")).to_owned(),
                        partuuid: self.str(&key("partuuid")).to_owned(),
                        fsck_clean: self.str(&key("fsck")) == "clean",
                    }
                })
                .collect()
        }
    }

    /// One partition as the build made it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PartMeta {
        /// Partition number as Linux names it (1-4 primary, 5+ logical);
        /// 0 for a filesystem on the whole disk.
        pub index: u32,
        pub start_bytes: u64,
        /// Size in the partition table (may exceed the image in hostile fixtures).
        pub size_bytes: u64,
        /// GPT type GUID (upper case) or MBR type byte in hex (`83`); empty
        /// for the whole disk.
        pub type_id: String,
        /// blkid TYPE of what is inside (`ext4`, `vfat`, `swap`, `xfs`,
        /// `btrfs`, `crypto_LUKS`), empty when nothing is.
        pub fs: String,
        /// Filesystem UUID as blkid prints it (vfat: `ABCD-1234`).
        pub uuid: String,
        pub label: String,
        /// GPT unique GUID, or `<disk signature>-<nn>` for MBR.
        pub partuuid: String,
        /// `e2fsck -fn` must pass on this filesystem.
        pub fsck_clean: bool,
    }
}

/// The `snapaudit` binary of this workspace, built once per process.
pub fn snapaudit_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let root = workspace_root();
        let status = std::process::Command::new(cargo)
            .args(["build", "-q", "-p", "snapaudit-cli", "--bin", "snapaudit"])
            .current_dir(&root)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p snapaudit-cli failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let bin = target.join("debug").join("snapaudit");
        assert!(bin.is_file(), "no binary at {}", bin.display());
        bin
    })
    .clone()
}

/// Disk images packed the ways they are shipped: GNU tar (sparse or not),
/// gzip, zstd, qemu-img containers. Every tool is the real one; a missing
/// tool fails the test with the command that installs it.
pub mod archives {
    use std::path::{Path, PathBuf};

    use super::fixtures::{run_ok, search_path, tool};

    /// Panics with the install command unless `command` is on the search path.
    pub fn require_tool(command: &str, package: &str) {
        let found = std::env::split_paths(&search_path()).any(|dir| dir.join(command).is_file());
        assert!(found, "{command} not found: apt-get install -y {package}");
    }

    /// The sample system disk, decompressed by `zstd` (which keeps its
    /// zero runs as holes) into `dir/system-disk.raw`.
    pub fn sample_raw(dir: &Path) -> PathBuf {
        require_tool("zstd", "zstd");
        let out = dir.join("system-disk.raw");
        run_ok(
            tool("zstd")
                .args(["-d", "-q", "-f", "--sparse"])
                .arg(super::fixtures::sample_zst())
                .arg("-o")
                .arg(&out),
        );
        out
    }

    /// A sparse raw file of `size_bytes` at `path`: `runs` pieces of
    /// pseudo-random data (some block-aligned, some not, of varied
    /// lengths) at pseudo-random places in the first 90%, and a trailing
    /// hole. Deterministic in `seed`.
    pub fn synthetic_sparse_raw(path: &Path, size_bytes: u64, runs: usize, seed: u64) {
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::create(path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        file.set_len(size_bytes).expect("set_len");
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let data_end = size_bytes / 10 * 9;
        for _ in 0..runs {
            let len = 1 + next() % (3 * 4096);
            let offset = next() % (data_end - len);
            let offset = if next() % 2 == 0 {
                offset & !4095
            } else {
                offset
            };
            let bytes: Vec<u8> = (0..len).map(|_| (next() % 255 + 1) as u8).collect();
            file.write_all_at(&bytes, offset).expect("write");
        }
    }

    /// `tar ARGS -cf out -C dir member` with GNU tar (`-S` in `args` for a
    /// sparse member).
    pub fn gnu_tar(args: &[&str], dir: &Path, member: &str, out: &Path) {
        require_tool("tar", "tar");
        run_ok(
            tool("tar")
                .args(args)
                .arg("-cf")
                .arg(out)
                .arg("-C")
                .arg(dir)
                .arg(member),
        );
    }

    /// `path` compressed by `gzip` or `zstd` into `path.gz` / `path.zst`
    /// (the original is kept).
    pub fn compress(compressor: &str, path: &Path) -> PathBuf {
        let (package, suffix) = match compressor {
            "gzip" => ("gzip", "gz"),
            "zstd" => ("zstd", "zst"),
            other => panic!("no compressor {other}"),
        };
        require_tool(compressor, package);
        let mut name = path.as_os_str().to_owned();
        name.push(".");
        name.push(suffix);
        let out = PathBuf::from(name);
        run_ok(tool(compressor).args(["-q", "-f", "-k"]).arg(path));
        assert!(
            out.is_file(),
            "{compressor} did not write {}",
            out.display()
        );
        out
    }

    /// `qemu-img convert -O FORMAT src out`.
    pub fn qemu_img_convert(src: &Path, format: &str, out: &Path) {
        require_tool("qemu-img", "qemu-utils");
        run_ok(
            tool("qemu-img")
                .args(["convert", "-f", "raw", "-O", format])
                .arg(src)
                .arg(out),
        );
    }
}
