//! Rule definitions: what a content rule is before it is compiled, and the
//! rule set (built-in rules plus custom gitleaks rules).

use crate::report::Severity;

/// A literal the prefilter looks for; the rule's regex runs only in a window
/// around each occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    pub text: String,
    /// Match the exact bytes; otherwise ASCII case-insensitively (gitleaks'
    /// keywords are case-insensitive).
    pub case_sensitive: bool,
}

/// Extra validation a built-in rule applies to a regex match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Check {
    /// Nothing beyond the common filters.
    #[default]
    None,
    /// The match is a PEM/OpenSSH/PGP private key header: extend the match to
    /// the end of the key block, require a real base64 body, and find out
    /// whether the key is encrypted (which lowers the severity).
    PrivateKey,
    /// The secret is a JWT: its header must decode to JSON with `"alg"`.
    Jwt,
    /// The secret is a Docker `auth` value: base64 of `user:password` with a
    /// non-placeholder password.
    DockerAuth,
    /// A GCP service-account key: `"type": "service_account"` must occur
    /// within [`Check::SERVICE_ACCOUNT_REACH`] bytes of the match.
    ServiceAccount,
    /// The match starts with a password keyword (`password`, `passwd`,
    /// `passphrase`, `pass`, `pwd`): extend it back over the key
    /// (`DB_PASSWORD`, `smtp_pass`; `pass`/`pwd` only whole or after a
    /// separator, so not `bypass` or `PWD`). With `line_start`, the key must
    /// begin its line (after indentation, `export ` or `set `), the value
    /// must end it (a comment may follow), and the value must not look like
    /// code (`self.password`, `getpass()`) or YAML syntax (`*alias`, `!vault`).
    PasswordAssignment { line_start: bool },
}

impl Check {
    /// How far the service-account check looks for `"type"` around the key.
    pub const SERVICE_ACCOUNT_REACH: usize = 4096;
    /// The longest private key block (header to `-----END …-----`) the
    /// private-key check follows. An RSA-8192 PEM key is about 6.5 KiB.
    pub const KEY_BLOCK_MAX: usize = 16 * 1024;
    /// How far the password-assignment check looks around the keyword: the
    /// key prefix (32), a quote, indentation (16) and `export `, or the rest
    /// of the line after the value (16 blanks and one byte).
    pub const KEY_REACH: usize = 64;

    /// Bytes beyond the regex match that the check may read or extend the
    /// match over: chunked callers must overlap by at least this plus the
    /// regex length.
    pub(crate) fn reach(self) -> usize {
        match self {
            Check::PrivateKey => Check::KEY_BLOCK_MAX,
            Check::ServiceAccount => Check::SERVICE_ACCOUNT_REACH,
            Check::PasswordAssignment { .. } => Check::KEY_REACH,
            _ => 0,
        }
    }
}

/// Which text an allowlist's regexes are matched against (gitleaks'
/// `regexTarget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegexTarget {
    /// The secret (capture group) — gitleaks' default.
    #[default]
    Secret,
    /// The whole regex match.
    Match,
    /// The line(s) containing the match.
    Line,
}

/// An allowlist: findings it matches are dropped (gitleaks semantics: with
/// `and == false` any one criterion suffices, with `and == true` every
/// criterion that is set must match).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allowlist {
    pub description: String,
    pub and: bool,
    /// Regexes on the path inside the filesystem.
    pub paths: Vec<String>,
    pub regexes: Vec<String>,
    pub regex_target: RegexTarget,
    /// Substrings (case-insensitive) of the secret.
    pub stopwords: Vec<String>,
    /// gitleaks' commit SHAs. There are no commits in a disk image, so this
    /// criterion never matches; it is kept so that an `and` allowlist that
    /// names commits keeps gitleaks' meaning (never allows here).
    pub commits: Vec<String>,
    /// For a global allowlist: the rule ids it applies to (empty: all).
    pub target_rules: Vec<String>,
}

/// One content rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The finding's rule id: `secret.private-key`, … for built-in rules,
    /// the gitleaks `id` for custom ones.
    pub id: String,
    /// What exactly was found (`alibaba-access-key-id`, `github-pat`, …);
    /// the gitleaks `id` for custom rules.
    pub detector: String,
    pub description: String,
    pub severity: Severity,
    /// `None`: a path-only rule (fires on the file's path alone).
    pub regex: Option<String>,
    /// Capture group holding the secret; 0 means the first non-empty group,
    /// or the whole match when the regex has no group (gitleaks semantics).
    pub secret_group: usize,
    /// Prefilter anchors. Empty: derived from the regex's required literals
    /// (see `Scanner::new`).
    pub keywords: Vec<Keyword>,
    /// Minimum Shannon entropy of the secret (the finding is dropped when
    /// the entropy is at or below it).
    pub entropy: Option<f64>,
    /// Regex on the path inside the filesystem; a rule with a path filter
    /// runs only on files whose path matches (never on unallocated space).
    pub path: Option<String>,
    pub allowlists: Vec<Allowlist>,
    pub check: Check,
    /// Drop secrets that [`is_placeholder`](super::is_placeholder) says are
    /// placeholders.
    pub placeholder_filter: bool,
    /// The secret must stand alone: the byte before it is not one of
    /// `[A-Za-z0-9+/_-]` and the byte after it not one of `[A-Za-z0-9+/=_-]`
    /// (a 30-character secret is not the middle of a 40-character one).
    pub token_boundary: bool,
    /// The byte before the match is not one of `[A-Za-z0-9_.-]` (the key of
    /// an assignment starts a word: `bypass=` is not `pass=`).
    pub word_start: bool,
    /// Skip this many bytes of the secret (a fixed prefix such as `LTAI`),
    /// then require at least `min_char_classes` of lowercase, uppercase and
    /// digits in the rest: `LTAIinformational` is a word, not a key id.
    pub class_skip: usize,
    pub min_char_classes: u8,
    pub tags: Vec<String>,
}

