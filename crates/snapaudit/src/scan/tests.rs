//! Rule and engine tests.
//!
//! Every secret here is assembled at run time from a prefix and generated
//! characters, so this file contains no string a secret scanner would flag,
//! and assertion messages print detectors and redacted evidence only.

use std::sync::OnceLock;

use super::*;
use crate::report::Severity;

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| Scanner::new(RuleSet::builtin()).expect("built-in rules compile"))
}

/// Deterministic generator of token characters (xorshift64*).
pub(crate) struct Gen(u64);

impl Gen {
    pub(crate) fn new(seed: u64) -> Gen {
        Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn from(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }

    /// Alphanumerics with at least one lowercase, uppercase and digit.
    fn alnum(&mut self, n: usize) -> String {
        loop {
            let s = self.from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                n,
            );
            if s.bytes().any(|b| b.is_ascii_lowercase())
                && s.bytes().any(|b| b.is_ascii_uppercase())
                && s.bytes().any(|b| b.is_ascii_digit())
            {
                return s;
            }
        }
    }
}

fn b64(data: &[u8], url: bool) -> String {
    let alphabet: &[u8] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..=n {
            out.push(char::from(alphabet[((v >> (18 - 6 * i)) & 63) as usize]));
        }
        if !url {
            for _ in n..3 {
                out.push('=');
            }
        }
    }
    out
}

fn scan(text: &str, path: Option<&str>) -> Vec<Match> {
    let mut out = Vec::new();
    scanner().scan(text.as_bytes(), path, &mut |m| out.push(m));
    out
}

fn detectors(text: &str, path: Option<&str>) -> Vec<String> {
    scan(text, path)
        .iter()
        .map(|m| m.detector.to_string())
        .collect()
}

fn secret<'a>(text: &'a str, m: &Match) -> &'a str {
    &text[m.secret_start..m.secret_end]
}

/// Asserts that `text` yields exactly one finding, of `detector`, whose
/// secret is `expected` (compared without printing it).
#[track_caller]
fn assert_one(text: &str, path: Option<&str>, detector: &str, expected: &str) {
    let found = scan(text, path);
    let summary: Vec<_> = found
        .iter()
        .map(|m| (m.detector.to_string(), m.evidence.clone()))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {detector} finding, got {summary:?}"
    );
    assert_eq!(&*found[0].detector, detector, "got {summary:?}");
    assert!(
        secret(text, &found[0]) == expected,
        "{detector}: wrong secret span, got {summary:?}"
    );
}

#[track_caller]
fn assert_none(text: &str, path: Option<&str>, why: &str) {
    let found: Vec<_> = scan(text, path)
        .iter()
        .map(|m| (m.detector.to_string(), m.evidence.clone()))
        .collect();
    assert!(found.is_empty(), "{why}: unexpected findings {found:?}");
}

fn pem(kind: &str, extra_headers: &str, body_lines: usize, g: &mut Gen) -> String {
    let label = if kind.is_empty() {
        "PRIVATE KEY".to_owned()
    } else {
        format!("{kind} PRIVATE KEY")
    };
    let mut s = format!("-----{} {label}-----\n{extra_headers}", "BEGIN");
    for _ in 0..body_lines {
        s.push_str(&g.from(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            64,
        ));
        s.push('\n');
    }
    s.push_str(&format!("-----{} {label}-----\n", "END"));
    s
}

fn openssh_key(cipher: &str, g: &mut Gen) -> String {
    let mut raw = b"openssh-key-v1\0".to_vec();
    raw.extend_from_slice(&(cipher.len() as u32).to_be_bytes());
    raw.extend_from_slice(cipher.as_bytes());
    raw.extend(g.from(b"abcdefgh", 300).bytes());
    let body = b64(&raw, false);
    let mut s = format!("-----{} OPENSSH PRIVATE KEY-----\n", "BEGIN");
    for line in body.as_bytes().chunks(70) {
        s.push_str(std::str::from_utf8(line).unwrap_or(""));
        s.push('\n');
    }
    s.push_str(&format!("-----{} OPENSSH PRIVATE KEY-----\n", "END"));
    s
}

// ---------------------------------------------------------------- keys

#[test]
fn private_keys_unencrypted_pem_pkcs8_openssh() {
    let mut g = Gen::new(1);
    for key in [
        pem("RSA", "", 12, &mut g),
        pem("", "", 12, &mut g),
        pem("EC", "", 3, &mut g),
        openssh_key("none", &mut g),
    ] {
        let text = format!("some file\n{key}trailer\n");
        let found = scan(&text, Some("/root/id_rsa"));
        assert_eq!(
            found.len(),
            1,
            "{:?}",
            found.iter().map(|m| &m.evidence).collect::<Vec<_>>()
        );
        let m = &found[0];
        assert_eq!(&*m.rule_id, "secret.private-key");
        assert_eq!(m.severity, Severity::Error);
        assert!(!m.encrypted);
        // The match covers the whole block, END line included.
        assert_eq!(&text[m.start..m.end], key.trim_end());
        assert_eq!((m.secret_start, m.secret_end), (m.start, m.end));
        assert!(m.evidence.starts_with("-----BEGIN"), "{}", m.evidence);
        assert!(m.evidence.contains("chars, sha256:"));
        assert_eq!(m.line, 2);
    }
}

