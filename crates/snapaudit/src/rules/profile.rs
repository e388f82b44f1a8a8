//! Profiles: which rules run and how severe their findings are.

use crate::report::{Finding, Severity};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AlibabaEcs,
    Generic,
}

/// A rule profile (`alibaba-ecs`, the default, or `generic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    kind: Kind,
}

impl Default for Profile {
    fn default() -> Self {
        Profile::alibaba_ecs()
    }
}

impl Profile {
    /// Alibaba Cloud's rules for a custom image made from a snapshot.
    pub fn alibaba_ecs() -> Self {
        Profile {
            kind: Kind::AlibabaEcs,
        }
    }

    /// Any cloud: drops the Alibaba-only rules (`fs.features`) and reports
    /// SELinux as a fact rather than a failure.
    pub fn generic() -> Self {
        Profile {
            kind: Kind::Generic,
        }
    }

    /// The profile called `name`.
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "alibaba-ecs" => Ok(Profile::alibaba_ecs()),
            "generic" => Ok(Profile::generic()),
            other => Err(Error::invalid(format!(
                "unknown profile {other:?} (known: {})",
                Profile::names().join(", ")
            ))),
        }
    }

    /// Every profile name.
    pub fn names() -> &'static [&'static str] {
        &["alibaba-ecs", "generic"]
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::AlibabaEcs => "alibaba-ecs",
            Kind::Generic => "generic",
        }
    }

    /// The profile's policy applied to a finding: kept, re-graded or dropped.
    pub fn adjust(&self, mut f: Finding) -> Option<Finding> {
        if self.kind == Kind::Generic {
            if f.rule == "fs.features" {
                return None;
            }
            if f.rule == "selinux.enabled" {
                f.severity = Severity::Info;
            }
            // Alibaba-only: other clouds import LVM roots and encrypted
            // volumes, with their own caveats.
            if f.rule == "disk.encrypted"
                || f.rule == "disk.single-root" && f.location.volume.is_some()
            {
                f.severity = Severity::Warning;
            }
        }
        Some(f)
    }
}
