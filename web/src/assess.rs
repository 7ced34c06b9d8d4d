//! "Should we use containers in prod?": the assessment page (`#assess`).
//!
//! The questions and the scoring are `anchorage_shared::readiness`, the same
//! as `anchorage assess` on the terminal. The answers live in the page's
//! address (`#assess?stateless=most&...`), so a link carries them; the
//! report can be printed, or saved as Markdown or JSON.

use anchorage_shared::readiness::{
    Answers, Fit, Kind, QUESTIONS, Question, Report, Verdict, assess,
};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// The hash of the assessment page.
pub const HASH: &str = "#assess";

/// What an address's hash says of this page.
pub enum Address {
    /// Another page.
    Elsewhere,
    /// `#assess`: this page, with the answers it had.
    Bare,
    /// `#assess?...`: these answers, and what could not be read of them.
    Answers(Answers, Vec<String>),
}

pub fn address(hash: &str) -> Address {
    match hash.strip_prefix(HASH) {
        Some("") | Some("?") => Address::Bare,
        Some(rest) if rest.starts_with('?') => {
            let (answers, errors) = Answers::from_query_lenient(&rest[1..]);
            Address::Answers(answers, errors)
        }
        _ => Address::Elsewhere,
    }
}

/// One multiple-choice question: its label, the choices (value, text), the
/// current choice's value ("" when unanswered), and what a choice does.
fn select(
    id: &str,
    label: &str,
    choices: &[(&str, &str)],
    current: &str,
    onchange: Callback<String>,
) -> Html {
    let onchange = Callback::from(move |event: Event| {
        if let Some(select) = event.target_dyn_into::<HtmlSelectElement>() {
            onchange.emit(select.value());
        }
    });
    html! {
        <label class="question" for={id.to_string()}>
            <span>{ label }</span>
            <select id={id.to_string()} name={id.to_string()} {onchange}>
                <option value="" selected={current.is_empty()}>{ "— not answered —" }</option>
                { for choices.iter().map(|(value, text)| html! {
                    <option value={value.to_string()} selected={current == *value}>{ *text }</option>
                }) }
            </select>
        </label>
    }
}