#[test]
fn private_keys_encrypted_are_warnings() {
    let mut g = Gen::new(2);
    let legacy = pem(
        "RSA",
        "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F2A9C11D0E1A2B3C4D5E6F708192A3B\n\n",
        12,
        &mut g,
    );
    for key in [
        legacy,
        pem("ENCRYPTED", "", 12, &mut g),
        openssh_key("aes256-ctr", &mut g),
    ] {
        let found = scan(&key, None);
        assert_eq!(found.len(), 1);
        assert!(found[0].encrypted, "{}", found[0].evidence);
        assert_eq!(found[0].severity, Severity::Warning);
    }
}

#[test]
fn private_key_headers_without_body_and_host_keys_do_not_fire() {
    let mut g = Gen::new(3);
    // What ssh-keygen's binary contains: the markers, no key.
    let strings = format!(
        "\0-----{b} OPENSSH PRIVATE KEY-----\n\0-----{e} OPENSSH PRIVATE KEY-----\n\0",
        b = "BEGIN",
        e = "END"
    );
    assert_none(&strings, Some("/usr/bin/ssh-keygen"), "bare markers");
    let doc = format!(
        "-----{} RSA PRIVATE KEY-----\n...\n-----{} RSA PRIVATE KEY-----\n",
        "BEGIN", "END"
    );
    assert_none(&doc, None, "documentation stub");
    let host_key = openssh_key("none", &mut g);
    assert_none(&host_key, Some("/etc/ssh/ssh_host_ed25519_key"), "host key");
    assert_eq!(
        detectors(&host_key, Some("/root/.ssh/id_ed25519")),
        vec!["private-key"]
    );
}

#[test]
fn truncated_private_key_in_raw_data_is_found() {
    let mut g = Gen::new(4);
    let key = pem("RSA", "", 12, &mut g);
    let cut = &key[..key.len() / 2];
    let text = format!("{cut}\0\0\0\0garbage");
    let found = scan(&text, None);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].end,
        cut.len(),
        "match ends where the base64 body ends"
    );
}

// ---------------------------------------------------------------- Alibaba

#[test]
fn alibaba_access_key_ids() {
    let mut g = Gen::new(10);
    for tail in [12, 20] {
        let id = format!("{}{}", "LTAI", g.alnum(tail));
        assert_one(
            &format!("access_key_id = {id}\n"),
            None,
            "alibaba-access-key-id",
            &id,
        );
        assert_one(
            &format!("{{\"AccessKeyId\":\"{id}\"}}"),
            None,
            "alibaba-access-key-id",
            &id,
        );
    }
}

#[test]
fn alibaba_id_look_alikes_do_not_fire() {
    let mut g = Gen::new(11);
    let tail = g.alnum(12);
    assert_none(
        &format!("x{}{tail} ", "LTAI"),
        None,
        "LTAI inside a longer word",
    );
    assert_none(&format!("A{}{tail}", "LTAI"), None, "ALTAI…");
    assert_none(
        &format!("{}{} ", "LTAI", g.alnum(16)),
        None,
        "16 characters is neither 12 nor 20",
    );
    assert_none(
        &format!("{}{} ", "LTAI", "nformational"),
        None,
        "a word, not a key",
    );
    assert_none(
        &format!("id={}{}", "LTAI", "xxxxxxxxxxxx"),
        None,
        "placeholder",
    );
    assert_none(&format!("id={}{}", "LTAI", "EXAMPLE12345"), None, "example");
}

#[test]
fn alibaba_secret_next_to_id_or_key_name() {
    let mut g = Gen::new(12);
    let id = format!("{}{}", "LTAI", g.alnum(20));
    let sk = g.alnum(30);
    let text = format!("[default]\naccess_key_id = {id}\naccess_key_secret = {sk}\n");
    let found = scan(&text, None);
    let names: Vec<_> = found.iter().map(|m| m.detector.to_string()).collect();
    assert_eq!(
        names,
        vec!["alibaba-access-key-id", "alibaba-access-key-secret"]
    );
    assert!(secret(&text, &found[1]) == sk);
    assert_eq!(found[1].line, 2, "the near-id match starts at the id");

    // Secret before the id, no key names at all.
    let json = format!("{{\"s\": \"{sk}\", \"i\": \"{id}\"}}");
    let names: Vec<_> = detectors(&json, None);
    assert_eq!(
        names,
        vec!["alibaba-access-key-secret", "alibaba-access-key-id"]
    );

    // Key name alone.
    assert_one(
        &format!("export ALIBABA_CLOUD_ACCESS_KEY_SECRET={sk}\n"),
        None,
        "alibaba-access-key-secret",
        &sk,
    );
    assert_one(
        &format!("accessKeySecret={sk}\n"),
        None,
        "alibaba-access-key-secret",
        &sk,
    );
}

