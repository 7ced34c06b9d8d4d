//! `$((...))`: integer arithmetic as `ash` does it, on 64-bit signed
//! integers that wrap, with C's operators and precedence, assignments
//! (`x += 2`, `x++`) and variables whose values are themselves
//! expressions.

/// What an expression reads and writes.
pub trait Vars {
    fn get(&self, name: &str) -> Option<String>;
    fn set(&mut self, name: &str, value: i64);
}

/// Evaluates `text` (already expanded): the value, or `ash`'s message.
pub fn eval(text: &str, vars: &mut dyn Vars) -> Result<i64, String> {
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Ok(0);
    }
    let mut parser = Eval {
        tokens,
        at: 0,
        vars,
        depth: 0,
    };
    let value = parser.comma(true)?;
    if parser.at != parser.tokens.len() {
        return Err(SYNTAX.into());
    }
    Ok(value)
}

const SYNTAX: &str = "arithmetic syntax error";

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(i64),
    Name(String),
    Op(&'static str),
}

const OPS: [&str; 37] = [
    "<<=", ">>=", "**=", "**", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "++", "--", "+=",
    "-=", "*=", "/=", "%=", "&=", "|=", "^=", "+", "-", "*", "/", "%", "<", ">", "&", "|", "^",
    "!", "~", "?", ":", "=",
];

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let mut tokens = Vec::new();
    'next: while at < chars.len() {
        let c = chars[at];
        if c.is_whitespace() {
            at += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let from = at;
            while at < chars.len() && (chars[at].is_ascii_alphanumeric() || chars[at] == '#') {
                at += 1;
            }
            let word: String = chars[from..at].iter().collect();
            tokens.push(Tok::Num(number(&word).ok_or(SYNTAX)?));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let from = at;
            while at < chars.len() && (chars[at].is_ascii_alphanumeric() || chars[at] == '_') {
                at += 1;
            }
            tokens.push(Tok::Name(chars[from..at].iter().collect()));
            continue;
        }
        if c == '(' || c == ')' || c == ',' {
            tokens.push(Tok::Op(match c {
                '(' => "(",
                ')' => ")",
                _ => ",",
            }));
            at += 1;
            continue;
        }
        for op in OPS {
            let len = op.len();
            if chars[at..].iter().take(len).copied().eq(op.chars()) {
                tokens.push(Tok::Op(op));
                at += len;
                continue 'next;
            }
        }
        return Err(SYNTAX.into());
    }
    Ok(tokens)
}

/// A constant: decimal, octal (`010`), hexadecimal (`0x1f`) or `BASE#n`.
fn number(word: &str) -> Option<i64> {
    if let Some((base, digits)) = word.split_once('#') {
        let base: u32 = base.parse().ok().filter(|b| (2..=64).contains(b))?;
        let mut value: i64 = 0;
        if digits.is_empty() {
            return None;
        }
        for c in digits.chars() {
            let digit = match c {
                '0'..='9' => c as u32 - '0' as u32,
                'a'..='z' => c as u32 - 'a' as u32 + 10,
                'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
                'A'..='Z' => c as u32 - 'A' as u32 + 36,
                '@' => 62,
                '_' => 63,
                _ => return None,
            };
            if digit >= base {
                return None;
            }
            value = value
                .wrapping_mul(i64::from(base))
                .wrapping_add(i64::from(digit));
        }
        return Some(value);
    }
    let (digits, radix) =
        if let Some(hex) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
            (hex, 16)
        } else if word.len() > 1 && word.starts_with('0') {
            (&word[1..], 8)
        } else {
            (word, 10)
        };
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, radix).ok().map(|v| v as i64)
}

struct Eval<'a> {
    tokens: Vec<Tok>,
    at: usize,
    vars: &'a mut dyn Vars,
    depth: u32,
}

