//! Shell-style globs for ignore files: `*` matches within one path
//! component, `**` across components (`**/` also matches nothing, so
//! `/**/id_rsa` matches `/id_rsa`), `?` one character of a component.
//! Everything else is literal. Matching is a table over (pattern token,
//! text position), so no pattern can make it take exponential time.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    One,
    Star,
    DeepStar,
    DeepDir,
}

fn tokens(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                if chars.get(i + 2) == Some(&'/') {
                    out.push(Token::DeepDir);
                    i += 3;
                } else {
                    out.push(Token::DeepStar);
                    i += 2;
                }
                continue;
            }
            '*' => out.push(Token::Star),
            '?' => out.push(Token::One),
            c => out.push(Token::Char(c)),
        }
        i += 1;
    }
    out
}

/// Whether `text` matches `pattern` as a whole.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let pat = tokens(pattern);
    let text: Vec<char> = text.chars().collect();
    // can[j]: the pattern's first i tokens match text[..j] (row i).
    let mut can = vec![false; text.len() + 1];
    can[0] = true;
    for t in &pat {
        let mut next = vec![false; text.len() + 1];
        // Whether the row above matched any prefix shorter than j.
        let mut any_before = false;
        for j in 0..=text.len() {
            let here = can[j];
            match t {
                Token::Char(c) => {
                    if j > 0 && can[j - 1] && text[j - 1] == *c {
                        next[j] = true;
                    }
                }
                Token::One => {
                    if j > 0 && can[j - 1] && text[j - 1] != '/' {
                        next[j] = true;
                    }
                }
                Token::Star => {
                    // Extend a match over non-'/' characters.
                    next[j] = here || (j > 0 && next[j - 1] && text[j - 1] != '/');
                }
                Token::DeepStar => {
                    next[j] = here || (j > 0 && next[j - 1]);
                }
                Token::DeepDir => {
                    // Nothing, or anything that ends with '/'.
                    next[j] = here || (j > 0 && text[j - 1] == '/' && any_before);
                }
            }
            any_before |= here;
        }
        can = next;
    }
    can[text.len()]
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn components_and_depth() {
        assert!(matches("/etc/ssh/ssh_host_*", "/etc/ssh/ssh_host_rsa_key"));
        assert!(!matches("/etc/*", "/etc/ssh/ssh_host_rsa_key"));
        assert!(matches("/etc/**", "/etc/ssh/ssh_host_rsa_key"));
        assert!(matches("/**/id_rsa", "/id_rsa"));
        assert!(matches("/**/id_rsa", "/home/u/.ssh/id_rsa"));
        assert!(!matches("/**/id_rsa", "/home/u/.ssh/id_rsa.pub"));
        assert!(matches("/home/?/.bash_history", "/home/u/.bash_history"));
        assert!(!matches("/home/?/.bash_history", "/home/uu/.bash_history"));
        assert!(matches("secret.*", "secret.token"));
        assert!(matches("fstab.data-disk", "fstab.data-disk"));
        assert!(!matches("fstab.data", "fstab.data-disk"));
        assert!(matches("", ""));
        assert!(matches("**", ""));
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = "*a".repeat(200);
        let text = "a".repeat(199);
        assert!(!matches(&pattern, &text));
    }
}