#[test]
fn alibaba_secret_look_alikes_do_not_fire() {
    let mut g = Gen::new(13);
    assert_none(
        &format!("access_key_secret = {}\n", "x".repeat(30)),
        None,
        "placeholder",
    );
    assert_none(
        &format!("access_key_secret = {}\n", g.from(b"0123456789abcdef", 40)),
        None,
        "hex digest",
    );
    assert_none(
        &format!("token = {}\n", g.alnum(30)),
        None,
        "30 alphanumerics with no context",
    );
    assert_none(
        &format!("access_key_secret = {}\n", g.alnum(31)),
        None,
        "31 characters",
    );
}

#[test]
fn alibaba_sts_tokens() {
    let mut g = Gen::new(14);
    let sts = format!("{}{}", "STS.", g.alnum(28));
    assert_one(
        &format!("\"AccessKeyId\": \"{sts}\""),
        None,
        "alibaba-sts-token",
        &sts,
    );
    assert_none(
        "see STS.md and STS.Example for details\n",
        None,
        "file names and examples",
    );
}

// ---------------------------------------------------------------- AWS, GCP, Azure

#[test]
fn aws_key_ids_and_secrets() {
    let mut g = Gen::new(20);
    for prefix in ["AKIA", "ASIA", "ABIA", "ACCA"] {
        let id = format!(
            "{prefix}{}",
            g.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        );
        assert_one(
            &format!("aws_access_key_id = {id}\n"),
            None,
            "aws-access-key-id",
            &id,
        );
    }
    let sk = format!("{}/{}", g.alnum(20), g.alnum(19));
    assert_one(
        &format!("aws_secret_access_key = {sk}\n"),
        None,
        "aws-secret-access-key",
        &sk,
    );
    assert_one(
        &format!("\"SecretAccessKey\": \"{sk}\""),
        None,
        "aws-secret-access-key",
        &sk,
    );
}

#[test]
fn aws_examples_and_look_alikes_do_not_fire() {
    let mut g = Gen::new(21);
    let example_id = format!("{}{}", "AKIAIOSFODNN7", "EXAMPLE");
    let example_sk = format!("{}{}", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "EXAMPLEKEY");
    assert_none(
        &format!("aws_access_key_id = {example_id}\naws_secret_access_key = {example_sk}\n"),
        None,
        "AWS documentation keys",
    );
    assert_none(
        &format!(
            "{}{}",
            "XAKIA",
            g.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        ),
        None,
        "longer word",
    );
    assert_none(
        &format!(
            "{}{} ",
            "AKIA",
            g.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 15)
        ),
        None,
        "too short",
    );
    assert_none(
        &format!("blob = {}\n", g.alnum(40)),
        None,
        "40-character blob without a keyword",
    );
    assert_none(
        &format!("aws_secret_access_key = {}\n", g.alnum(41)),
        None,
        "41 characters",
    );
}

#[test]
fn gcp_service_account_json() {
    let mut g = Gen::new(22);
    let key = pem("", "", 10, &mut g).replace('\n', "\\n");
    let json = format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"{key}\",\n  \"client_email\": \"svc@demo.iam.gserviceaccount.com\"\n}}\n",
        g.from(b"0123456789abcdef", 40)
    );
    let found = scan(&json, Some("/home/u/key.json"));
    let names: Vec<_> = found.iter().map(|m| m.detector.to_string()).collect();
    assert!(
        names.contains(&"gcp-service-account".to_owned()),
        "{names:?}"
    );
    // The embedded PEM is a private key in its own right.
    assert!(names.contains(&"private-key".to_owned()), "{names:?}");
    let user = json.replace("service_account", "authorized_user");
    assert_eq!(
        detectors(&user, None),
        vec!["private-key"],
        "no service account without the type"
    );
}

#[test]
fn azure_storage_connection_strings() {
    let mut g = Gen::new(23);
    let key = format!("{}==", g.alnum(86));
    let cs = format!(
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={key};EndpointSuffix=core.windows.net"
    );
    assert_one(&cs, None, "azure-storage-connection-string", &key);
    assert_none(
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=your_account_key_goes_here;",
        None,
        "placeholder",
    );
}

// ---------------------------------------------------------------- tokens

