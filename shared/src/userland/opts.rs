//! Command-line options as `getopt` reads them for BusyBox's applets:
//! `-vn` is `-v -n`, an option's argument is the rest of its word or the
//! next word (`-n3`, `-n 3`), `--` ends the options, and options may
//! follow operands (`grep a -v f`) unless the applet runs a command
//! (`xargs echo -n`).

pub struct Opts {
    /// Each option given, in order, with its argument.
    pub given: Vec<(char, Option<String>)>,
    pub operands: Vec<String>,
}

impl Opts {
    /// Reads `args` for the options of `spec`: a letter, followed by `:`
    /// when it takes an argument. `in_order` stops at the first operand.
    /// The error is `getopt`'s words.
    pub fn parse(args: &[String], spec: &str, in_order: bool) -> Result<Opts, String> {
        let mut given = Vec::new();
        let mut operands = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if arg == "--" {
                operands.extend(args[i..].iter().cloned());
                break;
            }
            if arg.len() < 2 || !arg.starts_with('-') {
                operands.push(arg.clone());
                if in_order {
                    operands.extend(args[i..].iter().cloned());
                    break;
                }
                continue;
            }
            let letters: Vec<char> = arg[1..].chars().collect();
            let mut at = 0;
            while at < letters.len() {
                let c = letters[at];
                at += 1;
                let Some(place) = spec.find(c).filter(|_| c != ':') else {
                    return Err(format!("invalid option -- '{c}'"));
                };
                if spec[place + c.len_utf8()..].starts_with(':') {
                    let value = if at < letters.len() {
                        letters[at..].iter().collect()
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        return Err(format!("option requires an argument -- '{c}'"));
                    };
                    given.push((c, Some(value)));
                    break;
                }
                given.push((c, None));
            }
        }
        Ok(Opts { given, operands })
    }

    pub fn has(&self, c: char) -> bool {
        self.given.iter().any(|(o, _)| *o == c)
    }

    /// The last value given for `c`.
    pub fn value(&self, c: char) -> Option<&str> {
        self.given
            .iter()
            .rev()
            .find(|(o, _)| *o == c)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value given for `c`, in order.
    pub fn values(&self, c: char) -> impl Iterator<Item = &str> {
        self.given
            .iter()
            .filter(move |(o, _)| *o == c)
            .filter_map(|(_, v)| v.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn letters_group_and_arguments_attach_or_follow() {
        let o = Opts::parse(&args("-vn -m3 a -e b f -- -x"), "vnm:e:", false).unwrap();
        assert!(o.has('v') && o.has('n'));
        assert_eq!(o.value('m'), Some("3"));
        assert_eq!(o.value('e'), Some("b"));
        assert_eq!(o.operands, args("a f -x"));
    }

    #[test]
    fn in_order_stops_at_the_first_operand() {
        let o = Opts::parse(&args("-n 1 echo -n x"), "n:", true).unwrap();
        assert_eq!(o.operands, args("echo -n x"));
    }

    #[test]
    fn mistakes_have_getopts_words() {
        assert_eq!(
            Opts::parse(&args("-Q"), "v", false).err().unwrap(),
            "invalid option -- 'Q'"
        );
        assert_eq!(
            Opts::parse(&args("-n"), "n:", false).err().unwrap(),
            "option requires an argument -- 'n'"
        );
    }
}
