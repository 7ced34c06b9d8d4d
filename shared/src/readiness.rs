//! "Should we use containers in prod?": the question the talk ends with, as
//! an assessment a team can take.
//!
//! The questions follow the talk's four lessons (containers have strengths:
//! stateless services; weaknesses: databases; they need friends: the
//! ecosystem; they need headcount: a team), plus the motivation and the
//! plan. [`assess`] turns [`Answers`] into a [`Report`]: a verdict (go, not
//! yet, no-go, or "you want a blog post"), the reasons behind it, the gaps
//! with what to do about each, and a fit per workload (ready, ready with
//! conditions, not ready), every item tied to the talk's lesson and to the
//! workshop exercise that shows it.
//!
//! The rules, in the order they decide:
//! 1. "It would be rad" is not a reason: **blog post**.
//! 2. Nothing stateless to move, or a monolith and a few services with a
//!    small team (fewer than 4) or no organisational support: **no-go**.
//! 3. Any blocking gap: **not yet**. The blocking gaps are a team of fewer
//!    than 4, more than three of the talk's skills missing, no
//!    organisational support, a part of the ecosystem with no plan at all,
//!    databases run in containers by the team itself, a big-bang rollout,
//!    and questions unanswered whose answer could block.
//! 4. Otherwise **go**, with the remaining gaps as conditions.

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use crate::lessons::Lesson;

/// How much of what would move to containers is stateless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Share {
    None,
    Some,
    Most,
}

/// What would happen to databases and other stateful services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stateful {
    /// They stay out of containers.
    KeepOut,
    /// In containers, on a cloud provider's managed tooling.
    CloudProvider,
    /// In containers, run by ourselves.
    Diy,
}

/// The platform's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// A monolith and a few services.
    Monolith,
    /// Several services.
    Several,
    /// A large, heterogeneous platform.
    Large,
}

/// Where a part of the ecosystem stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    None,
    Planned,
    InPlace,
}

/// A skill the talk says the team needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Skill {
    /// Operations at your company.
    Operations,
    /// Deployments at your company.
    Deployments,
    /// Writing and testing tooling and glue.
    Tooling,
    Monitoring,
    Kernel,
    Networking,
    Security,
    /// Internal adoption: relationships, a beta platform.
    Adoption,
    ProjectManagement,
}

impl Skill {
    pub const ALL: [Skill; 9] = [
        Skill::Operations,
        Skill::Deployments,
        Skill::Tooling,
        Skill::Monitoring,
        Skill::Kernel,
        Skill::Networking,
        Skill::Security,
        Skill::Adoption,
        Skill::ProjectManagement,
    ];

    /// What the skill is.
    pub fn label(self) -> &'static str {
        SKILLS[self as usize].1
    }

    /// Its spelling in answers (`project-management`).
    pub fn key(self) -> &'static str {
        SKILLS[self as usize].0
    }
}

/// The skills' spellings and labels, in [`Skill::ALL`]'s order.
const SKILLS: [(&str, &str); 9] = [
    ("operations", "operations at your company"),
    ("deployments", "deployments at your company"),
    ("tooling", "writing and testing tooling and glue"),
    ("monitoring", "monitoring"),
    ("kernel", "kernel engineering"),
    ("networking", "networking"),
    ("security", "security"),
    (
        "adoption",
        "internal adoption (relationships, a beta platform)",
    ),
    ("project-management", "project management"),
];

/// Why containers at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Motivation {
    /// A real need the platform has.
    RealNeed,
    /// "It would be rad."
    WouldBeRad,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rollout {
    /// Gradual, over about a year.
    Gradual,
    /// Everything at once.
    BigBang,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndState {
    /// Legacy and containers side by side.
    Hybrid,
    /// Everything containerized.
    Everything,
}

/// The parts of the ecosystem the talk lists ("it's never just containers").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ecosystem {
    /// Building container images.
    pub build: Option<Readiness>,
    /// Scheduling container resources.
    pub orchestration: Option<Readiness>,
    /// Managing clusters.
    pub clusters: Option<Readiness>,
    /// Routing, access control, service discovery.
    pub networking: Option<Readiness>,
    pub deployment: Option<Readiness>,
    pub monitoring: Option<Readiness>,
    pub provisioning: Option<Readiness>,
    pub debugging: Option<Readiness>,
}