#[test]
fn service_tokens() {
    let mut g = Gen::new(30);
    let cases = [
        ("github-token", format!("{}{}", "ghp_", g.alnum(36))),
        ("github-token", format!("{}{}", "ghs_", g.alnum(36))),
        (
            "github-fine-grained-pat",
            format!("{}{}_{}", "github_pat_", g.alnum(22), g.alnum(59)),
        ),
        ("gitlab-pat", format!("{}{}", "glpat-", g.alnum(20))),
        (
            "slack-token",
            format!(
                "{}{}-{}-{}",
                "xoxb-",
                g.from(b"0123456789", 12),
                g.from(b"0123456789", 13),
                g.alnum(24)
            ),
        ),
        ("stripe-live-key", format!("{}{}", "sk_live_", g.alnum(24))),
        ("stripe-live-key", format!("{}{}", "rk_live_", g.alnum(24))),
        ("npm-token", format!("{}{}", "npm_", g.alnum(36))),
        (
            "pypi-token",
            format!("{}{}", "pypi-AgEIcHlwaS5vcmc", g.alnum(70)),
        ),
    ];
    for (detector, token) in cases {
        assert_one(&format!("TOKEN={token}\n"), None, detector, &token);
        assert_one(
            &format!("  \"token\": \"{token}\",\n"),
            None,
            detector,
            &token,
        );
    }
}

#[test]
fn token_placeholders_and_look_alikes_do_not_fire() {
    let mut g = Gen::new(31);
    assert_none(
        &format!("{}{}", "ghp_", "x".repeat(36)),
        None,
        "placeholder",
    );
    assert_none("ghp_short", None, "short");
    assert_none(
        &format!("{}{}", "glpat-", "x".repeat(20)),
        None,
        "placeholder",
    );
    assert_none("token: xoxb-your-token-here", None, "placeholder");
    assert_none(
        &format!("{}{}", "sk_test_", g.alnum(24)),
        None,
        "Stripe test key",
    );
    assert_none(
        "npm_config_cache=/tmp/npm npm_package_name=demo",
        None,
        "npm environment variables",
    );
    assert_none(
        &format!("{}{}", "npm_", "abcdefghijklmnopqrstuvwxyzabcdefghij"),
        None,
        "one character class",
    );
}

