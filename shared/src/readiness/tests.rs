use super::*;

/// A large platform with stateless services and a supported team of six.
fn platform_team() -> Answers {
    Answers {
        workload: Workload {
            stateless: Some(Share::Most),
            stateful: Some(Stateful::KeepOut),
            platform: Some(Platform::Large),
        },
        ecosystem: Ecosystem {
            build: Some(Readiness::InPlace),
            orchestration: Some(Readiness::Planned),
            clusters: Some(Readiness::Planned),
            networking: Some(Readiness::Planned),
            deployment: Some(Readiness::InPlace),
            monitoring: Some(Readiness::InPlace),
            provisioning: Some(Readiness::Planned),
            debugging: Some(Readiness::Planned),
        },
        team: Team {
            people: Some(6),
            skills: Skill::ALL.to_vec(),
            budget: Some(true),
            mandate: Some(true),
            support: Some(true),
        },
        motivation: Some(Motivation::RealNeed),
        plan: Plan {
            rollout: Some(Rollout::Gradual),
            end_state: Some(EndState::Hybrid),
        },
    }
}

/// A monolith with a small team and no support.
fn small_shop() -> Answers {
    Answers {
        workload: Workload {
            stateless: Some(Share::Some),
            stateful: Some(Stateful::Diy),
            platform: Some(Platform::Monolith),
        },
        ecosystem: Ecosystem {
            build: Some(Readiness::Planned),
            orchestration: Some(Readiness::None),
            clusters: Some(Readiness::None),
            networking: Some(Readiness::None),
            deployment: Some(Readiness::Planned),
            monitoring: Some(Readiness::InPlace),
            provisioning: Some(Readiness::None),
            debugging: Some(Readiness::None),
        },
        team: Team {
            people: Some(2),
            skills: vec![Skill::Operations, Skill::Deployments],
            budget: Some(false),
            mandate: Some(false),
            support: Some(false),
        },
        motivation: Some(Motivation::RealNeed),
        plan: Plan {
            rollout: Some(Rollout::BigBang),
            end_state: Some(EndState::Everything),
        },
    }
}

#[test]
fn a_large_stateless_platform_with_a_supported_team_of_six_gets_go() {
    let report = assess(&platform_team());
    assert_eq!(report.verdict, Verdict::Go, "{}", report.to_text());
    assert!(report.gaps.iter().all(|g| !g.blocking));
    // The planned parts of the ecosystem are conditions, tied to lesson 3.
    assert!(
        report
            .gaps
            .iter()
            .any(|g| g.what.contains("orchestration") && g.lesson == Lesson::Friends)
    );
    assert_eq!(report.fits[0].fit, Fit::ReadyWithConditions);
    assert_eq!(report.fits[1].fit, Fit::NotApplicable);
    assert!(report.unanswered.is_empty());
}

#[test]
fn a_monolith_with_a_small_unsupported_team_gets_no_go() {
    let report = assess(&small_shop());
    assert_eq!(report.verdict, Verdict::NoGo, "{}", report.to_text());
    assert!(
        report
            .gaps
            .iter()
            .any(|g| g.blocking && g.lesson == Lesson::Headcount)
    );
    assert!(report.gaps.iter().any(|g| g.what.contains("DIY")));
    assert_eq!(report.fits[1].fit, Fit::NotReady);
}

#[test]
fn it_would_be_rad_gets_a_blog_post_whatever_else() {
    for mut answers in [platform_team(), small_shop(), Answers::default()] {
        answers.motivation = Some(Motivation::WouldBeRad);
        assert_eq!(assess(&answers).verdict, Verdict::BlogPost);
    }
}

#[test]
fn one_blocking_gap_makes_it_not_yet_and_says_what_to_do() {
    let mut answers = platform_team();
    answers.team.people = Some(0);
    let report = assess(&answers);
    assert_eq!(report.verdict, Verdict::NotYet);
    let gap = report.gaps.iter().find(|g| g.blocking).unwrap();
    assert!(gap.what.contains("give it to ops"), "{gap:?}");
    assert!(gap.todo.contains("6 to 8"), "{gap:?}");

    let mut answers = platform_team();
    answers.ecosystem.networking = Some(Readiness::None);
    let report = assess(&answers);
    assert_eq!(report.verdict, Verdict::NotYet);
    assert_eq!(report.fits[0].fit, Fit::NotReady);

    let mut answers = platform_team();
    answers.plan.rollout = Some(Rollout::BigBang);
    assert_eq!(assess(&answers).verdict, Verdict::NotYet);
}