impl Ecosystem {
    /// Each part: its key, what it is, and where it stands.
    pub fn parts(&self) -> [(&'static str, &'static str, Option<Readiness>); 8] {
        [
            ("build", "building container images", self.build),
            (
                "orchestration",
                "scheduling container resources (orchestration)",
                self.orchestration,
            ),
            ("clusters", "managing clusters", self.clusters),
            (
                "networking",
                "routing, access control and service discovery",
                self.networking,
            ),
            ("deployment", "deploying", self.deployment),
            ("monitoring", "monitoring", self.monitoring),
            ("provisioning", "provisioning", self.provisioning),
            ("debugging", "debugging", self.debugging),
        ]
    }

    /// Sets (or with `None`, clears) one part's answer; false for a key
    /// that names no part.
    pub fn set_answer(&mut self, key: &str, value: Option<Readiness>) -> bool {
        let slot = match key {
            "build" => &mut self.build,
            "orchestration" => &mut self.orchestration,
            "clusters" => &mut self.clusters,
            "networking" => &mut self.networking,
            "deployment" => &mut self.deployment,
            "monitoring" => &mut self.monitoring,
            "provisioning" => &mut self.provisioning,
            "debugging" => &mut self.debugging,
            _ => return false,
        };
        *slot = value;
        true
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    pub stateless: Option<Share>,
    pub stateful: Option<Stateful>,
    pub platform: Option<Platform>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Team {
    /// People dedicated to the container platform.
    pub people: Option<u32>,
    pub skills: Vec<Skill>,
    /// A budget to run different cloud providers.
    pub budget: Option<bool>,
    /// A mandate to change other teams' roadmaps.
    pub mandate: Option<bool>,
    /// Organisational support: time and money.
    pub support: Option<bool>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Plan {
    pub rollout: Option<Rollout>,
    pub end_state: Option<EndState>,
}

/// Everything a team answers. Every answer may be missing: the report
/// then names the question.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Answers {
    pub workload: Workload,
    pub ecosystem: Ecosystem,
    pub team: Team,
    pub motivation: Option<Motivation>,
    pub plan: Plan,
}

/// What kind of answer a question takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One of these (spelling, label).
    One(&'static [(&'static str, &'static str)]),
    /// Any of these (spelling, label), comma-separated in a link.
    Many(&'static [(&'static str, &'static str)]),
    /// A whole number.
    Number,
}

/// One question: its key (in links and on the page), the part of the
/// assessment it belongs to, its wording and the answers it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question {
    pub key: &'static str,
    pub part: &'static str,
    pub text: &'static str,
    pub kind: Kind,
    /// Whether some answer to it stands in the way of a go, so that leaving
    /// it unanswered does too.
    pub blocks: bool,
}

const WORKLOAD: &str = "Workload (lessons 1 and 2)";
const ECOSYSTEM: &str = "Ecosystem (lesson 3: it's never just containers)";
const TEAM: &str = "Team (lesson 4: containers need headcount)";
const MOTIVATION: &str = "Motivation and plan";

const LEVELS: &[(&str, &str)] = &[
    ("none", "no plan yet"),
    ("planned", "planned"),
    ("in-place", "in place"),
];
const YES_NO: &[(&str, &str)] = &[("yes", "yes"), ("no", "no")];

const fn part_of_ecosystem(key: &'static str, text: &'static str) -> Question {
    Question {
        key,
        part: ECOSYSTEM,
        text,
        kind: Kind::One(LEVELS),
        blocks: true,
    }
}

/// Every question, in the talk's order: the terminal asks them and the page
/// shows them from this one list.
pub const QUESTIONS: [Question; 19] = [
    Question {
        key: "stateless",
        part: WORKLOAD,
        text: "How much of what you would move is stateless (data in, application, data out)?",
        kind: Kind::One(&[
            ("none", "none of it"),
            ("some", "some of it"),
            ("most", "most of it"),
        ]),
        blocks: true,
    },
    Question {
        key: "stateful",
        part: WORKLOAD,
        text: "Databases and other stateful services would...",
        kind: Kind::One(&[
            ("keep-out", "stay out of containers"),
            (
                "cloud-provider",
                "run in containers on a cloud provider's tooling",
            ),
            ("diy", "run in containers, by ourselves"),
        ]),
        blocks: true,
    },
    Question {
        key: "platform",
        part: WORKLOAD,
        text: "Your platform is...",
        kind: Kind::One(&[
            ("monolith", "a monolith and a few services"),
            ("several", "several services"),
            ("large", "large and heterogeneous"),
        ]),
        blocks: true,
    },
    part_of_ecosystem("build", "How will you handle building container images?"),
    part_of_ecosystem(
        "orchestration",
        "How will you handle scheduling container resources (orchestration)?",
    ),
    part_of_ecosystem("clusters", "How will you handle managing clusters?"),
    part_of_ecosystem(
        "networking",
        "How will you handle routing, access control and service discovery?",
    ),
    part_of_ecosystem("deployment", "How will you handle deploying?"),
    part_of_ecosystem("monitoring", "How will you handle monitoring?"),
    part_of_ecosystem("provisioning", "How will you handle provisioning?"),
    part_of_ecosystem("debugging", "How will you handle debugging?"),
    Question {
        key: "people",
        part: TEAM,
        text: "How many people would work on the container platform full time?",
        kind: Kind::Number,
        blocks: true,
    },
    Question {
        key: "skills",
        part: TEAM,
        text: "Which skills does that team have?",
        kind: Kind::Many(&SKILLS),
        blocks: false,
    },
    Question {
        key: "support",
        part: TEAM,
        text: "Does the organisation support it with time and money?",
        kind: Kind::One(YES_NO),
        blocks: true,
    },
    Question {
        key: "budget",
        part: TEAM,
        text: "Is there a budget to run different cloud providers?",
        kind: Kind::One(YES_NO),
        blocks: false,
    },
    Question {
        key: "mandate",
        part: TEAM,
        text: "Does the team have a mandate to change other teams' roadmaps?",
        kind: Kind::One(YES_NO),
        blocks: false,
    },
    Question {
        key: "motivation",
        part: MOTIVATION,
        text: "Why containers?",
        kind: Kind::One(&[
            ("real-need", "a real need of our platform"),
            ("would-be-rad", "it would be rad"),
        ]),
        blocks: true,
    },
    Question {
        key: "rollout",
        part: MOTIVATION,
        text: "The rollout would be...",
        kind: Kind::One(&[
            ("gradual", "gradual, over about a year"),
            ("big-bang", "everything at once"),
        ]),
        blocks: true,
    },
    Question {
        key: "end-state",
        part: MOTIVATION,
        text: "The end state would be...",
        kind: Kind::One(&[
            ("hybrid", "hybrid: legacy and containers"),
            ("everything", "everything in containers"),
        ]),
        blocks: false,
    },
];

/// A value's name as the answers spell it (`most`, `cloud-provider`...).
fn spelled<T: Serialize>(value: Option<T>) -> String {
    value
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The value a spelling names; "" is no answer.
fn parse_value<T: serde::de::DeserializeOwned>(
    key: &str,
    value: &str,
) -> Result<Option<T>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    serde_json::from_value(serde_json::Value::String(value.to_string()))
        .map(Some)
        .map_err(|_| not_an_answer(key, value))
}

/// The error for a value a question does not take, with the ones it does.
fn not_an_answer(key: &str, value: &str) -> String {
    let takes = match QUESTIONS.iter().find(|q| q.key == key).map(|q| q.kind) {
        Some(Kind::One(choices)) | Some(Kind::Many(choices)) => choices
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>()
            .join(", "),
        Some(Kind::Number) => "a number of people".to_string(),
        None => String::new(),
    };
    format!("`{value}` is not an answer to `{key}`: {takes}")
}

fn yes_no(b: Option<bool>) -> String {
    match b {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => String::new(),
    }
}

fn parse_yes_no(key: &str, value: &str) -> Result<Option<bool>, String> {
    match value {
        "" => Ok(None),
        "yes" => Ok(Some(true)),
        "no" => Ok(Some(false)),
        other => Err(not_an_answer(key, other)),
    }
}

impl Answers {
    /// One question's answer as links spell it ("" when unanswered; skills
    /// comma-separated).
    pub fn get(&self, key: &str) -> String {
        match key {
            "stateless" => spelled(self.workload.stateless),
            "stateful" => spelled(self.workload.stateful),
            "platform" => spelled(self.workload.platform),
            "people" => self.team.people.map(|n| n.to_string()).unwrap_or_default(),
            "skills" => self
                .team
                .skills
                .iter()
                .map(|s| s.key())
                .collect::<Vec<_>>()
                .join(","),
            "support" => yes_no(self.team.support),
            "budget" => yes_no(self.team.budget),
            "mandate" => yes_no(self.team.mandate),
            "motivation" => spelled(self.motivation),
            "rollout" => spelled(self.plan.rollout),
            "end-state" => spelled(self.plan.end_state),
            part => self
                .ecosystem
                .parts()
                .into_iter()
                .find(|(k, _, _)| *k == part)
                .map(|(_, _, readiness)| spelled(readiness))
                .unwrap_or_default(),
        }
    }

    /// One question's answer in words ("most of it", "6", "kernel
    /// engineering; networking"), or "not answered".
    pub fn described(&self, q: &Question) -> String {
        let value = self.get(q.key);
        if value.is_empty() {
            return match q.kind {
                Kind::Many(_) => "none".to_string(),
                _ => "not answered".to_string(),
            };
        }
        match q.kind {
            Kind::One(choices) | Kind::Many(choices) => value
                .split(',')
                .map(|v| {
                    choices
                        .iter()
                        .find(|(spelling, _)| *spelling == v)
                        .map_or(v, |(_, label)| *label)
                })
                .collect::<Vec<_>>()
                .join("; "),
            Kind::Number => value,
        }
    }

    /// Answers one question from its spelling ("" clears it). An error
    /// names the question and what it takes, and changes nothing.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let value = value.trim().to_ascii_lowercase();
        let value = value.as_str();
        match key {
            "stateless" => self.workload.stateless = parse_value(key, value)?,
            "stateful" => self.workload.stateful = parse_value(key, value)?,
            "platform" => self.workload.platform = parse_value(key, value)?,
            "people" => {
                self.team.people = match value {
                    "" => None,
                    n => Some(n.parse().map_err(|_| not_an_answer(key, n))?),
                }
            }
            "skills" => {
                let mut skills = Vec::new();
                for skill in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let skill: Skill = parse_value(key, skill)?.expect("not empty");
                    if !skills.contains(&skill) {
                        skills.push(skill);
                    }
                }
                skills.sort();
                self.team.skills = skills;
            }
            "support" => self.team.support = parse_yes_no(key, value)?,
            "budget" => self.team.budget = parse_yes_no(key, value)?,
            "mandate" => self.team.mandate = parse_yes_no(key, value)?,
            "motivation" => self.motivation = parse_value(key, value)?,
            "rollout" => self.plan.rollout = parse_value(key, value)?,
            "end-state" => self.plan.end_state = parse_value(key, value)?,
            part => {
                if !QUESTIONS.iter().any(|q| q.key == part) {
                    return Err(format!("`{part}` is not a question of this assessment"));
                }
                let readiness = parse_value(part, value)?;
                self.ecosystem.set_answer(part, readiness);
            }
        }
        Ok(())
    }

