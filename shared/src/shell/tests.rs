//! The parser against what BusyBox's `ash` (1.35, Debian's busybox-static)
//! says and builds for the same lines.

use super::ast::*;
use super::parse::{Parser, parse};

fn error(script: &str) -> String {
    match parse(script) {
        Ok(list) => panic!("{script:?} parsed: {list:?}"),
        Err(err) => err.message,
    }
}

#[test]
fn mistakes_are_named_as_ash_names_them() {
    for (script, message) in [
        (
            "if true; then echo",
            "unexpected end of file (expecting \"fi\")",
        ),
        ("fi", "unexpected \"fi\""),
        ("echo (", "unexpected end of file (expecting \")\")"),
        (";", "unexpected \";\""),
        ("echo \"abc", "unterminated quoted string"),
        ("echo 'abc", "unterminated quoted string"),
        ("a &&", "unexpected end of file"),
        (
            "for i in 1 2; echo x; done",
            "unexpected word (expecting \"do\")",
        ),
        (
            "while true; do",
            "unexpected end of file (expecting \"done\")",
        ),
        ("case x in", "unexpected end of file (expecting \")\")"),
        ("f() ", "unexpected end of file"),
        ("echo $((1+", "missing '))'"),
        ("echo $(( (1 + 2 ))", "missing '))'"),
        ("echo ${x", "missing '}'"),
        ("x=$(echo", "unexpected end of file (expecting \")\")"),
        ("echo `echo", "EOF in backquote substitution"),
        ("{ echo", "unexpected end of file (expecting \"}\")"),
        ("( echo", "unexpected end of file (expecting \")\")"),
        ("echo )", "unexpected \")\""),
        ("then", "unexpected \"then\""),
        ("echo a | | b", "unexpected \"|\""),
        ("case a in a) echo ;; esac esac", "unexpected \"esac\""),
        ("for 1 in a; do :; done", "bad for loop variable"),
        ("if; then :; fi", "unexpected \";\""),
        ("! ! true", "unexpected \"!\""),
        ("if true\nthen", "unexpected end of file (expecting \"fi\")"),
        (
            "while true do echo; done",
            "unexpected \"done\" (expecting \"do\")",
        ),
        (
            "if true then echo; fi",
            "unexpected \"fi\" (expecting \"then\")",
        ),
        (
            "case x in a) echo;; b echo; esac",
            "unexpected word (expecting \")\")",
        ),
        ("{echo a; }", "unexpected \"}\""),
        ("echo a; }", "unexpected \"}\""),
        ("echo ${x!}", "bad substitution"),
    ] {
        assert_eq!(
            error(script),
            format!("syntax error: {message}"),
            "{script:?}"
        );
    }
}

#[test]
fn an_error_at_the_end_asks_for_more() {
    for script in [
        "if true; then",
        "echo \"a",
        "for i in 1; do",
        "cat <<EOF\n",
        "a |",
    ] {
        let err = parse(script);
        if let Err(err) = err {
            assert!(err.at_end, "{script:?}: {err:?}");
        }
    }
    assert!(!parse("fi").unwrap_err().at_end);
}

fn simple(command: &Command) -> &Simple {
    match command {
        Command::Simple(simple) => simple,
        other => panic!("not simple: {other:?}"),
    }
}

fn words(simple: &Simple) -> Vec<String> {
    simple
        .words
        .iter()
        .map(|w| w.plain().unwrap_or("<expansion>").to_string())
        .collect()
}

#[test]
fn pipes_and_lists_and_backgrounds() {
    let list = parse("ps | grep sleep && echo yes || echo no; sleep 1 & echo x").unwrap();
    assert_eq!(list.0.len(), 3);
    let first = &list.0[0].and_or;
    assert_eq!(first.first.commands.len(), 2);
    assert_eq!(words(simple(&first.first.commands[1])), ["grep", "sleep"]);
    assert_eq!(
        first.rest.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        [Connector::And, Connector::Or]
    );
    assert!(list.0[1].background);
    assert!(!list.0[2].background);
    // A pipe or && may end a line.
    let list = parse("echo a |\n cat &&\n\n echo b").unwrap();
    assert_eq!(list.0.len(), 1);
    let bang = parse("! true").unwrap();
    assert!(bang.0[0].and_or.first.bang);
}

#[test]
fn assignments_and_words_and_redirections() {
    let list = parse("x=5 y=$x env 2>&1 >out a=b <in").unwrap();
    let command = simple(&list.0[0].and_or.first.commands[0]);
    assert_eq!(
        command
            .assigns
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["x", "y"]
    );
    // After the command's name an assignment is a word.
    assert_eq!(words(command), ["env", "a=b"]);
    let ops: Vec<(u32, RedirOp)> = command.redirects.iter().map(|r| (r.fd(), r.op)).collect();
    assert_eq!(
        ops,
        [(2, RedirOp::DupOut), (1, RedirOp::Out), (0, RedirOp::In)]
    );
    // A number is a descriptor only right before the operator.
    let list = parse("echo 2 >x").unwrap();
    let command = simple(&list.0[0].and_or.first.commands[0]);
    assert_eq!(words(command), ["echo", "2"]);
    assert_eq!(command.redirects[0].fd(), 1);
}

