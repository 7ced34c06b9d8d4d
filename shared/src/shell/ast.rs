//! The shell's syntax tree: POSIX's grammar (XCU 2.10) as BusyBox's `ash`
//! reads it.

use std::cell::OnceCell;
use std::rc::Rc;

/// Commands separated by `;`, `&` or newlines.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct List(pub Vec<Item>);

/// One and-or list of a [`List`], run in the background when it ended
/// with `&`.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub and_or: AndOr,
    pub background: bool,
}

/// Pipelines joined by `&&` and `||`.
#[derive(Clone, Debug, PartialEq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    And,
    Or,
}

/// Commands joined by `|`, its status inverted by a leading `!`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub bang: bool,
    pub commands: Vec<Command>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Simple(Simple),
    Compound(Rc<Compound>, Vec<Redirect>),
    /// `name() compound-command`: the body is kept whole, shared by
    /// every call.
    Function(String, Rc<Command>),
}

/// `NAME=value ... word ... redirections`, in any order (assignments
/// only before the first word).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Simple {
    /// The line it starts on, counted from 0 (`ash` names it in a
    /// builtin's errors: `cd: line 2: can't cd to ...`).
    pub line: u32,
    pub assigns: Vec<(String, Word)>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Compound {
    /// `{ list; }`
    Brace(List),
    /// `( list )`: in a child shell.
    Subshell(List),
    /// `if c; then b; elif c; then b; else b; fi`
    If {
        branches: Vec<(List, List)>,
        otherwise: Option<List>,
    },
    /// `for name [in words]; do body; done`: without `in`, over `"$@"`.
    For {
        name: String,
        words: Option<Vec<Word>>,
        body: List,
    },
    /// `while c; do b; done`, or `until`.
    Loop {
        until: bool,
        condition: List,
        body: List,
    },
    /// `case word in pattern|pattern) list;; ... esac`
    Case { word: Word, arms: Vec<CaseArm> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct CaseArm {
    pub patterns: Vec<Word>,
    pub body: List,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Redirect {
    /// The descriptor redirected (`2>`); the operator's default if none.
    pub fd: Option<u32>,
    pub op: RedirOp,
    pub target: Target,
}

impl Redirect {
    /// The descriptor this redirection changes.
    pub fn fd(&self) -> u32 {
        self.fd.unwrap_or(match self.op {
            RedirOp::In | RedirOp::ReadWrite | RedirOp::DupIn | RedirOp::Here { .. } => 0,
            RedirOp::Out | RedirOp::Append | RedirOp::Clobber | RedirOp::DupOut => 1,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirOp {
    /// `<`
    In,
    /// `>`
    Out,
    /// `>>`
    Append,
    /// `>|`
    Clobber,
    /// `<>`
    ReadWrite,
    /// `<&`
    DupIn,
    /// `>&`
    DupOut,
    /// `<<` or `<<-` (leading tabs stripped).
    Here { strip_tabs: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Word(Word),
    /// A here-document's body, read after the line that named it.
    Here(Rc<HereDoc>),
}

#[derive(Debug, PartialEq)]
pub struct HereDoc {
    /// With a quoted delimiter the body is taken as it is.
    pub quoted: bool,
    pub body: OnceCell<Word>,
}

/// A word as written: its parts are expanded, split and globbed when the
/// command runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Word(pub Vec<Part>);

impl Word {
    pub fn literal(text: &str) -> Word {
        Word(vec![Part::Lit(text.to_string())])
    }

    /// The word's text when it is plain (no quotes, no expansions): a
    /// reserved word or a name can only be that.
    pub fn plain(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Part::Lit(text)] => Some(text),
            _ => None,
        }
    }

    /// Whether any part of it was quoted (so it stays a field even when
    /// it expands to nothing).
    pub fn has_quotes(&self) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Part::Single(_) | Part::Double(_) | Part::Escaped(_)))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Lit(String),
    /// `'...'`
    Single(String),
    /// `"..."`: its expansions are not split or globbed.
    Double(Vec<Part>),
    /// `\c`
    Escaped(char),
    /// `~` or `~user` at a word's start.
    Tilde(String),
    Param(Param),
    /// `$(...)` or backquotes.
    Command(Rc<List>),
    /// `$((...))`: the expression is expanded, then evaluated.
    Arith(Word),
}

/// `$name`, `${name}`, `${name:-word}` and the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub op: ParamOp,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParamOp {
    Plain,
    /// `${#name}`
    Length,
    /// `${name-word}`, `${name:-word}` (colon: also when empty).
    Default {
        colon: bool,
        word: Word,
    },
    /// `${name=word}`, `${name:=word}`
    Assign {
        colon: bool,
        word: Word,
    },
    /// `${name?word}`, `${name:?word}`
    Error {
        colon: bool,
        word: Word,
    },
    /// `${name+word}`, `${name:+word}`
    Alternative {
        colon: bool,
        word: Word,
    },
    /// `${name%word}`, `${name%%word}` (`longest`).
    RemoveSuffix {
        longest: bool,
        pattern: Word,
    },
    /// `${name#word}`, `${name##word}`
    RemovePrefix {
        longest: bool,
        pattern: Word,
    },
}
