//! POSIX regular expressions, basic (`grep`, `sed`) and extended (`grep
//! -E`, `sed -E`), with GNU's additions that BusyBox's applets get from
//! glibc (`\|`, `\+`, `\?`, `\<`, `\>`, `\w`), turned into the `regex`
//! crate's syntax and matched on bytes, as in the C locale.
//!
//! Where POSIX and the crate differ: the crate picks the first
//! alternative that matches where POSIX takes the longest (`a|ab` on `ab`
//! gives `a`), and back-references (`\1` in a pattern) are refused.

use regex::bytes::{Regex, RegexBuilder};

/// Compiles a pattern, or says what is wrong with it.
pub fn compile(pattern: &str, extended: bool, ignore_case: bool) -> Result<Regex, String> {
    let translated = translate(pattern, extended)?;
    RegexBuilder::new(&translated)
        .unicode(false)
        .case_insensitive(ignore_case)
        .size_limit(1 << 22)
        .build()
        .map_err(|err| match err {
            regex::Error::CompiledTooBig(_) => "regular expression too big".to_string(),
            _ => "invalid regular expression".to_string(),
        })
}

/// The crate's spelling of a POSIX pattern.
pub fn translate(pattern: &str, extended: bool) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // Where `*` is literal and `^` an anchor: the start, or after `(`
    // or `|`.
    let mut at_start = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let start_here = at_start;
        at_start = false;
        match c {
            '\\' => {
                let Some(&next) = chars.get(i) else {
                    return Err("trailing backslash (\\)".into());
                };
                i += 1;
                match next {
                    '(' | ')' | '{' | '}' | '|' | '+' | '?' if !extended => {
                        out.push(next);
                        at_start = matches!(next, '(' | '|');
                    }
                    '1'..='9' => return Err("back-references are not supported".into()),
                    '<' | '>' => out.push_str("\\b"),
                    'w' | 'W' | 's' | 'S' | 'b' | 'B' => {
                        out.push('\\');
                        out.push(next);
                    }
                    'n' => out.push_str("\\n"),
                    't' => out.push_str("\\t"),
                    other => push_literal(&mut out, other),
                }
            }
            '[' => {
                let (class, next) = bracket(&chars, i)?;
                out.push_str(&class);
                i = next;
            }
            '*' if start_here => out.push_str("\\*"),
            '^' if start_here || extended => {
                out.push('^');
                at_start = true;
            }
            '^' => out.push_str("\\^"),
            '$' if extended || i == chars.len() || ends_group(&chars, i) => out.push('$'),
            '$' => out.push_str("\\$"),
            '(' | '|' if extended => {
                out.push(c);
                at_start = true;
            }
            ')' | '+' | '?' if extended => out.push(c),
            '{' if extended => {
                // An interval only where one can be; else a brace.
                if chars
                    .get(i)
                    .is_some_and(|d| d.is_ascii_digit() || *d == ',')
                    && !start_here
                {
                    out.push('{');
                } else {
                    out.push_str("\\{");
                }
            }
            '}' if extended => out.push('}'),
            '.' => out.push('.'),
            '*' => out.push('*'),
            other => push_literal(&mut out, other),
        }
    }
    Ok(out)
}

/// Whether a basic pattern's `\)` or `\|` comes next.
fn ends_group(chars: &[char], i: usize) -> bool {
    chars.get(i) == Some(&'\\') && matches!(chars.get(i + 1), Some(')' | '|'))
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() || c == ' ' {
        if c == ' ' {
            out.push(' ');
        } else {
            out.push('\\');
            out.push(c);
        }
    } else if c.is_ascii() {
        out.push(c);
    } else {
        // Matched byte by byte, as the C locale does.
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
}

/// A bracket expression starting after its `[`: the crate's class, and
/// where the pattern goes on.
fn bracket(chars: &[char], mut i: usize) -> Result<(String, usize), String> {
    let mut out = String::from("[");
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unmatched [, [^, [:, [., or [=".into());
        };
        i += 1;
        match c {
            ']' if !first => break,
            '[' if matches!(chars.get(i), Some(':' | '.' | '=')) => {
                let kind = chars[i];
                let close: String = [kind, ']'].iter().collect();
                let rest: String = chars[i + 1..].iter().collect();
                let Some(end) = rest.find(&close) else {
                    return Err("unmatched [, [^, [:, [., or [=".into());
                };
                let name = &rest[..end];
                match kind {
                    ':' => {
                        const CLASSES: [&str; 12] = [
                            "alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct",
                            "print", "graph", "cntrl", "xdigit",
                        ];
                        if !CLASSES.contains(&name) {
                            return Err("invalid character class".into());
                        }
                        out.push_str(&format!("[:{name}:]"));
                    }
                    _ => {
                        for ch in name.chars() {
                            class_char(&mut out, ch);
                        }
                    }
                }
                i += 1 + name.chars().count() + 2;
            }
            '-' if !first && chars.get(i) != Some(&']') => out.push('-'),
            other => class_char(&mut out, other),
        }
        first = false;
    }
    out.push(']');
    Ok((out, i))
}

fn class_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else if c.is_ascii() {
        out.push_str(&format!("\\x{:02x}", c as u32));
    } else {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finds(pattern: &str, extended: bool, text: &str) -> Option<String> {
        compile(pattern, extended, false)
            .unwrap()
            .find(text.as_bytes())
            .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
    }

    #[test]
    fn basic_patterns_read_as_posix_says() {
        assert_eq!(finds("a\\(b\\)*c", false, "xabbc").as_deref(), Some("abbc"));
        assert_eq!(finds("a+b", false, "aab a+b").as_deref(), Some("a+b"));
        assert_eq!(finds("*a", false, "x*a").as_deref(), Some("*a"));
        assert_eq!(finds("a^b$c", false, "a^b$c").as_deref(), Some("a^b$c"));
        assert_eq!(finds("x\\{2\\}", false, "xxx").as_deref(), Some("xx"));
        assert_eq!(finds("cat\\|dog", false, "a dog").as_deref(), Some("dog"));
        assert_eq!(
            finds("^NSpid:", false, "NSpid:\t7\t1").as_deref(),
            Some("NSpid:")
        );
    }

    #[test]
    fn extended_patterns_and_brackets() {
        assert_eq!(finds("a+b", true, "xaab").as_deref(), Some("aab"));
        assert_eq!(finds("(ab|cd)+", true, "cdab").as_deref(), Some("cdab"));
        assert_eq!(finds("[]a]+", true, "x]a]").as_deref(), Some("]a]"));
        assert_eq!(finds("[^[:digit:]]+", true, "12ab3").as_deref(), Some("ab"));
        assert_eq!(finds("[a\\]+", true, "a\\").as_deref(), Some("a\\"));
        assert_eq!(finds("[a-c-]+", true, "zb-a").as_deref(), Some("b-a"));
        assert_eq!(finds("{x", true, "{x").as_deref(), Some("{x"));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(compile("[abc", false, false).is_err());
        assert!(compile("\\(a\\)\\1", false, false).is_err());
        assert!(compile("a\\", false, false).is_err());
    }
}
