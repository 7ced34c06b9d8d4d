//! The workshop's lessons (`#lessons`, `#lessons/SLUG`): the talk's four
//! lessons, each with its exercise, and the decision last, which leads to
//! the assessment.
//!
//! The lessons and their checks are `anchorage_shared::lessons`. "Run" carries
//! a lesson's exercise out on a fresh simulated host in the page (so it works
//! offline and beside a live server alike) and shows each line's output with
//! whether it gave what the lesson expects.

use anchorage_shared::lessons::{Lesson, StepRun};
use yew::prelude::*;

/// The hash of the lessons page.
pub const HASH: &str = "#lessons";

/// The lesson an address's hash names (`#lessons` is the first), if it is
/// this page's; `Err` for a lesson that does not exist.
pub fn lesson_in(hash: &str) -> Option<Result<Lesson, String>> {
    let rest = hash.strip_prefix(HASH)?;
    match rest.strip_prefix('/') {
        None if rest.is_empty() => Some(Ok(Lesson::Strengths)),
        None => None,
        Some(slug) => Some(Lesson::from_slug(slug).ok_or_else(|| {
            let known: Vec<&str> = Lesson::ALL.iter().map(|l| l.slug()).collect();
            format!(
                "there is no lesson `{slug}` (the lessons are {}): showing the first",
                known.join(", ")
            )
        })),
    }
}

/// A lesson's address.
pub fn href(lesson: Lesson) -> String {
    format!("{HASH}/{}", lesson.slug())
}

#[derive(Properties, PartialEq)]
pub struct LessonsProps {
    pub lesson: Lesson,
}

/// The list of lessons, and the one the address names.
#[function_component]
pub fn LessonsPage(props: &LessonsProps) -> Html {
    let lesson = props.lesson;
    html! {
        <main class="lessons">
            <nav class="lesson-list" aria-label="Lessons">
                <h2>{ "The workshop" }</h2>
                <ol>
                    { for Lesson::ALL.into_iter().map(|l| html! {
                        <li class={classes!((l == lesson).then_some("current"))}>
                            <a href={href(l)} id={format!("lesson-link-{}", l.slug())}>{ l.title() }</a>
                        </li>
                    }) }
                </ol>
            </nav>
            <LessonView key={lesson.slug()} {lesson} />
        </main>
    }
}

#[derive(Properties, PartialEq)]
struct LessonViewProps {
    lesson: Lesson,
}

#[function_component]
fn LessonView(props: &LessonViewProps) -> Html {
    let lesson = props.lesson;
    let exercise = lesson.exercise();
    // The exercise's run, once the button is pressed.
    let runs = use_state(|| None::<Vec<StepRun>>);
    let run = {
        let runs = runs.clone();
        Callback::from(move |_: MouseEvent| runs.set(Some(exercise.run())))
    };
    let verdict = runs.as_ref().map(|runs| {
        let held = runs.iter().filter(|r| r.held).count();
        if held == runs.len() {
            (
                "held",
                format!("All {held} steps gave what the lesson expects."),
            )
        } else {
            (
                "failed",
                format!(
                    "{} of {} steps did not give what the lesson expects.",
                    runs.len() - held,
                    runs.len()
                ),
            )
        }
    });
    html! {
        <article class="lesson" id="lesson" data-lesson={lesson.slug()}>
            <h2>{ lesson.title() }</h2>
            <p class="summary">{ lesson.summary() }</p>
            if lesson == Lesson::Decision {
                <p>{ exercise.title }{ ": " }{ exercise.shows }{ "." }</p>
                <p><a class="button" id="take-assessment" href={crate::assess::HASH}>
                    { "Take the assessment" }
                </a></p>
            } else {
                <section class="exercise">
                    <h3>{ "Exercise: " }{ exercise.title }</h3>
                    <p class="quiet">
                        { "Run it here on a fresh simulated host, or type the lines into the terminal on the Host page (or into " }
                        <code>{ "anchorage sim" }</code>{ ")." }
                    </p>
                    <ol class="steps">
                        { for exercise.steps.iter().enumerate().map(|(i, step)| {
                            let ran = runs.as_ref().and_then(|r| r.get(i));
                            html! {
                                <li class={classes!("step", ran.map(|r| if r.held { "held" } else { "failed" }))}>
                                    <pre class="line">{ "$ " }{ step.line }</pre>
                                    if let Some(ran) = ran {
                                        if !ran.output.is_empty() {
                                            <pre class="output">{ ran.output.trim_end() }</pre>
                                        }
                                        <p class="check">
                                            { if ran.held { "✓ " } else { "✗ " } }
                                            { format!("exit status {}", ran.status) }
                                            if !ran.held {
                                                { format!(" (the lesson expects {}{})", step.status,
                                                    if step.output_has.is_empty() { String::new() }
                                                    else { format!(" and output with “{}”", step.output_has) }) }
                                            }
                                        </p>
                                    }
                                </li>
                            }
                        }) }
                    </ol>
                    <button id="run-exercise" onclick={run}>
                        { if runs.is_some() { "Run again" } else { "Run on a simulated host" } }
                    </button>
                    if let Some((class, text)) = verdict {
                        <p id="exercise-result" class={classes!("result", class)} data-result={class}>{ text }</p>
                    }
                    <p><strong>{ "Look for: " }</strong>{ exercise.shows }</p>
                </section>
            }
            if let Some(next) = lesson.next() {
                <p class="next"><a id="next-lesson" href={href(next)}>{ "Next: " }{ next.title() }{ " →" }</a></p>
            }
        </article>
    }
}