#[test]
fn jwts() {
    let mut g = Gen::new(32);
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#, true);
    let payload = b64(
        br#"{"sub":"1234567890","name":"svc","iat":1516239022}"#,
        true,
    );
    let jwt = format!("{header}.{payload}.{}", g.alnum(43));
    assert_one(&format!("Authorization: Bearer {jwt}\n"), None, "jwt", &jwt);
    let no_alg = format!(
        "{}.{payload}.{}",
        b64(br#"{"foo":"bar","x":1}"#, true),
        g.alnum(43)
    );
    assert_none(&no_alg, None, "header without alg");
    assert_none(
        &format!("data = {payload}{}\n", g.alnum(60)),
        None,
        "base64 JSON blob without dots",
    );
}

#[test]
fn docker_registry_auths() {
    let mut g = Gen::new(33);
    let auth = b64(format!("deploy:{}", g.alnum(16)).as_bytes(), false);
    let config = format!(
        "{{\n\t\"auths\": {{\n\t\t\"registry.acme.io\": {{\n\t\t\t\"auth\": \"{auth}\"\n\t\t}}\n\t}}\n}}\n"
    );
    assert_one(
        &config,
        Some("/root/.docker/config.json"),
        "docker-registry-auth",
        &auth,
    );
    let placeholder = config.replace(&auth, &b64(b"user:password", false));
    assert_none(&placeholder, None, "placeholder password");
    let binary = config.replace(&auth, &b64(&[0xff, 0x00, 0x3a, 0x10, 0x80, 0x90], false));
    assert_none(&binary, None, "not user:password");
}

// ---------------------------------------------------------------- passwords

fn pw(g: &mut Gen) -> String {
    loop {
        // A random value can contain `xxx` or start with `test` by chance.
        let p = format!("{}!{}", g.alnum(8), g.alnum(3));
        if !is_placeholder(p.as_bytes()) {
            return p;
        }
    }
}

#[test]
fn passwords_in_urls_and_git_credentials() {
    let mut g = Gen::new(40);
    let p = pw(&mut g);
    assert_one(
        &format!("DATABASE_URL=postgres://app:{p}@db.internal:5432/app\n"),
        None,
        "url-password",
        &p,
    );
    let token = g.alnum(24);
    assert_one(
        &format!("https://alice:{token}@github.com\n"),
        Some("/home/alice/.git-credentials"),
        "git-credentials",
        &token,
    );
    assert_none(
        "proxy = http://user:password@proxy:3128\n",
        None,
        "placeholder",
    );
    assert_none(
        "url = https://${GIT_USER}:${GIT_TOKEN}@git.acme.io\n",
        None,
        "variables",
    );
    assert_none(
        "see http://example.com:8080/path and git@github.com:org/repo\n",
        None,
        "no credentials",
    );
}

#[test]
fn passwords_in_config_assignments() {
    let mut g = Gen::new(41);
    for template in [
        "DB_PASSWORD=\"{}\"\n",
        "  \"password\": \"{}\",\n",
        "PASSWORD = '{}'\n",
        "password={}\n",
        "DB_PASSWORD={}\n",
        "passwd: {}\n",
        "    pass = {}   # set by ops\n",
        "smtp_pass: {}\n",
        "export ADMIN_PASSWORD={}\n",
        "adminpassword = {}\n",
        "$db_password = \"{}\";\n",
    ] {
        let p = pw(&mut g);
        let text = template.replace("{}", &p);
        assert_one(&text, Some("/etc/app/app.conf"), "config-password", &p);
    }
}

#[test]
fn config_placeholders_and_code_do_not_fire() {
    for text in [
        "password=changeme\n",
        "password: ${DB_PASS}\n",
        "password = \"<password>\"\n",
        "password: \"{{ vault_db_password }}\"\n",
        "password = %(db_password)s\n",
        "password=example\n",
        "password: dummy\n",
        "password=test123\n",
        "password=your_password\n",
        "password = ********\n",
        "password: xxxxxxxx\n",
        "passwd:         files systemd\n",
        "PasswordAuthentication yes\n",
        "PermitEmptyPasswords no\n",
        "        password = self.password\n",
        "    passwd = getpass.getpass()\n",
        "bypass=abc123xyz\n",
        "compass = north123\n",
        "PWD=/home/user\n",
        "password: !vault |\n",
        "password: *default_password\n",
        "if pass == other:\n",
        "password required pam_unix.so nullok\n",
        // A shell test on an expanded variable (sudo.prerm), not an
        // assignment.
        "\tif [ \"x$passwd\" = \"x*\" ] || [ \"x$passwd1\" = \"x!\" ]; then\n",
    ] {
        assert_none(text, Some("/etc/x.conf"), text.trim());
    }
}

#[test]
fn passwords_on_command_lines() {
    let mut g = Gen::new(42);
    for template in [
        "mysql -u root -p{} mydb\n",
        "mysqldump --password={} --all-databases > dump.sql\n",
        "mysql -uroot -p'{}' -e 'show databases'\n",
        "sshpass -p '{}' ssh admin@10.0.0.5\n",
        "sshpass -p {} scp f host:\n",
        "curl -u admin:{} https://api.acme.io/v1\n",
        "curl --user 'admin:{}' https://api.acme.io/v1\n",
        "PGPASSWORD={} psql -h db -U app\n",
        "MYSQL_PWD='{}' mysql -u app\n",
    ] {
        let p = pw(&mut g);
        let text = template.replace("{}", &p);
        assert_one(
            &text,
            Some("/root/.bash_history"),
            "command-line-password",
            &p,
        );
    }
    for text in [
        "mysql -u root -p mydb\n",
        "gcc -I/usr/include/mysql -pthread -o app app.c\n",
        "curl -u user:password https://x\n",
        "sshpass -p \"$PASS\" ssh host\n",
        "PGPASSWORD=$PGPASS psql\n",
    ] {
        assert_none(text, Some("/root/.bash_history"), text.trim());
    }
}

#[test]
fn credential_file_formats_are_path_restricted() {
    let mut g = Gen::new(43);
    let p = pw(&mut g);
    let netrc = format!("machine api.acme.io\n  login bob\n  password {p}\n");
    assert_one(&netrc, Some("/home/bob/.netrc"), "netrc", &p);
    assert_none(
        &netrc,
        Some("/home/bob/notes.txt"),
        "netrc format elsewhere",
    );

    let pgpass =
        format!("# hostname:port:database:username:password\ndb.acme.io:5432:app:appuser:{p}\n");
    assert_one(&pgpass, Some("/var/lib/postgresql/.pgpass"), "pgpass", &p);
    assert_none(
        &pgpass,
        Some("/etc/services"),
        "colon-separated line elsewhere",
    );
    assert_none(&pgpass, None, "unallocated data has no path");

    let mycnf = format!("[client]\nuser=root\npassword={p}\n");
    assert_one(&mycnf, Some("/root/.my.cnf"), "mysql-config", &p);
    // Elsewhere the generic rule still sees the assignment.
    assert_one(&mycnf, Some("/tmp/client.cnf"), "config-password", &p);
}

#[test]
fn wifi_pre_shared_keys() {
    let mut g = Gen::new(44);
    let p = pw(&mut g);
    let wpa = format!("network={{\n    ssid=\"home\"\n    psk=\"{p}\"\n}}\n");
    assert_one(
        &wpa,
        Some("/etc/wpa_supplicant/wpa_supplicant.conf"),
        "wpa-psk",
        &p,
    );
    let hex = g.from(b"0123456789abcdef", 64);
    assert_one(
        &format!("network={{\n psk={hex}\n}}\n"),
        None,
        "wpa-psk",
        &hex,
    );
    let nm = format!("[connection]\nid=home\n\n[wifi-security]\nkey-mgmt=wpa-psk\npsk={p}\n");
    assert_one(
        &nm,
        Some("/etc/NetworkManager/system-connections/home.nmconnection"),
        "networkmanager-psk",
        &p,
    );
    assert_none("network={\n psk=\"password\"\n}\n", None, "placeholder");
}

// ---------------------------------------------------------------- engine

#[test]
fn scanner_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scanner>();
    fn assert_send<T: Send>() {}
    assert_send::<Scratch>();
}

