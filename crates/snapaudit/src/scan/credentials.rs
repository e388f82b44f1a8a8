//! `secret.credentials-file`: credentials files of cloud and container
//! tools, recognised by their path under any home directory (`/root`,
//! `/home/*`, or a home on a data disk). The file's presence with content is
//! the finding: the content rules report the keys inside separately, where
//! they recognise them.

/// Which tool a credentials file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialsKind {
    Aws,
    Aliyun,
    Ossutil,
    Docker,
    Kube,
    Gcloud,
}

impl CredentialsKind {
    pub(crate) fn tool(self) -> &'static str {
        match self {
            CredentialsKind::Aws => "AWS CLI credentials",
            CredentialsKind::Aliyun => "Alibaba Cloud CLI (aliyun) profile",
            CredentialsKind::Ossutil => "ossutil configuration with an AccessKey",
            CredentialsKind::Docker => "Docker registry credentials",
            CredentialsKind::Kube => "Kubernetes kubeconfig",
            CredentialsKind::Gcloud => "Google Cloud SDK credentials",
        }
    }

    /// Whether the content must be read to decide (a Docker config without
    /// `auths` entries only names a credential helper).
    pub(crate) fn needs_content(self) -> bool {
        self == CredentialsKind::Docker
    }
}

/// The kind of credentials file at `path`, if it is one.
pub(crate) fn kind_of(path: &str) -> Option<CredentialsKind> {
    let ends = |suffix: &str| path.ends_with(suffix);
    if ends("/.aws/credentials") {
        return Some(CredentialsKind::Aws);
    }
    if ends("/.aliyun/config.json") {
        return Some(CredentialsKind::Aliyun);
    }
    if ends("/.ossutilconfig") {
        return Some(CredentialsKind::Ossutil);
    }
    if ends("/.docker/config.json") {
        return Some(CredentialsKind::Docker);
    }
    if ends("/.kube/config") {
        return Some(CredentialsKind::Kube);
    }
    let gcloud = path.split_once("/.config/gcloud/").map(|(_, rest)| rest);
    if let Some(rest) = gcloud {
        let legacy = rest.strip_prefix("legacy_credentials/").is_some_and(|r| {
            let mut parts = r.split('/');
            let (account, file, more) = (parts.next(), parts.next(), parts.next());
            account.is_some_and(|a| !a.is_empty())
                && matches!(file, Some("adc.json" | ".boto"))
                && more.is_none()
        });
        if legacy
            || matches!(
                rest,
                "credentials.db" | "access_tokens.db" | "application_default_credentials.json"
            )
        {
            return Some(CredentialsKind::Gcloud);
        }
    }
    None
}

/// Whether a Docker `config.json` stores credentials: an `auths` entry with
/// a non-empty `auth`, `identitytoken`, `registrytoken` or `password`.
/// Entries of a credential helper are empty objects; a file that is not
/// JSON is left to the content rules.
pub(crate) fn docker_has_auths(content: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(content) else {
        return false;
    };
    let Some(auths) = value.get("auths").and_then(|a| a.as_object()) else {
        return false;
    };
    auths.values().any(|entry| {
        ["auth", "identitytoken", "registrytoken", "password"]
            .iter()
            .any(|k| {
                entry
                    .get(k)
                    .and_then(|v| v.as_str())
                    .is_some_and(|s| !s.trim().is_empty())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_paths_under_any_home() {
        assert_eq!(
            kind_of("/root/.aws/credentials"),
            Some(CredentialsKind::Aws)
        );
        assert_eq!(
            kind_of("/home/user/.aliyun/config.json"),
            Some(CredentialsKind::Aliyun)
        );
        assert_eq!(
            kind_of("/u/x/.ossutilconfig"),
            Some(CredentialsKind::Ossutil)
        );
        assert_eq!(kind_of("/root/.kube/config"), Some(CredentialsKind::Kube));
        assert_eq!(
            kind_of("/home/a/.config/gcloud/legacy_credentials/me@example.com/adc.json"),
            Some(CredentialsKind::Gcloud)
        );
        assert_eq!(
            kind_of("/home/a/.config/gcloud/credentials.db"),
            Some(CredentialsKind::Gcloud)
        );
        assert_eq!(
            kind_of("/home/a/.config/gcloud/configurations/config_default"),
            None
        );
        assert_eq!(
            kind_of("/home/a/.config/gcloud/legacy_credentials//adc.json"),
            None
        );
        assert_eq!(kind_of("/home/user/.aws/config"), None);
        assert_eq!(kind_of("/etc/docker/daemon.json"), None);
    }

    #[test]
    fn docker_config_needs_stored_auths() {
        assert!(docker_has_auths(
            br#"{"auths": {"registry.example": {"auth": "dXNlcjpwYXNz"}}}"#
        ));
        assert!(docker_has_auths(
            br#"{"auths": {"r": {"identitytoken": "abc"}}}"#
        ));
        assert!(!docker_has_auths(br#"{"credsStore": "pass"}"#));
        assert!(!docker_has_auths(
            br#"{"auths": {"r": {}}, "credsStore": "desktop"}"#
        ));
        assert!(!docker_has_auths(br#"{"auths": {"r": {"auth": ""}}}"#));
        assert!(!docker_has_auths(b"not json"));
    }
}
