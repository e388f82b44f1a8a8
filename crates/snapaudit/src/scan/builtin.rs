//! The built-in content rules of RULES.md's `secret.*` section.
//!
//! Order matters: when two rules of the same finding id report the same
//! secret, the one whose match starts first wins, and on a tie the earlier
//! rule — so specific rules (`.my.cnf`, `.git-credentials`) come before the
//! generic ones (any `password=`, any URL).
//!
//! Every regex is bounded (no `+`/`*`), so each rule's maximum match length
//! is exact; every rule has literal anchors, except the `.pgpass` rule,
//! which only runs on files named `.pgpass` (see `Scanner`).
//!
//! Anchors are few and distinctive: every anchor is a pattern of the
//! prefilter's Teddy, whose 8 buckets admit more false candidates with each
//! pattern they hold (`prefilter::teddy`), and on CPUs without AVX2 the
//! portable searcher keeps aho-corasick's fast Slim Teddy only up to 32
//! anchors of 4 bytes or more. So rules share anchors where every match
//! contains one: `pass` for `password`, `sshpass`, `PGPASSWORD` and
//! `SSHPASS`; `_PWD` for `MYSQL_PWD`; `k_live_` for both Stripe prefixes;
//! Slack's anchor is `xox`; JWTs anchor on the `.eyJ` of their payload.
//! `Scanner::long_anchor_count` is tested.

use super::rule::{Allowlist, Check, RegexTarget, Rule};
use crate::report::Severity;

const PRIVATE_KEY: &str = "secret.private-key";
const CLOUD_KEY: &str = "secret.cloud-access-key";
const TOKEN: &str = "secret.token";
const PASSWORD: &str = "secret.password";

/// The keyword of a password assignment. The regexes start with it (so the
/// regex engine's own literal search applies); the key around it —
/// `DB_PASSWORD`, `smtp_pass`, `adminpassword`, but not `bypass` or `PWD` —
/// is checked in code (`Check::PasswordAssignment`), which is much faster
/// than a regex prefix like `[A-Za-z0-9_.-]{0,32}`.
const PASSWORD_WORD: &str = r"(?:password|passwd|passphrase|pass|pwd)";

/// Alibaba Cloud AccessKey ID: `LTAI` and 12 or 20 alphanumerics.
const LTAI_ID: &str = r"\bLTAI[A-Za-z0-9]{12}(?:[A-Za-z0-9]{8})?\b";

fn allow_paths(paths: &[&str]) -> Allowlist {
    Allowlist {
        description: "built-in".into(),
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        ..Allowlist::default()
    }
}

fn allow_stopwords(words: &[&str]) -> Allowlist {
    Allowlist {
        description: "built-in".into(),
        stopwords: words.iter().map(|p| (*p).to_owned()).collect(),
        regex_target: RegexTarget::Secret,
        ..Allowlist::default()
    }
}

pub(crate) fn rules() -> Vec<Rule> {
    let mut rules = Vec::new();
    rules.extend(private_keys());
    rules.extend(cloud_keys());
    rules.extend(tokens());
    rules.extend(passwords());
    rules
}

fn private_keys() -> Vec<Rule> {
    vec![
        Rule::new(
            PRIVATE_KEY,
            r"-----BEGIN[ ](?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP)[ ])?PRIVATE[ ]KEY(?:[ ]BLOCK)?-----",
        )
        .detector("private-key")
        .describe("PEM, PKCS#8, OpenSSH or PGP private key")
        .anchors(&["PRIVATE KEY"])
        .check(Check::PrivateKey)
        .no_placeholder_filter()
        // Host keys are `hygiene.ssh-host-keys`' business.
        .allow(allow_paths(&[r"(?:^|/)etc/ssh/ssh_host_[^/]*_key$"])),
    ]
}