/// Binary operators by precedence, loosest first.
const LEVELS: [&[&str]; 10] = [
    &["||"],
    &["&&"],
    &["|"],
    &["^"],
    &["&"],
    &["==", "!="],
    &["<", ">", "<=", ">="],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

impl Eval<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.at) {
            Some(Tok::Op(op)) => Some(op),
            _ => None,
        }
    }

    fn eat(&mut self, op: &str) -> bool {
        if self.peek_op() == Some(op) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// `a, b`: evaluated in order; `live` false skips side effects (the
    /// branch not taken of `?:`, `&&`, `||`).
    fn comma(&mut self, live: bool) -> Result<i64, String> {
        let mut value = self.assign(live)?;
        while self.eat(",") {
            value = self.assign(live)?;
        }
        Ok(value)
    }

    fn assign(&mut self, live: bool) -> Result<i64, String> {
        if let (Some(Tok::Name(name)), Some(Tok::Op(op))) =
            (self.tokens.get(self.at), self.tokens.get(self.at + 1))
            && op.ends_with('=')
            && !matches!(*op, "==" | "!=" | "<=" | ">=")
        {
            let (name, op) = (name.clone(), *op);
            self.at += 2;
            let right = self.assign(live)?;
            let value = if op == "=" {
                right
            } else {
                let left = self.variable(&name)?;
                apply(&op[..op.len() - 1], left, right)?
            };
            if live {
                self.vars.set(&name, value);
            }
            return Ok(value);
        }
        self.ternary(live)
    }

    fn ternary(&mut self, live: bool) -> Result<i64, String> {
        let condition = self.binary(0, live)?;
        if !self.eat("?") {
            return Ok(condition);
        }
        let yes = self.comma(live && condition != 0)?;
        if !self.eat(":") {
            return Err(SYNTAX.into());
        }
        let no = self.assign(live && condition == 0)?;
        Ok(if condition != 0 { yes } else { no })
    }

    fn binary(&mut self, level: usize, live: bool) -> Result<i64, String> {
        if level == LEVELS.len() {
            return self.power(live);
        }
        let mut left = self.binary(level + 1, live)?;
        while let Some(op) = self.peek_op().filter(|op| LEVELS[level].contains(op)) {
            self.at += 1;
            let right = match op {
                "&&" => self.binary(level + 1, live && left != 0)?,
                "||" => self.binary(level + 1, live && left == 0)?,
                _ => self.binary(level + 1, live)?,
            };
            left = match op {
                "&&" => i64::from(left != 0 && right != 0),
                "||" => i64::from(left != 0 || right != 0),
                _ if !live && matches!(op, "/" | "%") && right == 0 => 0,
                _ => apply(op, left, right)?,
            };
        }
        Ok(left)
    }

    /// `**`, binding tighter than `*` and to the right.
    fn power(&mut self, live: bool) -> Result<i64, String> {
        let base = self.unary(live)?;
        if self.eat("**") {
            let exponent = self.power(live)?;
            return apply("**", base, exponent);
        }
        Ok(base)
    }

    fn unary(&mut self, live: bool) -> Result<i64, String> {
        let Some(op) = self.peek_op() else {
            return self.primary(live);
        };
        match op {
            "+" | "-" | "!" | "~" => {
                self.at += 1;
                let value = self.unary(live)?;
                Ok(match op {
                    "+" => value,
                    "-" => value.wrapping_neg(),
                    "!" => i64::from(value == 0),
                    _ => !value,
                })
            }
            "++" | "--" => {
                self.at += 1;
                let Some(Tok::Name(name)) = self.tokens.get(self.at).cloned() else {
                    return Err(SYNTAX.into());
                };
                self.at += 1;
                let value = self.variable(&name)?;
                let value = if op == "++" {
                    value.wrapping_add(1)
                } else {
                    value.wrapping_sub(1)
                };
                if live {
                    self.vars.set(&name, value);
                }
                Ok(value)
            }
            _ => self.primary(live),
        }
    }

    fn primary(&mut self, live: bool) -> Result<i64, String> {
        match self.tokens.get(self.at).cloned() {
            Some(Tok::Num(n)) => {
                self.at += 1;
                Ok(n)
            }
            Some(Tok::Name(name)) => {
                self.at += 1;
                let value = self.variable(&name)?;
                if let Some(op @ ("++" | "--")) = self.peek_op() {
                    self.at += 1;
                    if live {
                        let next = if op == "++" {
                            value.wrapping_add(1)
                        } else {
                            value.wrapping_sub(1)
                        };
                        self.vars.set(&name, next);
                    }
                }
                Ok(value)
            }
            Some(Tok::Op("(")) => {
                self.at += 1;
                let value = self.comma(live)?;
                if !self.eat(")") {
                    return Err(SYNTAX.into());
                }
                Ok(value)
            }
            _ => Err(SYNTAX.into()),
        }
    }

    /// A variable's value: unset or empty is 0; otherwise its text is an
    /// expression of its own.
    fn variable(&mut self, name: &str) -> Result<i64, String> {
        let text = self.vars.get(name).unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(0);
        }
        if let Some(n) = number(text.trim()) {
            return Ok(n);
        }
        if self.depth > 100 {
            return Err("expression recursion loop detected".into());
        }
        let tokens = lex(&text)?;
        let mut inner = Eval {
            tokens,
            at: 0,
            vars: &mut *self.vars,
            depth: self.depth + 1,
        };
        let value = inner.comma(true)?;
        if inner.at != inner.tokens.len() {
            return Err(SYNTAX.into());
        }
        Ok(value)
    }
}