    /// The answers as a URL query (`stateless=most&people=6&...`), for a
    /// link that carries them.
    pub fn to_query(&self) -> String {
        QUESTIONS
            .iter()
            .map(|q| (q.key, self.get(q.key)))
            .filter(|(_, value)| !value.is_empty())
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Reads answers from a URL query; keys it does not know are errors
    /// naming the key (a link from a newer version says so).
    pub fn from_query(query: &str) -> Result<Answers, String> {
        let (answers, errors) = Answers::from_query_lenient(query);
        match errors.into_iter().next() {
            Some(err) => Err(err),
            None => Ok(answers),
        }
    }

    /// Reads what it can of a URL query, and says what it could not. Keys
    /// and values may be percent-encoded (`%2C`, `+`) and in any case;
    /// repeated `skills` add up.
    pub fn from_query_lenient(query: &str) -> (Answers, Vec<String>) {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .trim()
                .to_ascii_lowercase()
        };
        let mut answers = Answers::default();
        let mut errors = Vec::new();
        for pair in query
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (key, mut value) = (decode(key), decode(value));
            if key == "skills" && !value.is_empty() && !answers.team.skills.is_empty() {
                value = format!("{},{value}", answers.get("skills"));
            }
            if let Err(err) = answers.set(&key, &value) {
                errors.push(err);
            }
        }
        (answers, errors)
    }

    /// Answers from whatever a team hands over: an answers file (JSON), a
    /// saved report (JSON, whose answers it carries), a link to the
    /// assessment page, or the link's query alone.
    pub fn from_text(text: &str) -> Result<Answers, String> {
        let text = text.trim();
        if text.starts_with('{') {
            let mut value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
            if value.get("verdict").is_some()
                && let Some(answers) = value.get_mut("answers")
            {
                value = answers.take();
            }
            return serde_json::from_value(value).map_err(|e| e.to_string());
        }
        let query = match text.split_once("#assess") {
            Some((_, rest)) => rest,
            None => text.split_once('?').map_or(text, |(_, query)| query),
        };
        Answers::from_query(query)
    }
}

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// "Yay containers!"
    Go,
    /// Not before the blocking gaps are closed.
    NotYet,
    /// "Boo, containers!"
    NoGo,
    /// "Do you want containers or a blog post?"
    BlogPost,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Go => "go",
            Verdict::NotYet => "not yet",
            Verdict::NoGo => "no-go",
            Verdict::BlogPost => "blog post",
        })
    }
}