#[test]
fn unanswered_questions_are_named_and_block() {
    let mut answers = platform_team();
    answers.team.support = None;
    answers.ecosystem.debugging = None;
    let report = assess(&answers);
    assert_eq!(report.verdict, Verdict::NotYet);
    assert_eq!(report.unanswered.len(), 2);
    assert!(report.unanswered.iter().any(|q| q.contains("debug")));
    let empty = assess(&Answers::default());
    assert_eq!(empty.verdict, Verdict::NotYet);
    assert_eq!(empty.unanswered.len(), 18);
}

#[test]
fn every_item_names_its_lesson_and_the_lessons_have_exercises() {
    let report = assess(&small_shop());
    let text = report.to_text();
    for lesson in report.lessons() {
        assert!(text.contains(lesson.title()), "{text}");
        assert!(!lesson.summary().is_empty());
    }
    // Every exercise the report points to is in it, line by line.
    assert!(!report.exercises().contains(&Lesson::Decision));
    for lesson in report.exercises() {
        for step in lesson.exercise().steps {
            assert!(text.contains(step.line), "{text}");
        }
    }
    let markdown = report.to_markdown();
    assert!(markdown.starts_with("# Should we use containers in prod?"));
    assert!(markdown.contains("| Gap | What to do | Blocking | Lesson |"));
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["verdict"], "no-go");
    assert!(json["lessons"][0]["exercise"]["steps"][0]["line"].is_string());
}

