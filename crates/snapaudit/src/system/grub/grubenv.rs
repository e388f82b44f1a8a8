//! `grubenv`: GRUB 2's environment block (`/boot/grub2/grubenv`,
//! `/boot/grub/grubenv`, `/boot/efi/EFI/<vendor>/grubenv`).
//!
//! Format (grub-core/lib/envblk.c): the signature line
//! `# GRUB Environment Block`, then `name=value` lines, then `#` padding up
//! to the block size (1024 bytes). In values, `\` escapes the next byte
//! (`\\`, and `\`-newline for a newline). GRUB's `load_env` refuses a block
//! without the signature; such a block is parsed anyway (for reporting) but
//! marked invalid, and [`GrubEnv::vars_for_grub`] is then empty.

use std::collections::BTreeMap;

use serde::Serialize;

use super::GrubDiagnostic;
use crate::system::lines::truncate_chars;

/// The signature GRUB checks.
const SIGNATURE: &[u8] = b"# GRUB Environment Block\n";
/// Real blocks are 1024 bytes; nothing past this is read.
const MAX_INPUT_BYTES: usize = 64 * 1024;
/// At most this many variables are kept.
const MAX_VARS: usize = 1024;

/// A parsed environment block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GrubEnv {
    /// Every variable, in name order.
    pub vars: BTreeMap<String, String>,
    /// The block starts with GRUB's signature line.
    pub valid_signature: bool,
    /// Lines that are neither padding nor `name=value`.
    pub diagnostics: Vec<GrubDiagnostic>,
}

impl GrubEnv {
    /// An empty environment (no grubenv, or an empty one).
    pub fn empty() -> Self {
        Self {
            vars: BTreeMap::new(),
            valid_signature: true,
            diagnostics: Vec::new(),
        }
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// `saved_entry`: the default entry chosen by `grub2-set-default`.
    pub fn saved_entry(&self) -> Option<&str> {
        self.get("saved_entry")
    }

    /// `next_entry`: a one-time default (`grub2-reboot`).
    pub fn next_entry(&self) -> Option<&str> {
        self.get("next_entry")
    }

    /// `kernelopts`: the command line BLS entries on RHEL 8 refer to as
    /// `$kernelopts`.
    pub fn kernelopts(&self) -> Option<&str> {
        self.get("kernelopts")
    }

    /// The variables `load_env` would load: all of them, or none when the
    /// signature is missing.
    pub fn vars_for_grub(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars
            .iter()
            .filter(|_| self.valid_signature)
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Parse a grubenv file.
pub fn parse(bytes: &[u8]) -> GrubEnv {
    let bytes = bytes.get(..MAX_INPUT_BYTES).unwrap_or(bytes);
    let mut env = GrubEnv {
        valid_signature: bytes.starts_with(SIGNATURE),
        ..GrubEnv::default()
    };
    let mut line_no: u64 = 1;
    let mut i = 0usize;
    while i < bytes.len() {
        let start_line = line_no;
        // One logical line: up to an unescaped newline, `\x` unescaped.
        let mut raw = Vec::new();
        while let Some(&b) = bytes.get(i) {
            i = i.saturating_add(1);
            match b {
                b'\n' => {
                    line_no = line_no.saturating_add(1);
                    break;
                }
                b'\\' => {
                    if let Some(&next) = bytes.get(i) {
                        if next == b'\n' {
                            line_no = line_no.saturating_add(1);
                        }
                        raw.push(next);
                        i = i.saturating_add(1);
                    }
                }
                _ => raw.push(b),
            }
        }
        if raw.is_empty() || raw.first() == Some(&b'#') {
            continue;
        }
        let Some(eq) = raw.iter().position(|&b| b == b'=') else {
            if env.diagnostics.len() < 32 {
                env.diagnostics.push(GrubDiagnostic {
                    line: start_line,
                    message: "line without '='".into(),
                });
            }
            continue;
        };
        let name = String::from_utf8_lossy(raw.get(..eq).unwrap_or(&[])).into_owned();
        let value =
            String::from_utf8_lossy(raw.get(eq.saturating_add(1)..).unwrap_or(&[])).into_owned();
        if name.is_empty() || (env.vars.len() >= MAX_VARS && !env.vars.contains_key(&name)) {
            continue;
        }
        env.vars.insert(
            truncate_chars(&name, 256),
            truncate_chars(&value, 16 * 1024),
        );
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(body: &str) -> Vec<u8> {
        let mut b = format!("# GRUB Environment Block\n{body}").into_bytes();
        b.resize(1024, b'#');
        b
    }

    #[test]
    fn rhel8_grubenv() {
        let env = parse(&block(
            "saved_entry=ffffffffffffffffffffffffffffffff-4.18.0-80.el8.x86_64\nkernelopts=root=/dev/mapper/rhel-root ro crashkernel=auto resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rhgb quiet \nboot_success=0\n",
        ));
        assert!(env.valid_signature);
        assert_eq!(
            env.saved_entry(),
            Some("ffffffffffffffffffffffffffffffff-4.18.0-80.el8.x86_64")
        );
        assert!(
            env.kernelopts()
                .is_some_and(|k| k.starts_with("root=/dev/mapper/rhel-root ro"))
        );
        assert_eq!(env.get("boot_success"), Some("0"));
        assert_eq!(env.next_entry(), None);
        assert_eq!(env.vars_for_grub().count(), 3);
        assert!(env.diagnostics.is_empty());
    }

    #[test]
    fn escapes_and_invalid_signature() {
        let env = parse(&block("a=x\\\\y\\\nz\nb=c=d\nnoequals\n"));
        assert_eq!(env.get("a"), Some("x\\y\nz"));
        assert_eq!(env.get("b"), Some("c=d"));
        assert_eq!(env.diagnostics.len(), 1);
        assert_eq!(env.diagnostics[0].line, 5);
        let bad = parse(b"saved_entry=1\n");
        assert!(!bad.valid_signature);
        assert_eq!(bad.saved_entry(), Some("1"));
        assert_eq!(bad.vars_for_grub().count(), 0);
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        let mut seed = 99u64;
        for len in 0..300 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(7);
                    [b'#', b'=', b'\\', b'\n', b'a', 0xff][(seed >> 61) as usize % 6]
                })
                .collect();
            let _ = parse(&buf);
        }
    }
}
