//! After a word's expansions: field splitting on `IFS` (XCU 2.6.5) and
//! pathname expansion (2.6.6), which quote removal leaves behind as
//! plain fields.

use super::pattern::{self, PatChar};

/// Where a character of an expanded word came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written in the word, unquoted: not split, but globbed.
    Literal,
    /// Quoted: neither split nor globbed.
    Quoted,
    /// The result of an unquoted expansion: split and globbed.
    Expanded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    Char(char, Origin),
    /// A field ends here whatever follows (between the fields of `"$@"`).
    Break,
    /// A quoted empty string: the field exists even with nothing in it.
    Empty,
}

/// Pieces from text of one origin.
pub fn pieces(text: &str, origin: Origin) -> impl Iterator<Item = Piece> + '_ {
    text.chars().map(move |c| Piece::Char(c, origin))
}

/// Splits an expanded word into fields, each a pattern (its unquoted
/// characters active for globbing).
pub fn split(pieces: &[Piece], ifs: &str) -> Vec<Vec<PatChar>> {
    let mut fields = Vec::new();
    let mut current = Vec::new();
    let mut exists = false;
    let mut after_blank = false;
    for piece in pieces {
        match *piece {
            Piece::Char(c, Origin::Expanded) if ifs.contains(c) => {
                if matches!(c, ' ' | '\t' | '\n') {
                    if exists {
                        fields.push(std::mem::take(&mut current));
                        exists = false;
                        after_blank = true;
                    }
                } else {
                    if exists || !after_blank {
                        fields.push(std::mem::take(&mut current));
                    }
                    exists = false;
                    after_blank = false;
                }
            }
            Piece::Char(c, origin) => {
                current.push(PatChar {
                    c,
                    active: origin != Origin::Quoted,
                });
                exists = true;
                after_blank = false;
            }
            Piece::Empty => {
                exists = true;
                after_blank = false;
            }
            Piece::Break => {
                if exists {
                    fields.push(std::mem::take(&mut current));
                }
                exists = false;
                after_blank = false;
            }
        }
    }
    if exists {
        fields.push(current);
    }
    fields
}

/// A field's text as it stands (no globbing).
pub fn text(field: &[PatChar]) -> String {
    field.iter().map(|p| p.c).collect()
}

/// What pathname expansion needs of a file system: a directory's names
/// (`None` when it cannot be read).
pub trait Dirs {
    fn names(&mut self, dir: &str) -> Option<Vec<String>>;
}

