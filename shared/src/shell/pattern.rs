//! Shell patterns (XCU 2.13): `*`, `?` and bracket expressions, for
//! `case`, `${x%pattern}` and pathname expansion. A pattern's characters
//! carry whether they were quoted: a quoted `*` matches only `*`.

/// One character of a pattern, and whether it is special there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatChar {
    pub c: char,
    /// Unquoted: `*`, `?`, `[` and `\` act.
    pub active: bool,
}

/// A pattern from text where every character acts.
pub fn active(text: &str) -> Vec<PatChar> {
    text.chars().map(|c| PatChar { c, active: true }).collect()
}

/// Whether the pattern has anything that is not matched literally.
pub fn has_magic(pattern: &[PatChar]) -> bool {
    pattern
        .iter()
        .any(|p| p.active && matches!(p.c, '*' | '?' | '['))
}

/// Whether `text` matches `pattern` whole.
pub fn matches(pattern: &[PatChar], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    match_at(pattern, &text)
}

fn match_at(pattern: &[PatChar], text: &[char]) -> bool {
    // The classic iterative match with one star to return to.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            let pc = pattern[p];
            if pc.active && pc.c == '*' {
                star = Some((p, t));
                p += 1;
                continue;
            }
            if let Some(len) = one(pattern, p, text[t]) {
                p += len;
                t += 1;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|pc| pc.active && pc.c == '*')
}

/// Whether the pattern element at `p` matches `c`: how many pattern
/// characters it took.
fn one(pattern: &[PatChar], p: usize, c: char) -> Option<usize> {
    let pc = pattern[p];
    if !pc.active {
        return (pc.c == c).then_some(1);
    }
    match pc.c {
        '?' => Some(1),
        '\\' if p + 1 < pattern.len() => (pattern[p + 1].c == c).then_some(2),
        '[' => match bracket(pattern, p + 1, c) {
            Some((hit, len)) => hit.then_some(len + 1),
            // No closing `]`: a plain `[`.
            None => (c == '[').then_some(1),
        },
        other => (other == c).then_some(1),
    }
}

/// A bracket expression after its `[`: whether `c` is in it, and its
/// length up to and including `]`; `None` if it never closes.
fn bracket(pattern: &[PatChar], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start;
    let negate = pattern
        .get(i)
        .is_some_and(|p| p.active && (p.c == '!' || p.c == '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let pc = *pattern.get(i)?;
        if pc.c == ']' && !first {
            return Some((hit != negate, i + 1 - start));
        }
        first = false;
        if pc.active && pc.c == '[' && pattern.get(i + 1).is_some_and(|p| p.c == ':') {
            let rest: String = pattern[i + 2..].iter().map(|p| p.c).collect();
            if let Some(end) = rest.find(":]") {
                hit |= class(&rest[..end], c);
                i += 2 + end + 2;
                continue;
            }
        }
        let low = if pc.active && pc.c == '\\' && i + 1 < pattern.len() {
            i += 1;
            pattern[i].c
        } else {
            pc.c
        };
        if pattern.get(i + 1).is_some_and(|p| p.c == '-')
            && let Some(high) = pattern.get(i + 2).filter(|p| p.c != ']')
        {
            hit |= (low..=high.c).contains(&c);
            i += 3;
        } else {
            hit |= low == c;
            i += 1;
        }
    }
}

fn class(name: &str, c: char) -> bool {
    match name {
        "alpha" => c.is_ascii_alphabetic(),
        "digit" => c.is_ascii_digit(),
        "alnum" => c.is_ascii_alphanumeric(),
        "upper" => c.is_ascii_uppercase(),
        "lower" => c.is_ascii_lowercase(),
        "space" => c.is_ascii_whitespace() || c == '\x0b',
        "blank" => c == ' ' || c == '\t',
        "punct" => c.is_ascii_punctuation(),
        "xdigit" => c.is_ascii_hexdigit(),
        "cntrl" => c.is_ascii_control(),
        "print" => (' '..='~').contains(&c),
        "graph" => ('!'..='~').contains(&c),
        _ => false,
    }
}

/// `${x#p}`, `${x##p}`: `value` without the shortest (or longest) prefix
/// matching.
pub fn remove_prefix(value: &str, pattern: &[PatChar], longest: bool) -> String {
    let ends: Vec<usize> = value
        .char_indices()
        .map(|(i, _)| i)
        .chain([value.len()])
        .collect();
    let mut order: Vec<usize> = ends.clone();
    if longest {
        order.reverse();
    }
    for end in order {
        if matches(pattern, &value[..end]) {
            return value[end..].to_string();
        }
    }
    value.to_string()
}

/// `${x%p}`, `${x%%p}`: `value` without the shortest (or longest) suffix
/// matching.
pub fn remove_suffix(value: &str, pattern: &[PatChar], longest: bool) -> String {
    let mut starts: Vec<usize> = value
        .char_indices()
        .map(|(i, _)| i)
        .chain([value.len()])
        .collect();
    if !longest {
        starts.reverse();
    }
    for start in starts {
        if matches(pattern, &value[start..]) {
            return value[..start].to_string();
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        matches(&active(pattern), text)
    }

    #[test]
    fn stars_marks_and_brackets() {
        assert!(m("*", ""));
        assert!(m("*.gz", "a.tar.gz"));
        assert!(!m("*.gz", "a.tar"));
        assert!(m("a?c", "abc"));
        assert!(m("[abc]x", "bx"));
        assert!(m("[!abc]x", "dx"));
        assert!(!m("[^abc]x", "ax"));
        assert!(m("[a-c]", "b"));
        assert!(m("[]]", "]"));
        assert!(m("[[:digit:]]*", "7up"));
        assert!(m("[", "["));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
    }

    #[test]
    fn quoted_characters_match_themselves() {
        let pattern = vec![
            PatChar {
                c: '*',
                active: false,
            },
            PatChar {
                c: '*',
                active: true,
            },
        ];
        assert!(matches(&pattern, "*x"));
        assert!(!matches(&pattern, "x*"));
        assert!(!has_magic(&pattern[..1]));
    }

    #[test]
    fn prefixes_and_suffixes_come_off_as_ash_takes_them() {
        let x = "abc.tar.gz";
        assert_eq!(remove_suffix(x, &active(".*"), false), "abc.tar");
        assert_eq!(remove_suffix(x, &active(".*"), true), "abc");
        assert_eq!(remove_prefix(x, &active("*."), false), "tar.gz");
        assert_eq!(remove_prefix(x, &active("*."), true), "gz");
        assert_eq!(remove_prefix(x, &active("zzz"), true), x);
        assert_eq!(remove_prefix("/usr/bin/env", &active("*/"), true), "env");
    }
}