#[test]
fn repeated_anchors_report_one_match() {
    let mut g = Gen::new(50);
    let p = pw(&mut g);
    let text = format!("password password pass passwd\npassword = {p}\n");
    assert_one(&text, None, "config-password", &p);
}

#[test]
fn many_matches_come_in_order_with_lines() {
    let mut g = Gen::new(51);
    let mut text = String::new();
    let mut expected = Vec::new();
    for _ in 0..3000 {
        let p = pw(&mut g);
        text.push_str("ordinary line\n");
        expected.push(p.clone());
        text.push_str(&format!("password={p}\n"));
    }
    let found = scan(&text, None);
    assert_eq!(found.len(), expected.len());
    for (i, (m, p)) in found.iter().zip(&expected).enumerate() {
        assert!(secret(&text, m) == p, "match {i} out of order");
        assert_eq!(m.line, 2 * i as u64 + 2);
    }
}

/// Filler with many anchor hits that are not secrets.
fn filler(len: usize, g: &mut Gen) -> String {
    let mut s = String::new();
    let words = [
        "the password policy says ",
        "see https://docs.acme.io/guide ",
        "secret santa ",
        "curl https://x ",
        "mysql client ",
        "eyJ is how base64 JSON starts ",
        "LTAI-like words: ALTAIR ",
        "PRIVATE KEY handling ",
        "\n",
    ];
    let plain = [
        "lorem ipsum dolor sit amet ",
        "consectetur adipiscing elit ",
        "sed do eiusmod tempor ",
        "\n",
    ];
    while s.len() < len {
        let r = g.next();
        if r.is_multiple_of(8) {
            s.push_str(words[((r >> 8) % words.len() as u64) as usize]);
        } else {
            s.push_str(plain[((r >> 8) % plain.len() as u64) as usize]);
        }
    }
    s.truncate(len);
    s
}

fn summary(found: &[Match]) -> Vec<(String, usize, usize, usize, usize, u64)> {
    found
        .iter()
        .map(|m| {
            (
                m.detector.to_string(),
                m.start,
                m.end,
                m.secret_start,
                m.secret_end,
                m.line,
            )
        })
        .collect()
}

/// Secrets placed at every offset across a chunk boundary are found exactly
/// once, with the same offsets and lines as a whole-buffer scan, whether the
/// data arrives in one piece, in small pieces, or is scanned by ranges.
#[test]
fn secrets_across_chunk_boundaries_are_found_once() {
    let s = scanner();
    let mut g = Gen::new(60);
    let overlap = s.max_match_len();
    let chunk = 4096;
    let boundary = chunk + overlap; // first reported range ends here
    let base = filler(boundary + 3000, &mut g);
    let id = format!(
        "{}{}",
        "AKIA",
        g.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    );
    let key = pem("RSA", "", 8, &mut g);
    let planted: Vec<(String, Vec<usize>)> = vec![
        (
            format!("\nid={id}\n"),
            (boundary - 30..boundary + 5).collect(),
        ),
        (
            format!("\n{key}"),
            (boundary - key.len() - 5..boundary + 5)
                .step_by(41)
                .collect(),
        ),
        // The password rules extend their match back over the key name.
        (
            format!("\n  export DB_PASSWORD={}\n", pw(&mut g)),
            (boundary - 40..boundary + 5).step_by(3).collect(),
        ),
    ];
    for (secret_text, offsets) in planted {
        for at in offsets {
            let mut data = base.clone();
            // Keep the insertion on a char boundary of the ASCII filler.
            data.insert_str(at, &secret_text);
            let bytes = data.as_bytes();
            let mut whole = Vec::new();
            s.scan(bytes, None, &mut |m| whole.push(m));
            let planted_hits = whole
                .iter()
                .filter(|m| m.start >= at && m.start < at + secret_text.len())
                .count();
            assert_eq!(planted_hits, 1, "offset {at}: {:?}", summary(&whole));

            // Pieces of 7 bytes are slow in debug builds: one offset only.
            let pieces: &[usize] = if at == boundary {
                &[usize::MAX, 7, 1000]
            } else {
                &[usize::MAX, 1000]
            };
            for &piece in pieces {
                let mut stream = StreamScan::with_chunk_size(s, None, chunk);
                let mut got = Vec::new();
                for part in bytes.chunks(piece.min(bytes.len())) {
                    stream.push(part, &mut |m| got.push(m));
                }
                stream.finish(&mut |m| got.push(m));
                assert_eq!(
                    summary(&got),
                    summary(&whole),
                    "offset {at}, pieces of {piece}"
                );
            }

            // Ranges of 3000 bytes with the required context either side.
            let mut got = Vec::new();
            let mut from = 0;
            while from < bytes.len() {
                let to = (from + 3000).min(bytes.len());
                let lo = from.saturating_sub(overlap);
                let hi = (to + overlap).min(bytes.len());
                s.scan_range(&bytes[lo..hi], from - lo..to - lo, None, &mut |mut m| {
                    m.start += lo;
                    m.end += lo;
                    m.secret_start += lo;
                    m.secret_end += lo;
                    m.line = line_of(bytes, m.start);
                    got.push(m);
                });
                from = to;
            }
            assert_eq!(summary(&got), summary(&whole), "offset {at}, ranges");
        }
    }
}