/// How ready a kind of workload is, in the manner of cloud migration
/// assessments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fit {
    Ready,
    ReadyWithConditions,
    NotReady,
    /// The team has none of it to move.
    NotApplicable,
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fit::Ready => "ready",
            Fit::ReadyWithConditions => "ready with conditions",
            Fit::NotReady => "not ready",
            Fit::NotApplicable => "not applicable",
        })
    }
}

/// A reason behind the verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub text: String,
    pub lesson: Lesson,
}

/// Something missing, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub what: String,
    pub todo: String,
    pub lesson: Lesson,
    /// Whether it stands in the way of a "go" (else it is a condition).
    pub blocking: bool,
}

/// The fit of one kind of workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkloadFit {
    pub workload: &'static str,
    pub fit: Fit,
    pub why: String,
    pub lesson: Lesson,
}

/// The assessment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    /// The verdict in the talk's words.
    pub headline: &'static str,
    pub reasons: Vec<Reason>,
    pub gaps: Vec<Gap>,
    pub fits: Vec<WorkloadFit>,
    /// The questions left unanswered.
    pub unanswered: Vec<&'static str>,
    /// What it was assessed from.
    pub answers: Answers,
}

/// Assesses a team's answers.
pub fn assess(answers: &Answers) -> Report {
    let mut reasons = Vec::new();
    let mut gaps = Vec::new();
    // Every question but the skills (where none is an answer) counts.
    let open: Vec<&Question> = QUESTIONS
        .iter()
        .filter(|q| !matches!(q.kind, Kind::Many(_)) && answers.get(q.key).is_empty())
        .collect();
    let unanswered: Vec<&'static str> = open.iter().map(|q| q.text).collect();
    let w = &answers.workload;
    let t = &answers.team;
    let mut reason = |lesson: Lesson, text: String| reasons.push(Reason { text, lesson });
    let mut gap = |lesson: Lesson, blocking: bool, what: String, todo: &str| {
        gaps.push(Gap {
            what,
            todo: todo.to_string(),
            lesson,
            blocking,
        })
    };

    // Workload: lessons 1 and 2.
    match w.stateless {
        None => {}
        Some(Share::Most) => reason(
            Lesson::Strengths,
            "most of what would move is stateless: portable, quick to recover, easy to copy into test environments".into(),
        ),
        Some(Share::Some) => reason(
            Lesson::Strengths,
            "some of what would move is stateless: start there".into(),
        ),
        Some(Share::None) => reason(
            Lesson::Strengths,
            "nothing that would move is stateless: containers' strengths do not apply".into(),
        ),
    }
    match w.stateful {
        None => {}
        Some(Stateful::KeepOut) => reason(
            Lesson::Weaknesses,
            "databases and other stateful services stay out of containers".into(),
        ),
        Some(Stateful::CloudProvider) => reason(
            Lesson::Weaknesses,
            "stateful services would run on a cloud provider's tooling, not on your own".into(),
        ),
        Some(Stateful::Diy) => gap(
            Lesson::Weaknesses,
            true,
            "databases in containers, run by yourselves (\"you wanna DIY, really?\")".into(),
            "keep them out of containers, or use a cloud provider's managed databases; if you must, keep it small: one database on containerized instances, not a platform",
        ),
    }
    match w.platform {
        None => {}
        Some(Platform::Large) => reason(
            Lesson::Decision,
            "a large, heterogeneous platform: what containers standardize pays back".into(),
        ),
        Some(Platform::Several) => reason(
            Lesson::Decision,
            "several services: some standardization to gain".into(),
        ),
        Some(Platform::Monolith) => gap(
            Lesson::Decision,
            false,
            "a monolith and a few services: little for containers to standardize".into(),
            "weigh what the platform costs (a team of 6 to 8, a year of rollout) against what it gives; start with the stateless services around the monolith",
        ),
    }

    // Ecosystem: lesson 3.
    let mut none_parts = Vec::new();
    for (_, label, readiness) in answers.ecosystem.parts() {
        match readiness {
            None => {}
            Some(Readiness::None) => {
                none_parts.push(label);
                gap(
                    Lesson::Friends,
                    true,
                    format!("no plan for {label}"),
                    "it's never just containers: choose how, and give it an owner, before the first service moves",
                );
            }
            Some(Readiness::Planned) => gap(
                Lesson::Friends,
                false,
                format!("{label} is planned, not in place"),
                "build it and try it on one service in the first months of the rollout",
            ),
            Some(Readiness::InPlace) => {}
        }
    }
    let answered_parts = answers
        .ecosystem
        .parts()
        .iter()
        .filter(|(_, _, r)| r.is_some())
        .count();
    if answered_parts == 8 && none_parts.is_empty() {
        reason(
            Lesson::Friends,
            "every part of the ecosystem has a plan or is in place".into(),
        );
    }

    // Team: lesson 4.
    match t.people {
        None => {}
        Some(0) => gap(
            Lesson::Headcount,
            true,
            "no dedicated team (\"we'll just give it to ops\": don't)".into(),
            "form a team of 6 to 8 people, at least 4, who work on the container platform and nothing else",
        ),
        Some(n) if n < 4 => gap(
            Lesson::Headcount,
            true,
            format!("a team of {n}: fewer than the minimum of 4"),
            "grow the team to 6 to 8 people (at least 4) before the rollout",
        ),
        Some(n) if n < 6 => {
            reason(Lesson::Headcount, format!("a dedicated team of {n}"));
            gap(
                Lesson::Headcount,
                false,
                format!("a team of {n}, below the 6 to 8 the talk recommends"),
                "plan to grow it to 6 to 8 as more services move",
            );
        }
        Some(n) => reason(Lesson::Headcount, format!("a dedicated team of {n}")),
    }
    let missing: Vec<&str> = Skill::ALL
        .iter()
        .filter(|s| !t.skills.contains(s))
        .map(|s| s.label())
        .collect();
    if t.people == Some(0) {
        // No team, so no skills to weigh: the gap above says it all.
    } else if missing.is_empty() {
        reason(
            Lesson::Headcount,
            "the team has every skill the talk lists".into(),
        );
    } else {
        gap(
            Lesson::Headcount,
            missing.len() > 3,
            format!("no one in the team for {}", missing.join("; ")),
            "hire or borrow for these; a container platform fails at its weakest skill, often the kernel or the network",
        );
    }
    match t.support {
        None => {}
        Some(true) => reason(
            Lesson::Headcount,
            "the organisation supports it with time and money".into(),
        ),
        Some(false) => gap(
            Lesson::Headcount,
            true,
            "no organisational support".into(),
            "get a sponsor and a budget first: the team must be empowered to succeed",
        ),
    }
    match t.budget {
        None => {}
        Some(true) => {}
        Some(false) => gap(
            Lesson::Headcount,
            false,
            "no budget to run different cloud providers".into(),
            "budget for trying providers and managed services: it is cheaper than building their tooling",
        ),
    }
    match t.mandate {
        None => {}
        Some(true) => {}
        Some(false) => gap(
            Lesson::Headcount,
            false,
            "no mandate to change other teams' roadmaps".into(),
            "moving services means other teams' work: agree with their leads before the rollout",
        ),
    }

    // Motivation and plan.
    match answers.motivation {
        None => {}
        Some(Motivation::RealNeed) => {
            reason(Lesson::Decision, "a real need, not a blog post".into())
        }
        Some(Motivation::WouldBeRad) => reason(
            Lesson::Decision,
            "\"it would be rad\" is the motivation: that is a blog post, not a platform".into(),
        ),
    }
    match answers.plan.rollout {
        None => {}
        Some(Rollout::Gradual) => reason(
            Lesson::Friends,
            "a gradual rollout, over about a year".into(),
        ),
        Some(Rollout::BigBang) => gap(
            Lesson::Friends,
            true,
            "a big-bang rollout (everything at once)".into(),
            "roll out gradually, over about a year: one stateless service first, then the next",
        ),
    }
    match answers.plan.end_state {
        None => {}
        Some(EndState::Hybrid) => reason(
            Lesson::Friends,
            "the end state is hybrid: legacy and containers".into(),
        ),
        Some(EndState::Everything) => gap(
            Lesson::Friends,
            false,
            "the goal is everything in containers".into(),
            "aim for hybrid: legacy and containers side by side; not everything is worth moving",
        ),
    }
    // Unanswered questions block only where an answer could.
    for blocks in [true, false] {
        let n = open.iter().filter(|q| q.blocks == blocks).count();
        if n == 0 {
            continue;
        }
        let what = match (n, blocks) {
            (1, true) => "a question that decides the verdict is unanswered".to_string(),
            (n, true) => format!("{n} questions that decide the verdict are unanswered"),
            (1, false) => "a question is unanswered".to_string(),
            (n, false) => format!("{n} questions are unanswered"),
        };
        gap(
            Lesson::Decision,
            blocks,
            what,
            "answer them (listed below): each one is a conversation the team should have had",
        );
    }

    let small = t.people.is_some_and(|n| n < 4) || t.support == Some(false);
    let fits = vec![stateless_fit(answers, small), stateful_fit(answers, small)];
    let (verdict, headline) = if answers.motivation == Some(Motivation::WouldBeRad) {
        (
            Verdict::BlogPost,
            "Do you want containers or a blog post? Write the blog post.",
        )
    } else if (w.platform == Some(Platform::Monolith) && small) || w.stateless == Some(Share::None)
    {
        (
            Verdict::NoGo,
            "Boo, containers: not for this platform and team.",
        )
    } else if gaps.iter().any(|g| g.blocking) {
        (
            Verdict::NotYet,
            "Close the blocking gaps first, then decide again.",
        )
    } else {
        (
            Verdict::Go,
            "Yay, containers! Roll out gradually, towards a hybrid.",
        )
    };
    Report {
        verdict,
        headline,
        reasons,
        gaps,
        fits,
        unanswered,
        answers: answers.clone(),
    }
}