#[test]
fn answers_travel_in_a_link_and_come_back_the_same() {
    for answers in [platform_team(), small_shop(), Answers::default()] {
        let query = answers.to_query();
        assert_eq!(Answers::from_query(&query).unwrap(), answers, "{query}");
    }
    assert_eq!(
        platform_team().to_query().split('&').next(),
        Some("stateless=most")
    );
    let err = Answers::from_query("stateless=lots").unwrap_err();
    assert!(err.contains("lots") && err.contains("stateless"), "{err}");
    let err = Answers::from_query("colour=blue").unwrap_err();
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn answers_files_are_json_with_every_part_optional() {
    let answers: Answers = serde_json::from_str(
        r#"{"workload": {"stateless": "most"}, "team": {"people": 6, "skills": ["kernel"]}}"#,
    )
    .unwrap();
    assert_eq!(answers.workload.stateless, Some(Share::Most));
    assert_eq!(answers.team.skills, vec![Skill::Kernel]);
    let err = serde_json::from_str::<Answers>(r#"{"workload": {"stateles": "most"}}"#).unwrap_err();
    assert!(err.to_string().contains("stateles"), "{err}");
}

#[test]
fn every_question_is_asked_once_and_answers_through_its_key() {
    let mut answers = Answers::default();
    for q in QUESTIONS {
        assert_eq!(
            QUESTIONS.iter().filter(|o| o.key == q.key).count(),
            1,
            "{}",
            q.key
        );
        let value = match q.kind {
            Kind::One(choices) => choices.last().unwrap().0.to_string(),
            Kind::Many(choices) => format!("{},{}", choices[1].0, choices[0].0),
            Kind::Number => "7".to_string(),
        };
        answers.set(q.key, &value).unwrap();
        let got = answers.get(q.key);
        match q.kind {
            // Kept in the choices' order.
            Kind::Many(choices) => assert_eq!(got, format!("{},{}", choices[0].0, choices[1].0)),
            _ => assert_eq!(got, value, "{}", q.key),
        }
    }
    // Every question fills a part of the answers: none is left unanswered.
    assert!(
        assess(&answers).unanswered.is_empty(),
        "{:?}",
        assess(&answers).unanswered
    );
    assert_eq!(answers.to_query().split('&').count(), QUESTIONS.len());
    // The spellings are the ones answers files use.
    for skill in Skill::ALL {
        assert_eq!(serde_json::to_value(skill).unwrap(), skill.key());
    }
    // A wrong value names the question and what it takes, and changes nothing.
    let before = answers.clone();
    let err = answers.set("rollout", "sometime").unwrap_err();
    assert!(
        err.contains("`rollout`") && err.contains("gradual, big-bang"),
        "{err}"
    );
    let err = answers.set("people", "six").unwrap_err();
    assert!(err.contains("a number of people"), "{err}");
    assert!(answers.set("skills", "kernel,juggling").is_err());
    assert_eq!(answers, before);
    // "" clears.
    answers.set("motivation", "").unwrap();
    assert_eq!(answers.motivation, None);
}

#[test]
fn a_blank_answer_blocks_only_where_an_answer_could() {
    // No answer about the budget: a condition, as "no" would be.
    let mut answers = platform_team();
    answers.team.budget = None;
    let report = assess(&answers);
    assert_eq!(report.verdict, Verdict::Go, "{}", report.to_text());
    assert!(
        report
            .gaps
            .iter()
            .any(|g| !g.blocking && g.what == "a question is unanswered")
    );
    // No answer about support: that could block, so it does.
    let mut answers = platform_team();
    answers.team.support = None;
    let report = assess(&answers);
    assert_eq!(report.verdict, Verdict::NotYet);
    assert_eq!(
        report.unanswered,
        ["Does the organisation support it with time and money?"]
    );
}

#[test]
fn nothing_stateless_is_no_go_whatever_the_platform() {
    for platform in [Platform::Monolith, Platform::Several, Platform::Large] {
        let mut answers = platform_team();
        answers.workload.stateless = Some(Share::None);
        answers.workload.platform = Some(platform);
        let report = assess(&answers);
        assert_eq!(report.verdict, Verdict::NoGo, "{platform:?}");
        assert_eq!(report.fits[0].fit, Fit::NotApplicable);
    }
}

#[test]
fn a_monolith_with_a_big_supported_team_is_go_with_a_condition() {
    let mut answers = platform_team();
    answers.workload.platform = Some(Platform::Monolith);
    let report = assess(&answers);
    assert_eq!(report.verdict, Verdict::Go);
    assert!(
        report
            .gaps
            .iter()
            .any(|g| !g.blocking && g.what.contains("monolith")),
        "{}",
        report.to_text()
    );
}

#[test]
fn no_team_means_no_skills_to_praise_and_no_workload_ready() {
    let mut answers = platform_team();
    answers.team.people = Some(0);
    answers.workload.stateful = Some(Stateful::CloudProvider);
    let report = assess(&answers);
    assert_eq!(report.verdict, Verdict::NotYet);
    assert!(!report.reasons.iter().any(|r| r.text.contains("skill")));
    assert_eq!(report.fits[0].fit, Fit::NotReady);
    assert_eq!(report.fits[1].fit, Fit::NotReady);
    // A cloud provider's tooling without a budget for one is not ready.
    let mut answers = platform_team();
    answers.workload.stateful = Some(Stateful::CloudProvider);
    assert_eq!(assess(&answers).fits[1].fit, Fit::ReadyWithConditions);
    answers.team.budget = Some(false);
    assert_eq!(assess(&answers).fits[1].fit, Fit::NotReady);
}

#[test]
fn links_survive_being_encoded_and_hand_edited() {
    let answers =
        Answers::from_query("Stateless=MOST&skills=kernel%2Cnetworking&skills=security&people=+6")
            .unwrap();
    assert_eq!(answers.workload.stateless, Some(Share::Most));
    assert_eq!(answers.team.people, Some(6));
    assert_eq!(
        answers.team.skills,
        [Skill::Kernel, Skill::Networking, Skill::Security]
    );
    // What can be read is kept, and what cannot is named.
    let (answers, errors) = Answers::from_query_lenient("stateless=most&people=lots&colour=blue");
    assert_eq!(answers.workload.stateless, Some(Share::Most));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("lots") && errors[1].contains("colour"));
}

#[test]
fn a_saved_report_a_link_or_a_query_give_the_answers_back() {
    let answers = platform_team();
    let report = assess(&answers);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["query"], answers.to_query());
    assert_eq!(Answers::from_text(&report.to_json()).unwrap(), answers);
    let answers_file = serde_json::to_string(&answers).unwrap();
    assert_eq!(Answers::from_text(&answers_file).unwrap(), answers);
    let link = format!(
        "http://127.0.0.1:7878/?token=abc#assess?{}",
        answers.to_query()
    );
    assert_eq!(Answers::from_text(&link).unwrap(), answers);
    assert_eq!(
        Answers::from_text(&format!("{}\n", answers.to_query())).unwrap(),
        answers
    );
    let markdown = report.to_markdown();
    assert!(markdown.contains(&answers.to_query()));
    assert!(
        markdown.contains("| How much of what you would move is stateless (data in, application, data out)? | most of it |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| Which skills does that team have? | operations at your company; ")
    );
    let err = Answers::from_text("{\"verdict\": ").unwrap_err();
    assert!(err.contains("JSON"), "{err}");
    let err = Answers::from_text("hello").unwrap_err();
    assert!(err.contains("`hello` is not a question"), "{err}");
}
