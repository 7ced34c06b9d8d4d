//! `anchorage assess`: "Should we use containers in prod?" on the terminal.
//!
//! The questions and the scoring are `anchorage_shared::readiness`; this
//! module asks them (or reads a file of answers) and prints the report.

use std::io::{self, BufRead, Write};
use std::path::Path;

use anchorage_shared::readiness::{Answers, Kind, QUESTIONS, assess};

/// How the report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// Runs the assessment: answers from `file` (`-` for stdin), else asked
/// one by one; the report on stdout. `save` keeps the answers as JSON.
pub fn run(file: Option<&Path>, format: Format, save: Option<&Path>) -> anyhow::Result<()> {
    let answers = match file {
        Some(path) => read_answers(path)?,
        None => ask(&mut io::stdin().lock(), &mut io::stderr())?,
    };
    let report = assess(&answers);
    let text = match format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json() + "\n",
        Format::Markdown => report.to_markdown(),
    };
    io::stdout().write_all(text.as_bytes())?;
    // After the report, so a failed save loses none of it (and the report
    // ends with the answers' line, to paste into a file).
    if let Some(save) = save {
        let json = serde_json::to_string_pretty(&answers).expect("answers encode");
        std::fs::write(save, json + "\n")
            .map_err(|e| anyhow::anyhow!("cannot save the answers to {}: {e}", save.display()))?;
    }
    Ok(())
}

fn read_answers(path: &Path) -> anyhow::Result<Answers> {
    let text = if path == Path::new("-") {
        io::read_to_string(io::stdin())?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the answers in {}: {e}", path.display()))?
    };
    Answers::from_text(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} holds no answers: {e}. Give an answers file (`anchorage assess --save FILE` writes one to edit), a saved JSON report, or a link to the assessment page",
            path.display()
        )
    })
}

/// A line of the user's answers; an error once they end, since a question
/// is still open.
fn read_answer(input: &mut dyn BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        anyhow::bail!(
            "the answers ended before the questions: give --answers FILE to answer from a file"
        );
    }
    Ok(line.trim().to_string())
}

/// What a line typed at a question means, as the answers spell it ("" to
/// skip); an error says what to type instead.
fn spelling_of(kind: Kind, line: &str) -> Result<String, String> {
    let numbered = |choices: &[(&'static str, &'static str)], n: &str| {
        n.parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| choices.get(i))
            .map(|(value, _)| value.to_string())
            .ok_or_else(|| format!("`{n}` is not one of the choices: type its number"))
    };
    match kind {
        _ if line.is_empty() => Ok(String::new()),
        Kind::One(choices) => numbered(choices, line),
        Kind::Many(choices) if line == "all" => Ok(choices
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>()
            .join(",")),
        Kind::Many(choices) => line
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| numbered(choices, n))
            .collect::<Result<Vec<_>, _>>()
            .map(|values| values.join(",")),
        Kind::Number => line
            .parse::<u32>()
            .map(|n| n.to_string())
            .map_err(|_| format!("`{line}` is not a number of people")),
    }
}

/// Asks every question, in the talk's order.
pub fn ask(input: &mut dyn BufRead, out: &mut dyn Write) -> anyhow::Result<Answers> {
    writeln!(
        out,
        "Should we use containers in prod? Questions from the talk's four lessons; Enter skips one."
    )?;
    let mut answers = Answers::default();
    let mut part = "";
    for question in QUESTIONS {
        if question.part != part {
            part = question.part;
            writeln!(out, "\n== {part} ==")?;
        }
        writeln!(out, "\n{}", question.text)?;
        let prompt = match question.kind {
            Kind::One(choices) | Kind::Many(choices) => {
                for (i, (_, label)) in choices.iter().enumerate() {
                    writeln!(out, "  {}) {label}", i + 1)?;
                }
                match question.kind {
                    Kind::Many(_) => {
                        "Numbers separated by commas, `all`, or Enter for none: ".to_string()
                    }
                    _ => format!("Choose 1-{} (Enter to skip): ", choices.len()),
                }
            }
            Kind::Number => "A number (Enter to skip): ".to_string(),
        };
        loop {
            write!(out, "{prompt}")?;
            out.flush()?;
            let line = read_answer(input)?;
            match spelling_of(question.kind, &line)
                .and_then(|value| answers.set(question.key, &value))
            {
                Ok(()) => break,
                Err(err) => writeln!(out, "{err}")?,
            }
        }
    }
    writeln!(out)?;
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchorage_shared::readiness::{Motivation, Share, Skill, Verdict};

    #[test]
    fn typed_answers_make_the_report() {
        // Most stateless, keep databases out, large; the ecosystem in
        // place; 6 people with every skill; support, budget, mandate; a
        // real need, gradual, hybrid.
        let typed = "3\n1\n3\n3\n3\n3\n3\n3\n3\n3\n3\n6\nall\n1\n1\n1\n1\n1\n1\n";
        let mut out = Vec::new();
        let answers = ask(&mut typed.as_bytes(), &mut out).unwrap();
        assert_eq!(answers.team.people, Some(6));
        assert_eq!(answers.team.skills.len(), 9);
        assert_eq!(assess(&answers).verdict, Verdict::Go);
        let asked = String::from_utf8(out).unwrap();
        assert!(asked.contains("How will you handle monitoring?"), "{asked}");
    }

    #[test]
    fn a_wrong_choice_is_asked_again_and_skips_stay_unanswered() {
        let typed = "7\nlots\n2\n\n\n\n\n\n\n\n\n\n\nfour\n\n12\n1,2\n\n\n\n2\n\n\n";
        let mut out = Vec::new();
        let answers = ask(&mut typed.as_bytes(), &mut out).unwrap();
        assert_eq!(answers.workload.stateless, Some(Share::Some));
        assert_eq!(answers.team.people, None);
        assert_eq!(
            answers.team.skills,
            vec![Skill::Operations, Skill::Deployments]
        );
        assert_eq!(answers.motivation, Some(Motivation::WouldBeRad));
        let asked = String::from_utf8(out).unwrap();
        assert!(asked.contains("`7` is not one of the choices"), "{asked}");
        assert!(
            asked.contains("`four` is not a number of people"),
            "{asked}"
        );
        assert!(asked.contains("`12` is not one of the choices"), "{asked}");
    }

    #[test]
    fn answers_that_end_early_say_so() {
        let err = ask(&mut "3\n".as_bytes(), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("--answers"), "{err}");
    }
}