#[test]
fn duplicate_secrets_across_rules_are_reported_once() {
    let mut g = Gen::new(61);
    let token = g.alnum(24);
    // git-credentials and url-password both match; the specific one wins.
    let text = format!("https://bob:{token}@git.acme.io\n");
    assert_eq!(
        detectors(&text, Some("/home/bob/.git-credentials")),
        vec!["git-credentials"]
    );
    assert_eq!(
        detectors(&text, Some("/home/bob/notes")),
        vec!["url-password"]
    );
}

// ---------------------------------------------------------------- gitleaks

const GITLEAKS_CONFIG: &str = r#"
title = "acme gitleaks config"

[extend]
useDefault = true
disabledRules = ["jwt"]

[allowlist]
description = "global allow list"
paths = ['''(?:^|/)testdata/''']
stopwords = ["notreal"]

[[rules]]
id = "acme-api-token"
description = "ACME internal API token"
regex = '''(?i)\b(acme_[a-z0-9]{32})\b'''
secretGroup = 1
entropy = 3.0
keywords = ["ACME_"]
tags = ["internal"]
[rules.allowlist]
regexes = ['''acme_0{32}''']

[[rules]]
id = "oci-ocid"
description = "Oracle Cloud resource id"
regex = '''ocid1\.[a-z]{1,32}\.oc1\.[a-z0-9.-]{0,64}\.[a-z0-9]{60}'''

[[rules]]
id = "env-db-password"
regex = '''DB_PASS\s*=\s*(\S+)'''
path = '''\.env$'''
keywords = ["db_pass"]
[[rules.allowlists]]
condition = "AND"
regexTarget = "line"
regexes = ['''#\s*ci-only''']
paths = ['''(?:^|/)ci/''']

[[rules]]
id = "vendor-license-file"
path = '''(?:^|/)LICENSE\.key$'''
"#;

fn custom_scanner() -> Scanner {
    let custom = RuleSet::from_gitleaks_toml(GITLEAKS_CONFIG).expect("config parses");
    assert_eq!(custom.rules().len(), 4);
    Scanner::new(RuleSet::builtin().merge(custom)).expect("merged rules compile")
}

fn custom_detectors(s: &Scanner, text: &str, path: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    s.scan(text.as_bytes(), path, &mut |m| {
        out.push(m.detector.to_string())
    });
    out
}

#[test]
fn gitleaks_config_rules_fire_with_their_filters() {
    let s = custom_scanner();
    let mut g = Gen::new(70);
    let token = format!(
        "acme_{}",
        g.from(b"abcdefghijklmnopqrstuvwxyz0123456789", 32)
    );
    assert_eq!(
        custom_detectors(&s, &format!("key: {token}\n"), Some("/srv/app.yml")),
        vec!["acme-api-token"]
    );
    // Keywords are case-insensitive, like gitleaks'.
    assert_eq!(
        custom_detectors(&s, &format!("key: {}\n", token.to_uppercase()), None),
        vec!["acme-api-token"]
    );
    // Rule allowlist, global path allowlist, global stopword, entropy.
    assert!(custom_detectors(&s, &format!("key: acme_{}\n", "0".repeat(32)), None).is_empty());
    assert!(
        custom_detectors(
            &s,
            &format!("key: {token}\n"),
            Some("/src/testdata/fixture.yml")
        )
        .is_empty()
    );
    assert!(
        custom_detectors(
            &s,
            &format!("key: acme_notreal{}\n", g.from(b"abc123", 25)),
            None
        )
        .is_empty()
    );
    assert!(custom_detectors(&s, &format!("key: acme_{}\n", "ab".repeat(16)), None).is_empty());

    // No keywords: anchored on the literal `ocid1.` derived from the regex.
    let ocid = format!(
        "ocid1.instance.oc1.phx.{}",
        g.from(b"abcdefghijklmnopqrstuvwxyz0123456789", 60)
    );
    assert_eq!(
        custom_detectors(&s, &format!("id = \"{ocid}\"\n"), None),
        vec!["oci-ocid"]
    );

    // Path-restricted rule, with an AND allowlist (path and line). The
    // built-in config-password rule sees the same line; only the custom
    // detector is asserted here.
    let has = |text: &str, path: &str| {
        custom_detectors(&s, text, Some(path))
            .iter()
            .any(|d| d == "env-db-password")
    };
    let env = format!("DB_PASS = {}\n", pw(&mut g));
    assert!(has(&env, "/srv/app/.env"));
    assert!(!has(&env, "/srv/app/settings.txt"));
    let ci = env.replace('\n', "  # ci-only\n");
    assert!(!has(&ci, "/srv/ci/.env"));
    assert!(has(&ci, "/srv/app/.env"));

    // `disabledRules` removed the built-in JWT rule.
    let jwt = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"HS256"}"#, true),
        b64(br#"{"sub":"x","n":12345}"#, true),
        g.alnum(43)
    );
    assert_eq!(detectors(&jwt, None), vec!["jwt"]);
    assert!(custom_detectors(&s, &jwt, None).is_empty());

    // Path-only rule.
    let mut hits = Vec::new();
    s.scan_path("/opt/vendor/LICENSE.key", &mut |m| {
        hits.push(m.detector.to_string())
    });
    assert_eq!(hits, vec!["vendor-license-file"]);
}