#[derive(Properties, PartialEq)]
pub struct AssessProps {
    pub answers: Answers,
    /// A question answered: its key and the answer as links spell it (the
    /// page keeps the answers, and puts them in its address).
    pub on_answer: Callback<(&'static str, String)>,
}

/// One question as the page asks it: a list, checkboxes or a number.
fn question(q: &Question, answers: &Answers, on_answer: &Callback<(&'static str, String)>) -> Html {
    let current = answers.get(q.key);
    let answer = {
        let (on_answer, key) = (on_answer.clone(), q.key);
        move |value: String| on_answer.emit((key, value))
    };
    match q.kind {
        Kind::One(choices) => select(q.key, q.text, choices, &current, Callback::from(answer)),
        Kind::Many(choices) => {
            let picked: Vec<String> = current
                .split(',')
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect();
            let boxes = choices.iter().map(|(value, label)| {
                let checked = picked.iter().any(|v| v == value);
                let (picked, answer, value) = (picked.clone(), answer.clone(), *value);
                let onchange = Callback::from(move |event: Event| {
                    let on = event
                        .target_dyn_into::<HtmlInputElement>()
                        .is_some_and(|input| input.checked());
                    let mut now: Vec<&str> = picked
                        .iter()
                        .map(String::as_str)
                        .filter(|v| *v != value)
                        .collect();
                    if on {
                        now.push(value);
                    }
                    answer(now.join(","));
                });
                html! {
                    <label class="skill">
                        <input type="checkbox" name={q.key} value={value} {checked} {onchange} />
                        { *label }
                    </label>
                }
            });
            html! {
                <div class="skills" id={q.key}><span>{ q.text }</span>{ for boxes }</div>
            }
        }
        Kind::Number => {
            let onchange = Callback::from(move |event: Event| {
                answer(
                    event
                        .target_dyn_into::<HtmlInputElement>()
                        .map(|input| input.value())
                        .unwrap_or_default(),
                )
            });
            html! {
                <label class="question" for={q.key}>
                    <span>{ q.text }</span>
                    <input id={q.key} name={q.key} type="number" min="0" max="100000"
                        value={current} {onchange} />
                </label>
            }
        }
    }
}

/// The questions, and the report beside them as they are answered.
#[function_component]
pub fn AssessPage(props: &AssessProps) -> Html {
    let a = &props.answers;
    let report = assess(a);
    // The questions in their parts, in the talk's order.
    let mut parts: Vec<(&str, Vec<&Question>)> = Vec::new();
    for q in &QUESTIONS {
        match parts.last_mut() {
            Some((part, qs)) if *part == q.part => qs.push(q),
            _ => parts.push((q.part, vec![q])),
        }
    }
    html! {
        <main class="assess" id="assess">
            <section class="questions">
                <h2>{ "Should we use containers in prod?" }</h2>
                <p class="quiet">{ "The talk's closing question, for your platform and team. Answer what you can: the report follows. The link beside it carries the answers, to share with the team." }</p>
                { for parts.into_iter().map(|(part, qs)| html! {
                    <fieldset>
                        <legend>{ part }</legend>
                        { for qs.into_iter().map(|q| question(q, a, &props.on_answer)) }
                    </fieldset>
                }) }
            </section>
            <ReportView report={report} answers={a.clone()} />
        </main>
    }
}

#[derive(Properties, PartialEq)]
struct ReportProps {
    report: Report,
    answers: Answers,
}

/// Offers text to save as a file: a link to it, in the document, clicked;
/// the file's URL is let go a while later (some browsers read it only after
/// the click returns).
fn download(name: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let document = web_sys::window().and_then(|w| w.document());
    if let Some((body, link)) = document.and_then(|d| {
        let link = d
            .create_element("a")
            .ok()?
            .dyn_into::<web_sys::HtmlAnchorElement>()
            .ok()?;
        Some((d.body()?, link))
    }) {
        link.set_href(&url);
        link.set_download(name);
        let _ = body.append_child(&link);
        link.click();
        link.remove();
    }
    gloo::timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
}

#[function_component]
fn ReportView(props: &ReportProps) -> Html {
    let r = &props.report;
    let verdict_class = match r.verdict {
        Verdict::Go => "go",
        Verdict::NotYet => "not-yet",
        Verdict::NoGo => "no-go",
        Verdict::BlogPost => "blog-post",
    };
    // The page's address without its query: that is where a live server's
    // token is, and answers shared with a team must not hand it out.
    let link = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .map(|href| {
            let base = href.split(['#', '?']).next().unwrap_or_default();
            format!("{base}{HASH}?{}", props.answers.to_query())
        })
        .unwrap_or_default();
    let markdown = r.to_markdown();
    let json = r.to_json();
    let print = Callback::from(|_: MouseEvent| {
        if let Some(window) = web_sys::window() {
            let _ = window.print();
        }
    });
    let save_markdown = Callback::from(move |_: MouseEvent| {
        download("containers-in-prod.md", "text/markdown", &markdown)
    });
    let save_json = Callback::from(move |_: MouseEvent| {
        download("containers-in-prod.json", "application/json", &json)
    });
    let fit_class = |fit: Fit| match fit {
        Fit::Ready => "ready",
        Fit::ReadyWithConditions => "conditions",
        Fit::NotReady => "not-ready",
        Fit::NotApplicable => "n-a",
    };
    html! {
        <section class="report" id="report">
            <h2 id="verdict" class={classes!("verdict", verdict_class)} data-verdict={verdict_class}>
                { format!("Verdict: {}", r.verdict) }
            </h2>
            <p class="headline">{ r.headline }</p>
            <div class="share no-print">
                <label for="share-link">{ "Link with these answers" }</label>
                <input id="share-link" readonly=true value={link} />
                <button onclick={print}>{ "Print" }</button>
                <button id="save-markdown" onclick={save_markdown}>{ "Save Markdown" }</button>
                <button id="save-json" onclick={save_json}>{ "Save JSON" }</button>
            </div>
            <h3>{ "Why" }</h3>
            <ul class="reasons">
                { for r.reasons.iter().map(|reason| html! {
                    <li>{ &reason.text }<a class="lesson" href={crate::lessons::href(reason.lesson)}>{ reason.lesson.title() }</a></li>
                }) }
            </ul>
            if !r.gaps.is_empty() {
                <h3>{ "Gaps, and what to do" }</h3>
                <ul class="gaps">
                    { for r.gaps.iter().map(|gap| html! {
                        <li class={if gap.blocking { "blocking" } else { "condition" }}>
                            <strong>{ &gap.what }</strong>{ ": " }{ &gap.todo }
                            <a class="lesson" href={crate::lessons::href(gap.lesson)}>{ gap.lesson.title() }</a>
                        </li>
                    }) }
                </ul>
            }
            <h3>{ "Fit per workload" }</h3>
            <table class="fits">
                <tbody>
                    { for r.fits.iter().map(|f| html! {
                        <tr>
                            <th>{ f.workload }</th>
                            <td class={fit_class(f.fit)}>{ f.fit.to_string() }</td>
                            <td>{ &f.why }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            <section class="print-only answers">
                <h3>{ "Answers" }</h3>
                <table>
                    { for QUESTIONS.iter().map(|q| html! {
                        <tr><th>{ q.text }</th><td>{ props.answers.described(q) }</td></tr>
                    }) }
                </table>
            </section>
            <h3>{ "See for yourself in the workshop" }</h3>
            { for r.exercises().into_iter().map(|lesson| {
                let exercise = lesson.exercise();
                let lines: Vec<&str> = exercise.steps.iter().map(|s| s.line).collect();
                html! {
                    <div class="exercise">
                        <h4><a href={crate::lessons::href(lesson)}>{ lesson.title() }</a></h4>
                        <p>{ exercise.title }</p>
                        <pre>{ lines.join("\n") }</pre>
                        <p class="quiet">{ format!("Look for: {}", exercise.shows) }</p>
                    </div>
                }
            }) }
        </section>
    }
}