/// The team stands in the way of any workload.
const NO_TEAM: &str = "no team to run it: fewer than 4 people, or no organisational support";

fn stateless_fit(answers: &Answers, small: bool) -> WorkloadFit {
    let parts = answers.ecosystem.parts();
    let without_plan: Vec<&str> = parts
        .iter()
        .filter(|(_, _, r)| matches!(r, None | Some(Readiness::None)))
        .map(|(_, label, _)| *label)
        .collect();
    let (fit, why) = match answers.workload.stateless {
        None => (
            Fit::NotReady,
            "unanswered: how much is stateless".to_string(),
        ),
        Some(Share::None) => (Fit::NotApplicable, "nothing stateless to move".to_string()),
        Some(_) if small => (Fit::NotReady, NO_TEAM.to_string()),
        Some(_) if !without_plan.is_empty() => (
            Fit::NotReady,
            format!("{} need a plan first", without_plan.join(", ")),
        ),
        Some(_) if parts.iter().any(|(_, _, r)| *r == Some(Readiness::Planned)) => (
            Fit::ReadyWithConditions,
            "once the planned parts of the ecosystem are in place".to_string(),
        ),
        Some(_) => (
            Fit::Ready,
            "stateless, with the whole ecosystem to build, run and watch it in place".to_string(),
        ),
    };
    WorkloadFit {
        workload: "stateless services",
        fit,
        why,
        lesson: Lesson::Strengths,
    }
}