#[test]
fn compound_commands() {
    let list = parse(
        "for i in 1 2 3; do echo $i; done\n\
         while false; do :; done\n\
         until true; do :; done\n\
         if a; then b; elif c; then d; else e; fi\n\
         case $x in a|b) echo ab;; (c) ;; *) echo other\n esac\n\
         { echo in; } >f\n\
         (cd /; pwd)\n\
         f() { echo $1; }\n\
         for x\ndo echo $x; done",
    )
    .unwrap();
    let compound = |i: usize| match &list.0[i].and_or.first.commands[0] {
        Command::Compound(c, r) => (c.clone(), r.len()),
        other => panic!("{other:?}"),
    };
    let Compound::For { name, words, .. } = &*compound(0).0 else {
        panic!()
    };
    assert_eq!(name, "i");
    assert_eq!(words.as_ref().unwrap().len(), 3);
    assert!(matches!(
        &*compound(1).0,
        Compound::Loop { until: false, .. }
    ));
    assert!(matches!(
        &*compound(2).0,
        Compound::Loop { until: true, .. }
    ));
    let Compound::If {
        branches,
        otherwise,
    } = &*compound(3).0
    else {
        panic!()
    };
    assert_eq!(branches.len(), 2);
    assert!(otherwise.is_some());
    let Compound::Case { arms, .. } = &*compound(4).0 else {
        panic!()
    };
    assert_eq!(arms.len(), 3);
    assert_eq!(arms[0].patterns.len(), 2);
    assert!(arms[1].body.0.is_empty());
    assert_eq!(compound(5).1, 1);
    assert!(matches!(&*compound(6).0, Compound::Subshell(_)));
    assert!(
        matches!(&list.0[7].and_or.first.commands[0], Command::Function(name, _) if name == "f")
    );
    assert!(matches!(&*compound(8).0, Compound::For { words: None, .. }));
    // ash takes any command as a function's body.
    assert!(parse("f() echo hi; f").is_ok());
}

#[test]
fn expansions_are_kept_as_parts() {
    let list = parse(
        "echo ~ ~/x \"$(echo \"in\")\" `echo b` $((1 + $y)) ${x:-a b} ${#x} ${x%%.*} $? $@ $1 a\\ b 'q $x'",
    )
    .unwrap();
    let command = simple(&list.0[0].and_or.first.commands[0]);
    let parts: Vec<&Part> = command.words[1..].iter().map(|w| &w.0[0]).collect();
    assert_eq!(parts[0], &Part::Tilde(String::new()));
    assert_eq!(parts[1], &Part::Tilde(String::new()));
    assert!(matches!(parts[2], Part::Double(inner) if matches!(inner[0], Part::Command(_))));
    assert!(matches!(parts[3], Part::Command(_)));
    assert!(matches!(parts[4], Part::Arith(_)));
    assert!(
        matches!(parts[5], Part::Param(Param { name, op: ParamOp::Default { colon: true, .. } }) if name == "x")
    );
    assert!(matches!(
        parts[6],
        Part::Param(Param {
            op: ParamOp::Length,
            ..
        })
    ));
    assert!(matches!(
        parts[7],
        Part::Param(Param {
            op: ParamOp::RemoveSuffix { longest: true, .. },
            ..
        })
    ));
    assert!(matches!(parts[8], Part::Param(Param { name, .. }) if name == "?"));
    assert!(matches!(parts[9], Part::Param(Param { name, .. }) if name == "@"));
    assert!(matches!(parts[10], Part::Param(Param { name, .. }) if name == "1"));
    assert_eq!(
        command.words[12].0,
        vec![
            Part::Lit("a".into()),
            Part::Escaped(' '),
            Part::Lit("b".into())
        ]
    );
    assert_eq!(command.words[13].0, vec![Part::Single("q $x".into())]);
    // A case inside $(...) keeps its `)`.
    assert!(parse("echo $(case a in a) echo x;; esac)").is_ok());
    assert!(parse("echo $( )").is_ok());
}

#[test]
fn here_documents_are_read_after_their_line() {
    let list =
        parse("cat <<EOF; echo after\na $HOME\nEOF\ncat <<'Q' <<-T\n$x\nQ\n\tindented\n\tT\n")
            .unwrap();
    let here = |item: usize, n: usize| {
        let command = simple(&list.0[item].and_or.first.commands[0]);
        let Target::Here(doc) = &command.redirects[n].target else {
            panic!()
        };
        (doc.quoted, doc.body.get().unwrap().clone())
    };
    let (quoted, body) = here(0, 0);
    assert!(!quoted);
    assert_eq!(body.0[0], Part::Lit("a ".into()));
    assert!(matches!(&body.0[1], Part::Param(p) if p.name == "HOME"));
    assert_eq!(list.0.len(), 3);
    let (quoted, body) = here(2, 0);
    assert!(quoted);
    assert_eq!(body, Word::literal("$x\n"));
    assert_eq!(here(2, 1).1, Word::literal("indented\n"));
    // A body the script ends in.
    assert!(parse("cat <<EOF\nabc").is_ok());
}

#[test]
fn a_script_is_read_one_complete_command_at_a_time() {
    let mut parser = Parser::new("echo hi\nif true\nthen echo x\nfi\nfi\necho never");
    assert!(parser.next_command().unwrap().is_some());
    let second = parser.next_command().unwrap().unwrap();
    assert!(matches!(
        &second.0[0].and_or.first.commands[0],
        Command::Compound(c, _) if matches!(**c, Compound::If { .. })
    ));
    assert_eq!(
        parser.next_command().unwrap_err().message,
        "syntax error: unexpected \"fi\""
    );
    // On one line, the whole line is read before any of it runs.
    let mut parser = Parser::new("echo hi; fi");
    assert!(parser.next_command().is_err());
}