fn cloud_keys() -> Vec<Rule> {
    vec![
        Rule::new(
            CLOUD_KEY,
            r#""private_key"\s{0,8}:\s{0,8}"(-----BEGIN[ ][A-Z ]{0,32}PRIVATE[ ]KEY-----[^"]{64,4096})""#,
        )
        .detector("gcp-service-account")
        .describe("GCP service-account key (JSON with \"type\": \"service_account\")")
        .anchors(&[r#""private_key""#])
        .check(Check::ServiceAccount)
        .no_placeholder_filter(),
        Rule::new(
            CLOUD_KEY,
            r"(?i)DefaultEndpointsProtocol=[a-z]{2,8};\s{0,4}AccountName=[a-z0-9-]{1,64};\s{0,4}AccountKey=([A-Za-z0-9+/]{20,128}={0,2})",
        )
        .detector("azure-storage-connection-string")
        .describe("Azure storage connection string with an account key")
        .keywords(&["AccountKey="])
        .entropy(3.5)
        .token_boundary(),
        Rule::new(CLOUD_KEY, &format!("({LTAI_ID})"))
            .detector("alibaba-access-key-id")
            .describe("Alibaba Cloud AccessKey ID")
            .anchors(&["LTAI"])
            .classes(4, 2),
        Rule::new(CLOUD_KEY, r"\b(STS\.[A-Za-z0-9][A-Za-z0-9+/=_-]{15,1023})")
            .detector("alibaba-sts-token")
            .describe("Alibaba Cloud STS temporary AccessKey")
            .anchors(&["STS."])
            .classes(4, 2)
            .token_boundary(),
        // An AccessKey secret is 30 alphanumerics; alone it is
        // indistinguishable from any identifier, so it needs context: an
        // AccessKey ID within 160 bytes (either side) or a key name.
        Rule::new(
            CLOUD_KEY,
            &format!(r"{LTAI_ID}[\s\S]{{0,160}}?\b([A-Za-z0-9]{{30}})\b"),
        )
        .detector("alibaba-access-key-secret")
        .describe("Alibaba Cloud AccessKey secret next to its AccessKey ID")
        .anchors(&["LTAI"])
        .classes(0, 2)
        .entropy(3.0)
        .token_boundary(),
        Rule::new(
            CLOUD_KEY,
            &format!(r"\b([A-Za-z0-9]{{30}})\b[\s\S]{{0,160}}?{LTAI_ID}"),
        )
        .detector("alibaba-access-key-secret")
        .describe("Alibaba Cloud AccessKey secret next to its AccessKey ID")
        .anchors(&["LTAI"])
        .classes(0, 2)
        .entropy(3.0)
        .token_boundary(),
        Rule::new(
            CLOUD_KEY,
            r#"(?i)(?:access[_.-]?key[_.-]?secret|secret[_.-]?access[_.-]?key|alicloud[_.-]?secret[_.-]?key|oss[_.-]?secret)["']?\s{0,4}(?:=|:|=>)\s{0,4}["']?([A-Za-z0-9]{30})"#,
        )
        .detector("alibaba-access-key-secret")
        .describe("Alibaba Cloud AccessKey secret assigned to an access_key_secret key")
        .keywords(&["secret"])
        .classes(0, 2)
        .entropy(3.0)
        .token_boundary(),
        Rule::new(CLOUD_KEY, r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b")
            .detector("aws-access-key-id")
            .describe("AWS access key ID")
            .anchors(&["AKIA", "ASIA", "ABIA", "ACCA"]),
        Rule::new(
            CLOUD_KEY,
            r#"(?i)(?:aws[_.-]?secret[_.-]?(?:access[_.-]?)?key|secret[_.-]?access[_.-]?key)["']?\s{0,4}(?:=|:|=>)\s{0,4}["']?([A-Za-z0-9/+]{40})"#,
        )
        .detector("aws-secret-access-key")
        .describe("AWS secret access key assigned to aws_secret_access_key")
        .keywords(&["secret"])
        .classes(0, 2)
        .entropy(3.0)
        .token_boundary(),
    ]
}

fn tokens() -> Vec<Rule> {
    vec![
        Rule::new(TOKEN, r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251})\b")
            .detector("github-token")
            .describe(
                "GitHub personal access, OAuth, user-to-server, server-to-server or refresh token",
            )
            .anchors(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_"])
            .classes(4, 2),
        Rule::new(TOKEN, r"\b(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b")
            .detector("github-fine-grained-pat")
            .describe("GitHub fine-grained personal access token")
            .anchors(&["github_pat_"])
            .classes(11, 2),
        Rule::new(TOKEN, r"\b(glpat-[A-Za-z0-9_-]{20,64})")
            .detector("gitlab-pat")
            .describe("GitLab personal access token")
            .anchors(&["glpat-"])
            .classes(6, 2)
            .token_boundary(),
        Rule::new(TOKEN, r"\b(xox[baprse]-[A-Za-z0-9-]{10,250})")
            .detector("slack-token")
            .describe("Slack token")
            .anchors(&["xox"])
            .classes(5, 2)
            .token_boundary(),
        Rule::new(TOKEN, r"\b((?:sk|rk)_live_[A-Za-z0-9]{20,247})\b")
            .detector("stripe-live-key")
            .describe("Stripe live secret or restricted key")
            .anchors(&["k_live_"])
            .classes(8, 2),
        Rule::new(TOKEN, r"\b(npm_[A-Za-z0-9]{36})\b")
            .detector("npm-token")
            .describe("npm access token")
            .anchors(&["npm_"])
            .classes(4, 2),
        Rule::new(TOKEN, r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000})")
            .detector("pypi-token")
            .describe("PyPI API token")
            .anchors(&["pypi-AgEIcHlwaS5vcmc"])
            .token_boundary(),
        Rule::new(
            TOKEN,
            r"\b(eyJ[A-Za-z0-9_-]{10,1024}\.eyJ[A-Za-z0-9_-]{10,8192}\.[A-Za-z0-9_-]{10,1024})",
        )
        .detector("jwt")
        .describe("JSON Web Token")
        .anchors(&[".eyJ"])
        .check(Check::Jwt)
        .no_placeholder_filter()
        .token_boundary(),
        Rule::new(
            TOKEN,
            r#""auth"\s{0,8}:\s{0,8}"([A-Za-z0-9+/]{4,1024}={0,2})""#,
        )
        .detector("docker-registry-auth")
        .describe("Docker registry credentials (\"auths\" entry of config.json)")
        .anchors(&[r#""auth""#])
        .check(Check::DockerAuth)
        .no_placeholder_filter(),
    ]
}

fn passwords() -> Vec<Rule> {
    let quoted_or_bare = r#"(?:'([^'\r\n]{1,128})'|"([^"\r\n]{1,128})"|([^\s'"]{1,128}))"#;
    vec![
        Rule::new(
            PASSWORD,
            r"\b[a-z][a-z0-9+.-]{1,16}://[^\s:@/]{1,128}:([^\s@/]{1,256})@[A-Za-z0-9.\[\]:-]{1,253}",
        )
        .detector("git-credentials")
        .describe("credentials stored by git's credential store")
        .path(r"(?:^|/)(?:\.git-credentials|\.config/git/credentials)$")
        .anchors(&["://"]),
        Rule::new(
            PASSWORD,
            r"(?:machine\s{1,16}\S{1,253}|default)(?:\s{1,16}(?:login|account|port)\s{1,16}\S{1,128}){0,3}\s{1,16}password\s{1,16}(\S{1,256})",
        )
        .detector("netrc")
        .describe("password in a .netrc file")
        .path(r"(?:^|/)[._]netrc$")
        .anchors(&["pass"]),
        Rule::new(
            PASSWORD,
            r"(?m)^[^#:\\\n](?:\\.|[^:\\\n]){0,252}:(?:\\.|[^:\\\n]){1,16}:(?:\\.|[^:\\\n]){1,128}:(?:\\.|[^:\\\n]){1,128}:([^\r\n]{1,256})",
        )
        .detector("pgpass")
        .describe("password in a PostgreSQL .pgpass file (host:port:db:user:password)")
        .path(r"(?:^|/)\.pgpass$"),
        Rule::new(
            PASSWORD,
            r#"(?m)^[ \t]{0,16}password[ \t]{0,4}=[ \t]{0,4}(?:"([^"\r\n]{1,256})"|'([^'\r\n]{1,256})'|([^\s"'#;]{1,256}))"#,
        )
        .detector("mysql-config")
        .describe("password in a MySQL/MariaDB option file")
        .path(r"(?:^|/)(?:\.my\.cnf|my\.cnf|debian\.cnf)$|(?:^|/)mysql/.*\.cnf$")
        .keywords(&["pass"]),
        Rule::new(
            PASSWORD,
            r#"(?m)^[ \t]{0,16}psk=(?:"([^"\r\n]{8,63})"|([0-9A-Fa-f]{64}))[ \t]{0,16}\r?$"#,
        )
        .detector("wpa-psk")
        .describe("Wi-Fi pre-shared key in a wpa_supplicant configuration")
        .anchors(&["psk="]),
        Rule::new(
            PASSWORD,
            r"\[wifi-security\][^\[]{0,2048}?\n[ \t]{0,16}psk[ \t]{0,4}=[ \t]{0,4}([^\r\n]{8,64})",
        )
        .detector("networkmanager-psk")
        .describe("Wi-Fi pre-shared key in a NetworkManager connection ([wifi-security] psk=)")
        .anchors(&["[wifi-security]"]),
        Rule::new(
            PASSWORD,
            r#"\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb|mariadb-dump|mariadb-admin)\b[^\n|;&]{0,256}?[ \t](?:-p(?:'([^'\n]{1,128})'|"([^"\n]{1,128})"|([^\s'"-][^\s'"]{0,127}))|--password=(?:'([^'\n]{1,128})'|"([^"\n]{1,128})"|([^\s'"]{1,128})))"#,
        )
        .detector("command-line-password")
        .describe("password on a mysql/mariadb command line")
        .anchors(&["mysql", "mariadb"])
        // `gcc … -I/usr/include/mysql -pthread`
        .allow(allow_stopwords(&["thread"])),
        Rule::new(PASSWORD, &format!(r"\bsshpass\b[^\n|;&]{{0,64}}?[ \t]-p[ \t]{{0,4}}{quoted_or_bare}"))
            .detector("command-line-password")
            .describe("password on an sshpass command line")
            .anchors(&["pass"]),
        Rule::new(
            PASSWORD,
            r#"\bcurl\b[^\n|;&]{0,256}?[ \t](?:-u|--user)[ \t=]{0,4}(?:'[^':\n]{1,128}:([^'\n]{1,128})'|"[^":\n]{1,128}:([^"\n]{1,128})"|[^\s'":]{1,128}:([^\s'"]{1,128}))"#,
        )
        .detector("command-line-password")
        .describe("password in curl -u user:password")
        .anchors(&["curl"]),
        Rule::new(
            PASSWORD,
            &format!(r"\b(?:PGPASSWORD|MYSQL_PWD|SSHPASS|REDISCLI_AUTH)={quoted_or_bare}"),
        )
        .detector("command-line-password")
        .describe("password in an environment assignment on a command line")
        .anchors(&["PASS", "_PWD", "REDISCLI_AUTH"]),
        Rule::new(
            PASSWORD,
            r#"\b[a-zA-Z][a-zA-Z0-9+.-]{1,16}://[^\s:@/"'<>]{1,128}:([^\s@/"'<>]{1,128})@[A-Za-z0-9.\[\]:-]{1,253}"#,
        )
        .detector("url-password")
        .describe("password in a URL (scheme://user:password@host)")
        .anchors(&["://"]),
        Rule::new(
            PASSWORD,
            &format!(
                r#"(?i){PASSWORD_WORD}["']?[ \t]{{0,4}}(?:=|:=|:|=>)[ \t]{{0,4}}(?:"([^"\r\n]{{1,256}})"|'([^'\r\n]{{1,256}})')"#
            ),
        )
        .detector("config-password")
        .describe("quoted password in a configuration assignment")
        .keywords(&["pass", "_pwd", ".pwd", "-pwd"])
        .check(Check::PasswordAssignment { line_start: false }),
        Rule::new(
            PASSWORD,
            &format!(
                r#"(?i){PASSWORD_WORD}["']?[ \t]{{0,4}}(?:=|:=|:|=>)[ \t]{{0,4}}([^\s"'#;][^\s"';]{{0,255}})"#
            ),
        )
        .detector("config-password")
        .describe("password in a configuration assignment (the key starts the line, the value ends it)")
        .keywords(&["pass", "_pwd", ".pwd", "-pwd"])
        .check(Check::PasswordAssignment { line_start: true }),
    ]
}

/// Severity of a private key finding: an encrypted key still needs its
/// passphrase, so it is a warning.
pub(crate) fn private_key_severity(encrypted: bool) -> Severity {
    if encrypted {
        Severity::Warning
    } else {
        Severity::Error
    }
}