fn stateful_fit(answers: &Answers, small: bool) -> WorkloadFit {
    let (fit, why) = match answers.workload.stateful {
        None => (Fit::NotReady, "unanswered: what happens to databases".to_string()),
        Some(Stateful::KeepOut) => (
            Fit::NotApplicable,
            "they stay out of containers, as the talk advises unless you are Google".to_string(),
        ),
        Some(Stateful::CloudProvider) if small => (Fit::NotReady, NO_TEAM.to_string()),
        Some(Stateful::CloudProvider) if answers.team.budget == Some(false) => (
            Fit::NotReady,
            "a cloud provider's tooling with no budget for a cloud provider".to_string(),
        ),
        Some(Stateful::CloudProvider) => (
            Fit::ReadyWithConditions,
            "on a cloud provider's tooling, kept small, with backups and recovery tried".to_string(),
        ),
        Some(Stateful::Diy) => (
            Fit::NotReady,
            "running databases in containers yourselves is the hard case: faster provisioning does not pay for it".to_string(),
        ),
    };
    WorkloadFit {
        workload: "stateful services (databases)",
        fit,
        why,
        lesson: Lesson::Weaknesses,
    }
}

impl Report {
    /// The report as text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Verdict: {}. {}", self.verdict, self.headline);
        let _ = writeln!(out, "\nWhy:");
        for r in &self.reasons {
            let _ = writeln!(out, "  - {} ({})", r.text, r.lesson.title());
        }
        if !self.gaps.is_empty() {
            let _ = writeln!(out, "\nGaps:");
            for g in &self.gaps {
                let tag = if g.blocking { "blocking" } else { "condition" };
                let _ = writeln!(
                    out,
                    "  - [{tag}] {}: {} ({})",
                    g.what,
                    g.todo,
                    g.lesson.title()
                );
            }
        }
        let _ = writeln!(out, "\nFit per workload:");
        for f in &self.fits {
            let _ = writeln!(out, "  - {}: {} ({})", f.workload, f.fit, f.why);
        }
        if !self.unanswered.is_empty() {
            let _ = writeln!(out, "\nUnanswered:");
            for q in &self.unanswered {
                let _ = writeln!(out, "  - {q}");
            }
        }
        let _ = writeln!(
            out,
            "\nAnswers (for `anchorage assess --answers` or the page's #assess?...):\n  {}",
            self.answers.to_query()
        );
        let _ = writeln!(out, "\nSee for yourself, in the workshop (anchorage sim):");
        for lesson in self.exercises() {
            let exercise = lesson.exercise();
            let _ = writeln!(out, "  {}: {}", lesson.title(), exercise.title);
            for step in exercise.steps {
                let _ = writeln!(out, "      {}", step.line);
            }
            let _ = writeln!(out, "    Look for: {}", exercise.shows);
        }
        out
    }

    /// The report as Markdown, to share or print.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Should we use containers in prod?\n");
        let _ = writeln!(out, "**Verdict: {}.** {}\n", self.verdict, self.headline);
        let _ = writeln!(out, "## Why\n");
        for r in &self.reasons {
            let _ = writeln!(out, "- {} *({})*", r.text, r.lesson.title());
        }
        if !self.gaps.is_empty() {
            let _ = writeln!(out, "\n## Gaps\n");
            let _ = writeln!(out, "| Gap | What to do | Blocking | Lesson |");
            let _ = writeln!(out, "|---|---|---|---|");
            for g in &self.gaps {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    g.what.replace('|', "\\|"),
                    g.todo.replace('|', "\\|"),
                    if g.blocking { "yes" } else { "no" },
                    g.lesson.title()
                );
            }
        }
        let _ = writeln!(out, "\n## Fit per workload\n");
        let _ = writeln!(out, "| Workload | Fit | Why |");
        let _ = writeln!(out, "|---|---|---|");
        for f in &self.fits {
            let _ = writeln!(out, "| {} | {} | {} |", f.workload, f.fit, f.why);
        }
        if !self.unanswered.is_empty() {
            let _ = writeln!(out, "\n## Unanswered\n");
            for q in &self.unanswered {
                let _ = writeln!(out, "- {q}");
            }
        }
        let _ = writeln!(out, "\n## Answers\n");
        let _ = writeln!(out, "| Question | Answer |");
        let _ = writeln!(out, "|---|---|");
        for q in &QUESTIONS {
            let _ = writeln!(
                out,
                "| {} | {} |",
                q.text.replace('|', "\\|"),
                self.answers.described(q).replace('|', "\\|")
            );
        }
        let _ = writeln!(
            out,
            "\n`{}`\n\nTo assess them again: `anchorage assess --answers FILE` with that line in FILE, or the assessment page's address ending in `#assess?` and that line.",
            self.answers.to_query()
        );
        let _ = writeln!(out, "\n## See for yourself\n");
        for lesson in self.exercises() {
            let exercise = lesson.exercise();
            let _ = writeln!(out, "**{}**: {}\n", lesson.title(), exercise.title);
            let _ = writeln!(out, "```sh");
            for step in exercise.steps {
                let _ = writeln!(out, "{}", step.line);
            }
            let _ = writeln!(out, "```\n");
            let _ = writeln!(out, "Look for: {}\n", exercise.shows);
        }
        out
    }

    /// The report as JSON, with each lesson's title and exercise.
    pub fn to_json(&self) -> String {
        let lessons: Vec<serde_json::Value> = self
            .lessons()
            .into_iter()
            .map(|l| {
                serde_json::json!({
                    "lesson": l,
                    "title": l.title(),
                    "summary": l.summary(),
                    "exercise": l.exercise(),
                })
            })
            .collect();
        let mut value = serde_json::to_value(self).expect("reports encode");
        value["lessons"] = serde_json::Value::Array(lessons);
        value["query"] = serde_json::Value::String(self.answers.to_query());
        serde_json::to_string_pretty(&value).expect("reports encode")
    }

    /// The lessons with an exercise to see this report's points for
    /// oneself (all it refers to but the decision, which is this report).
    pub fn exercises(&self) -> Vec<Lesson> {
        self.lessons()
            .into_iter()
            .filter(|l| !l.exercise().steps.is_empty())
            .collect()
    }

    /// The talk's lessons this report refers to, in the talk's order.
    pub fn lessons(&self) -> Vec<Lesson> {
        Lesson::ALL
            .into_iter()
            .filter(|l| {
                self.reasons.iter().any(|r| r.lesson == *l)
                    || self.gaps.iter().any(|g| g.lesson == *l)
                    || self.fits.iter().any(|f| f.lesson == *l)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