fn apply(op: &str, left: i64, right: i64) -> Result<i64, String> {
    Ok(match op {
        "+" => left.wrapping_add(right),
        "-" => left.wrapping_sub(right),
        "*" => left.wrapping_mul(right),
        "/" | "%" if right == 0 => return Err("divide by zero".into()),
        "/" => left.wrapping_div(right),
        "%" => left.wrapping_rem(right),
        "**" if right < 0 => return Err("exponent less than 0".into()),
        "**" => left.wrapping_pow(right.min(u32::MAX as i64) as u32),
        "<<" => left.wrapping_shl(right as u32),
        ">>" => left.wrapping_shr(right as u32),
        "<" => i64::from(left < right),
        ">" => i64::from(left > right),
        "<=" => i64::from(left <= right),
        ">=" => i64::from(left >= right),
        "==" => i64::from(left == right),
        "!=" => i64::from(left != right),
        "&" => left & right,
        "|" => left | right,
        "^" => left ^ right,
        _ => return Err(SYNTAX.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    impl Vars for HashMap<String, String> {
        fn get(&self, name: &str) -> Option<String> {
            HashMap::get(self, name).cloned()
        }
        fn set(&mut self, name: &str, value: i64) {
            self.insert(name.into(), value.to_string());
        }
    }

    fn run(text: &str, vars: &mut HashMap<String, String>) -> Result<i64, String> {
        eval(text, vars)
    }

    #[test]
    fn operators_bind_as_in_c() {
        let mut vars = HashMap::new();
        for (text, value) in [
            ("3 * (2 + 1)", 9),
            ("1 ? 2 : 3", 2),
            ("5 % 3", 2),
            ("2 ** 10", 1024),
            ("-3 / 2", -1),
            ("1 << 4", 16),
            ("010 + 0x10", 24),
            ("2#101 + 16#ff", 260),
            ("1 && 0", 0),
            ("3 > 2", 1),
            ("~0", -1),
            ("!5", 0),
            ("5 - -3", 8),
            ("-9 % 4", -1),
            ("9223372036854775807 + 1", i64::MIN),
            ("   ", 0),
            ("2 ** 3 ** 2", 512),
        ] {
            assert_eq!(run(text, &mut vars), Ok(value), "{text}");
        }
    }

    #[test]
    fn variables_are_read_written_and_evaluated() {
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("x".into(), "5".into());
        assert_eq!(run("x++", &mut vars), Ok(5));
        assert_eq!(vars["x"], "6");
        assert_eq!(run("++x", &mut vars), Ok(7));
        assert_eq!(run("x *= 2", &mut vars), Ok(14));
        assert_eq!(run("x <<= 1", &mut vars), Ok(28));
        vars.insert("e".into(), "1+2".into());
        assert_eq!(run("e * 2", &mut vars), Ok(6));
        vars.insert("p".into(), "q".into());
        vars.insert("q".into(), "4".into());
        assert_eq!(run("p + 1", &mut vars), Ok(5));
        assert_eq!(run("unset_one", &mut vars), Ok(0));
        assert_eq!(run("y = 3, y * 2", &mut vars), Ok(6));
        // The branch not taken has no effect.
        assert_eq!(run("0 && (z = 1)", &mut vars), Ok(0));
        assert!(!vars.contains_key("z"));
        assert_eq!(run("1 || 1 / 0", &mut vars), Ok(1));
    }

    #[test]
    fn mistakes_are_named_as_ash_names_them() {
        let mut vars = HashMap::new();
        for (text, message) in [
            ("7 / 0", "divide by zero"),
            ("1 2", "arithmetic syntax error"),
            ("1 +", "arithmetic syntax error"),
            ("08", "arithmetic syntax error"),
            ("0x", "arithmetic syntax error"),
            ("3 ** -1", "exponent less than 0"),
        ] {
            assert_eq!(run(text, &mut vars), Err(message.to_string()), "{text}");
        }
    }
}