impl Rule {
    /// A rule with `id` and `regex`, severity `error`, no filters; for
    /// built-in rules, set `detector` too.
    pub fn new(id: &str, regex: &str) -> Rule {
        Rule {
            id: id.to_owned(),
            detector: id.to_owned(),
            description: String::new(),
            severity: Severity::Error,
            regex: Some(regex.to_owned()),
            secret_group: 0,
            keywords: Vec::new(),
            entropy: None,
            path: None,
            allowlists: Vec::new(),
            check: Check::None,
            placeholder_filter: true,
            token_boundary: false,
            word_start: false,
            class_skip: 0,
            min_char_classes: 0,
            tags: Vec::new(),
        }
    }

    pub fn detector(mut self, detector: &str) -> Rule {
        self.detector = detector.to_owned();
        self
    }

    pub fn describe(mut self, description: &str) -> Rule {
        self.description = description.to_owned();
        self
    }

    /// Case-sensitive anchors.
    pub fn anchors(mut self, words: &[&str]) -> Rule {
        self.keywords.extend(words.iter().map(|w| Keyword {
            text: (*w).to_owned(),
            case_sensitive: true,
        }));
        self
    }

    /// ASCII case-insensitive anchors.
    pub fn keywords(mut self, words: &[&str]) -> Rule {
        self.keywords.extend(words.iter().map(|w| Keyword {
            text: (*w).to_owned(),
            case_sensitive: false,
        }));
        self
    }

    pub fn group(mut self, group: usize) -> Rule {
        self.secret_group = group;
        self
    }

    pub fn check(mut self, check: Check) -> Rule {
        self.check = check;
        self
    }

    pub fn path(mut self, path: &str) -> Rule {
        self.path = Some(path.to_owned());
        self
    }

    pub fn entropy(mut self, bits: f64) -> Rule {
        self.entropy = Some(bits);
        self
    }

    pub fn classes(mut self, skip: usize, min: u8) -> Rule {
        self.class_skip = skip;
        self.min_char_classes = min;
        self
    }

    pub fn token_boundary(mut self) -> Rule {
        self.token_boundary = true;
        self
    }

    pub fn word_start(mut self) -> Rule {
        self.word_start = true;
        self
    }

    pub fn no_placeholder_filter(mut self) -> Rule {
        self.placeholder_filter = false;
        self
    }

    pub fn allow(mut self, allowlist: Allowlist) -> Rule {
        self.allowlists.push(allowlist);
        self
    }
}

/// A set of content rules plus global allowlists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) allowlists: Vec<Allowlist>,
    /// Rule ids or detectors that [`RuleSet::merge`] removes from the other
    /// set (gitleaks' `[extend] disabledRules`).
    pub(crate) disabled: Vec<String>,
}

impl RuleSet {
    /// An empty rule set.
    pub fn empty() -> RuleSet {
        RuleSet::default()
    }

    /// The built-in `secret.*` content rules of RULES.md.
    pub fn builtin() -> RuleSet {
        RuleSet {
            rules: super::builtin::rules(),
            allowlists: Vec::new(),
            disabled: Vec::new(),
        }
    }

    /// Custom rules in gitleaks' TOML format (see the `gitleaks` module docs
    /// for what is supported).
    pub fn from_gitleaks_toml(text: &str) -> crate::Result<RuleSet> {
        super::gitleaks::parse(text)
    }

    /// `self` plus `other`: a rule of `other` whose detector equals one of
    /// `self`'s replaces it, rules named in `other`'s `disabledRules` are
    /// removed from `self`, and global allowlists are concatenated.
    pub fn merge(mut self, other: RuleSet) -> RuleSet {
        let disabled = other.disabled;
        self.rules
            .retain(|r| !disabled.iter().any(|d| *d == r.id || *d == r.detector));
        for rule in other.rules {
            match self.rules.iter_mut().find(|r| r.detector == rule.detector) {
                Some(existing) => *existing = rule,
                None => self.rules.push(rule),
            }
        }
        self.allowlists.extend(other.allowlists);
        self.disabled.extend(disabled);
        self
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn allowlists(&self) -> &[Allowlist] {
        &self.allowlists
    }

    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    pub fn push_allowlist(&mut self, allowlist: Allowlist) {
        self.allowlists.push(allowlist);
    }
}
