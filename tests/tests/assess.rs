//! `anchorage assess` on the terminal, as a team would run it.

use anchorage_tests::run_anchorage;

const PLATFORM_TEAM: &str = r#"{
  "workload": {"stateless": "most", "stateful": "keep-out", "platform": "large"},
  "ecosystem": {"build": "in-place", "orchestration": "planned", "clusters": "planned",
                "networking": "planned", "deployment": "in-place", "monitoring": "in-place",
                "provisioning": "planned", "debugging": "planned"},
  "team": {"people": 6, "skills": ["operations", "deployments", "tooling", "monitoring", "kernel",
           "networking", "security", "adoption", "project-management"],
           "budget": true, "mandate": true, "support": true},
  "motivation": "real-need",
  "plan": {"rollout": "gradual", "end_state": "hybrid"}
}"#;

fn assess(args: &[&str], stdin: &str) -> (i32, String, String) {
    let output = run_anchorage(&[&["assess"], args].concat(), stdin);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_answers_file_gives_the_report_in_each_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.json");
    std::fs::write(&file, PLATFORM_TEAM).unwrap();
    let path = file.to_str().unwrap();

    let (code, text, err) = assess(&["--answers", path], "");
    assert_eq!(code, 0, "{err}");
    assert!(text.starts_with("Verdict: go."), "{text}");
    assert!(text.contains("Lesson 3: containers need friends"), "{text}");
    assert!(
        text.contains("anchorage run"),
        "the workshop exercises: {text}"
    );

    let (code, json, err) = assess(&["--answers", path, "--format", "json"], "");
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["verdict"], "go");
    assert_eq!(report["fits"][0]["fit"], "ready-with-conditions");

    let (code, markdown, _) = assess(&["--answers", "-", "--format", "markdown"], PLATFORM_TEAM);
    assert_eq!(code, 0);
    assert!(markdown.starts_with("# Should we use containers in prod?"));
    assert!(markdown.contains("**Verdict: go.**"), "{markdown}");
    // The saved report, or the page's link, gives the same verdict again.
    let saved = dir.path().join("report.json");
    std::fs::write(&saved, &json).unwrap();
    let (code, again, err) = assess(&["--answers", saved.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(again, text);
    let link = format!(
        "http://127.0.0.1:7878/?token=x#assess?{}",
        report["query"].as_str().unwrap()
    );
    let (code, again, err) = assess(&["--answers", "-"], &link);
    assert_eq!(code, 0, "{err}");
    assert_eq!(again, text);
}

#[test]
fn the_questions_can_be_answered_on_the_terminal_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("ours.json");
    // Everything skipped but the motivation: "it would be rad".
    let typed = format!("{}2\n\n\n", "\n".repeat(16));
    let (code, text, asked) = assess(&["--save", saved.to_str().unwrap()], &typed);
    assert_eq!(code, 0, "{asked}");
    assert!(asked.contains("Why containers?"), "{asked}");
    assert!(text.starts_with("Verdict: blog post."), "{text}");
    let answers: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(answers["motivation"], "would-be-rad");
}

#[test]
fn a_bad_answers_file_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, r#"{"workload": {"stateless": "lots"}}"#).unwrap();
    let (code, out, err) = assess(&["--answers", file.to_str().unwrap()], "");
    assert_ne!(code, 0);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("lots") && err.contains("--save"), "{err}");
    let (code, _, err) = assess(&["--answers", "/nonexistent/answers.json"], "");
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/answers.json"), "{err}");
}
