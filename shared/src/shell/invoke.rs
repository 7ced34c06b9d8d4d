//! `sh`'s own command line, as `ash` reads it, for both engines' `sh`:
//! option letters (`-e -u -x -f -C`, `-o NAME`, `+` turning one off,
//! `-i`, `-s`, `-c`) up to `--` or the first operand, then the command
//! string (`-c`), standard input (`-s`, or nothing to run) or a file, and
//! the positional parameters.

use super::run::Options;

/// Where the commands come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `-c SCRIPT`
    Command(String),
    /// A script file's path.
    File(String),
    /// Standard input (`-s`, or no operand).
    Stdin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub source: Source,
    /// `$0` when given after a `-c` script.
    pub arg0: Option<String>,
    pub positional: Vec<String>,
    /// Options turned on or off, in order.
    pub set: Vec<(char, bool)>,
    /// `-i`: a terminal's shell, which a terminal gets anyway.
    pub interactive: bool,
}

impl Invocation {
    /// The options, with `mode` (`c`, `s` or none) first in `$-`.
    pub fn apply(&self, options: &mut Options) {
        for (letter, on) in &self.set {
            match letter {
                'e' => options.errexit = *on,
                'u' => options.nounset = *on,
                'x' => options.xtrace = *on,
                'f' => options.noglob = *on,
                _ => options.noclobber = *on,
            }
        }
        options.mode = match self.source {
            Source::Command(_) => "c",
            Source::Stdin => "s",
            Source::File(_) => "",
        };
    }
}

/// The letter of a `-o` name.
fn long_option(name: &str) -> Option<char> {
    match name {
        "errexit" => Some('e'),
        "nounset" => Some('u'),
        "xtrace" => Some('x'),
        "noglob" => Some('f'),
        "noclobber" => Some('C'),
        _ => None,
    }
}

/// Reads `sh`'s arguments; the error is `ash`'s words, for status 2.
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    let mut set = Vec::new();
    let (mut command, mut stdin, mut interactive) = (false, false, false);
    let mut at = 0;
    while let Some(arg) = args.get(at) {
        let on = match arg.chars().next() {
            Some('-') => true,
            Some('+') => false,
            _ => break,
        };
        at += 1;
        if arg == "--" || arg == "-" {
            break;
        }
        for letter in arg[1..].chars() {
            match letter {
                'c' => command = on,
                's' => stdin = on,
                'i' => interactive = on,
                // A login shell reads no profile here.
                'l' => {}
                'e' | 'u' | 'x' | 'f' | 'C' => set.push((letter, on)),
                'o' => {
                    let name = args.get(at).cloned().unwrap_or_default();
                    at += 1;
                    // `ash` warns and goes on; both engines stop here
                    // instead, having no way to warn before a simulated
                    // shell's first step.
                    match long_option(&name) {
                        Some(letter) => set.push((letter, on)),
                        None => return Err(format!("illegal option -o {name}")),
                    }
                }
                other => return Err(format!("illegal option -{other}")),
            }
        }
    }
    let operands = &args[at.min(args.len())..];
    let (source, arg0, positional) = if command {
        let Some((script, rest)) = operands.split_first() else {
            return Err("-c requires an argument".into());
        };
        let (arg0, positional) = match rest.split_first() {
            Some((name, positional)) => (Some(name.clone()), positional.to_vec()),
            None => (None, Vec::new()),
        };
        (Source::Command(script.clone()), arg0, positional)
    } else if stdin || operands.is_empty() {
        (Source::Stdin, None, operands.to_vec())
    } else {
        (
            Source::File(operands[0].clone()),
            None,
            operands[1..].to_vec(),
        )
    };
    Ok(Invocation {
        source,
        arg0,
        positional,
        set,
        interactive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn options_come_before_the_script_file_or_input() {
        let i = parse(&words("-e -c cmd name a b")).unwrap();
        assert_eq!(i.source, Source::Command("cmd".into()));
        assert_eq!((i.arg0.as_deref(), i.positional.len()), (Some("name"), 2));
        assert_eq!(i.set, [('e', true)]);
        let i = parse(&words("-c -x cmd")).unwrap();
        assert_eq!(
            (i.source, i.set),
            (Source::Command("cmd".into()), vec![('x', true)])
        );
        let i = parse(&words("-es x")).unwrap();
        assert_eq!(
            (i.source, i.positional),
            (Source::Stdin, vec!["x".to_string()])
        );
        let i = parse(&words("-o errexit +e file a")).unwrap();
        assert_eq!(i.set, [('e', true), ('e', false)]);
        assert_eq!(i.source, Source::File("file".into()));
        let i = parse(&words("-- -c")).unwrap();
        assert_eq!(i.source, Source::File("-c".into()));
        assert_eq!(parse(&words("-z")), Err("illegal option -z".into()));
        assert_eq!(parse(&words("-c")), Err("-c requires an argument".into()));
        assert_eq!(
            parse(&words("-o bogus -c true")),
            Err("illegal option -o bogus".into())
        );
        let mut options = Options::default();
        parse(&words("-eu -c x")).unwrap().apply(&mut options);
        assert_eq!(options.letters(), "ceu");
    }
}