/// Pathname expansion of one field: the paths that match, sorted, or the
/// field itself when none does (or it has nothing to match with).
pub fn glob(field: &[PatChar], cwd: &str, dirs: &mut dyn Dirs) -> Vec<String> {
    if !pattern::has_magic(field) {
        return vec![text(field)];
    }
    let absolute = field.first().is_some_and(|p| p.c == '/');
    let components: Vec<&[PatChar]> = field
        .split(|p| p.c == '/')
        .filter(|c| !c.is_empty())
        .collect();
    // Each candidate: the path as it will be printed, and as it is read.
    let mut paths: Vec<String> = vec![if absolute { "/".into() } else { String::new() }];
    for (index, component) in components.iter().enumerate() {
        let last = index + 1 == components.len();
        let mut next = Vec::new();
        for path in &paths {
            let dir = if path.is_empty() {
                cwd.to_string()
            } else if path.starts_with('/') {
                path.clone()
            } else {
                format!("{}/{}", cwd.trim_end_matches('/'), path)
            };
            let join = |name: &str| {
                if path.is_empty() {
                    name.to_string()
                } else if path.ends_with('/') {
                    format!("{path}{name}")
                } else {
                    format!("{path}/{name}")
                }
            };
            if !pattern::has_magic(component) {
                let name = text(component);
                if last {
                    if dirs.names(&dir).is_some_and(|names| names.contains(&name)) {
                        next.push(join(&name));
                    }
                } else {
                    next.push(join(&name));
                }
                continue;
            }
            let Some(mut names) = dirs.names(&dir) else {
                continue;
            };
            names.sort();
            let dot = component.first().is_some_and(|p| p.c == '.');
            for name in names {
                if name.starts_with('.') && !dot {
                    continue;
                }
                if pattern::matches(component, &name) {
                    next.push(join(&name));
                }
            }
        }
        paths = next;
        if paths.is_empty() {
            break;
        }
    }
    if paths.is_empty() {
        return vec![text(field)];
    }
    paths.sort();
    if field.last().is_some_and(|p| p.c == '/') {
        for path in &mut paths {
            path.push('/');
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn expanded(text: &str) -> Vec<Piece> {
        pieces(text, Origin::Expanded).collect()
    }

    fn fields(pieces: &[Piece], ifs: &str) -> Vec<String> {
        split(pieces, ifs).iter().map(|f| text(f)).collect()
    }

    #[test]
    fn splitting_follows_ifs() {
        assert_eq!(fields(&expanded(" a  b "), " \t\n"), ["a", "b"]);
        assert_eq!(fields(&expanded("a:b"), ":"), ["a", "b"]);
        assert_eq!(fields(&expanded("a::b"), ":"), ["a", "", "b"]);
        assert_eq!(fields(&expanded(":a"), ":"), ["", "a"]);
        assert_eq!(fields(&expanded("a:"), ":"), ["a"]);
        assert_eq!(fields(&expanded("a : b"), " :"), ["a", "b"]);
        assert_eq!(fields(&expanded("a b"), ""), ["a b"]);
        // An expansion to nothing is no field; a quoted one is one.
        assert!(fields(&expanded(""), " ").is_empty());
        assert_eq!(fields(&[Piece::Empty], " "), [""]);
        // Literal text is not split.
        let mut word: Vec<Piece> = pieces("x y", Origin::Literal).collect();
        word.extend(expanded("1 2"));
        assert_eq!(fields(&word, " "), ["x y1", "2"]);
    }

    #[test]
    fn fields_of_dollar_at_break_apart() {
        // "a$@b" with x and y.
        let mut word: Vec<Piece> = pieces("a", Origin::Quoted).collect();
        word.extend(pieces("x", Origin::Quoted));
        word.push(Piece::Break);
        word.extend(pieces("y", Origin::Quoted));
        word.extend(pieces("b", Origin::Quoted));
        assert_eq!(fields(&word, " "), ["ax", "yb"]);
    }

    struct Tree(HashMap<&'static str, Vec<&'static str>>);

    impl Dirs for Tree {
        fn names(&mut self, dir: &str) -> Option<Vec<String>> {
            self.0
                .get(dir)
                .map(|names| names.iter().map(|n| n.to_string()).collect())
        }
    }

    #[test]
    fn globbing_lists_matches_in_order() {
        let mut tree = Tree(HashMap::from([
            ("/", vec!["bin", "etc", ".hidden"]),
            ("/etc", vec!["passwd", "group", "hosts"]),
            ("/bin", vec!["sh", "ls"]),
            ("/root", vec!["b.txt", "a.txt", "c.md"]),
        ]));
        let glob_of = |text: &str, tree: &mut Tree| {
            let field: Vec<PatChar> = pattern::active(text);
            glob(&field, "/root", tree)
        };
        assert_eq!(glob_of("*.txt", &mut tree), ["a.txt", "b.txt"]);
        assert_eq!(
            glob_of("/etc/*s*", &mut tree),
            ["/etc/hosts", "/etc/passwd"]
        );
        assert_eq!(glob_of("/*/sh", &mut tree), ["/bin/sh"]);
        assert_eq!(glob_of("/*", &mut tree), ["/bin", "/etc"]);
        assert_eq!(glob_of("/.*", &mut tree), ["/.hidden"]);
        assert_eq!(glob_of("*.none", &mut tree), ["*.none"]);
        // Quoted, a star is only a star.
        let quoted = vec![PatChar {
            c: '*',
            active: false,
        }];
        assert_eq!(glob(&quoted, "/root", &mut tree), ["*"]);
    }
}