#[test]
fn gitleaks_config_errors_name_the_problem() {
    let cases = [
        (
            "[[rules]]\nid = \"hex\"\nregex = '''[a-f0-9]{40}'''\n",
            "no keywords",
        ),
        (
            "[[rules]]\nid = \"x\"\nregex = '''abc(def)'''\nsecretGroup = 2\n",
            "secretGroup 2",
        ),
        ("[[rules]]\nid = \"x\"\nregex = '''abc('''\n", "regex"),
        (
            "[[rules]]\nid = \"x\"\nregex = '''abcd'''\n[rules.allowlist]\ndescription = \"empty\"\n",
            "at least one check",
        ),
        (
            "[[rules]]\nid = \"x\"\nregex = '''abcd'''\n[[rules.required]]\nid = \"y\"\n",
            "composite",
        ),
        (
            "[[rules]]\ndescription = \"no id\"\nregex = '''abcd'''\n",
            "no `id`",
        ),
        ("[[rules]]\nid = \"x\"\n", "no effect"),
        ("[extend]\npath = \"other.toml\"\n", "not supported"),
        (
            "[[rules]]\nid = \"x\"\nregex = '''a(?:\\w+\\s*)+'''\nkeywords = [\"a\"]\n",
            "limit",
        ),
        ("not toml at all = = =", "gitleaks rules"),
    ];
    for (toml, expected) in cases {
        let result = RuleSet::from_gitleaks_toml(toml).and_then(Scanner::new);
        match result {
            Ok(_) => panic!("accepted a bad config, expected an error mentioning {expected:?}"),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "error {e} should mention {expected:?}"
            ),
        }
    }
}

#[test]
fn gitleaks_keys_are_case_insensitive() {
    let toml = "[[Rules]]\nID = \"x\"\nRegex = '''tok_([a-z]{8})'''\nSecretGroup = 1\nKeywords = [\"tok_\"]\n";
    let set = RuleSet::from_gitleaks_toml(toml).expect("parses");
    assert_eq!(set.rules()[0].secret_group, 1);
    let s = Scanner::new(set).expect("compiles");
    let mut found = Vec::new();
    s.scan(b"a tok_qwertzui b", None, &mut |m| {
        found.push((m.secret_start, m.secret_end))
    });
    assert_eq!(found, vec![(6, 14)]);
}

#[test]
fn builtin_anchors_fit_slim_teddy() {
    // See the `builtin` module docs: beyond 32 long anchors aho-corasick
    // falls back to Fat Teddy and the whole scan gets ~20 % slower.
    let n = scanner().long_anchor_count();
    assert!(n <= 32, "{n} long anchors");
    assert!(n >= 20, "{n}: anchors missing?");
}

#[test]
fn shared_anchors_still_find_every_rule() {
    let mut g = Gen::new(77);
    let p = pw(&mut g);
    for (text, path, detector) in [
        (
            format!("SSHPASS={p} sshpass -e ssh host\n"),
            None,
            "command-line-password",
        ),
        (
            format!("sshpass -p {p} ssh host\n"),
            None,
            "command-line-password",
        ),
        (
            format!("MYSQL_PWD={p} mysqldump db\n"),
            None,
            "command-line-password",
        ),
        (
            format!("machine h login u password {p}\n"),
            Some("/root/.netrc"),
            "netrc",
        ),
        (
            format!("[client]\npassword = {p}\n"),
            Some("/root/.my.cnf"),
            "mysql-config",
        ),
    ] {
        assert_one(&text, path, detector, &p);
    }
}

#[test]
fn every_builtin_regex_compiles() {
    // Built-in regexes compile on first use (`RuleRegex`), trusting this
    // test: a failure there would silently disable the rule.
    for rule in RuleSet::builtin().rules {
        let Some(src) = &rule.regex else { continue };
        let prepared = super::pattern::prepare_rule_regex(src).expect(&rule.detector);
        assert!(
            super::pattern::build(&prepared.hir).is_ok(),
            "{} does not compile",
            rule.detector
        );
    }
}
