//! The workshop's lessons: the talk's four lessons and its closing
//! question, each with an exercise to run on a simulated host.
//!
//! An exercise is a list of command lines with the exit status and a piece
//! of the output each must give: that is the lesson's check.
//! [`Exercise::run`] carries them out on a fresh simulated host (the same
//! kernel the page and `anchorage sim` run) and says which steps held, so
//! the page can show the transcript and the tests can prove every lesson
//! still teaches what it says. The last lesson is the decision: the
//! readiness assessment ([`crate::readiness`]).

use serde::{Deserialize, Serialize};

use crate::cli::{Instant, LineResult, SimTerminal, Transcript};
use crate::sim::SimEngine;

/// The talk's lessons, and its closing question, in the talk's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lesson {
    /// 1. Containers have strengths: stateless applications.
    Strengths,
    /// 2. Containers have weaknesses: databases.
    Weaknesses,
    /// 3. Containers need friends: the ecosystem.
    Friends,
    /// 4. Containers need headcount: a new team.
    Headcount,
    /// "Should we use containers in prod?"
    Decision,
}

/// A workshop exercise: command lines for the simulated host (the page's
/// terminal, or `anchorage sim`) that show a lesson for oneself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Exercise {
    pub title: &'static str,
    pub steps: &'static [Step],
    /// What to look for.
    pub shows: &'static str,
}

/// One line of an exercise and what it must give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub line: &'static str,
    /// The exit status the line must end with.
    pub status: i32,
    /// A piece of text the output must contain ("" for any).
    pub output_has: &'static str,
    /// A piece of text the output must not contain ("" for none).
    pub output_lacks: &'static str,
}

/// A step that must give `status` and output with `has` in it (a macro, not
/// a function, so the steps stay constants).
macro_rules! step {
    ($line:expr, $status:expr, $has:expr $(,)?) => {
        Step {
            line: $line,
            status: $status,
            output_has: $has,
            output_lacks: "",
        }
    };
}

/// What one step gave on the simulated host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepRun {
    pub line: &'static str,
    pub output: String,
    pub status: i32,
    /// Whether the status and the output are what the step expects.
    pub held: bool,
}

/// Simulated time between two lines, as a person typing would leave: a
/// detached container gets to print before `logs` looks.
const BETWEEN_LINES_MS: u64 = 500;

impl Lesson {
    pub const ALL: [Lesson; 5] = [
        Lesson::Strengths,
        Lesson::Weaknesses,
        Lesson::Friends,
        Lesson::Headcount,
        Lesson::Decision,
    ];

    /// The lesson's name in links (`#lessons/strengths`).
    pub fn slug(self) -> &'static str {
        match self {
            Lesson::Strengths => "strengths",
            Lesson::Weaknesses => "weaknesses",
            Lesson::Friends => "friends",
            Lesson::Headcount => "headcount",
            Lesson::Decision => "decision",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Lesson> {
        Lesson::ALL.into_iter().find(|l| l.slug() == slug)
    }

    pub fn title(self) -> &'static str {
        match self {
            Lesson::Strengths => "Lesson 1: containers have strengths (stateless applications)",
            Lesson::Weaknesses => "Lesson 2: containers have weaknesses (databases)",
            Lesson::Friends => "Lesson 3: containers need friends (the ecosystem)",
            Lesson::Headcount => "Lesson 4: containers need headcount (a new team)",
            Lesson::Decision => "Should we use containers in prod?",
        }
    }

    /// The lesson in a few sentences.
    pub fn summary(self) -> &'static str {
        match self {
            Lesson::Strengths => {
                "A stateless application takes data in and sends data out, and keeps nothing \
                 of its own. Packed as a tarball it runs the same on a laptop, in a test \
                 environment or on another host after a disaster: start a new one, throw the \
                 old one away."
            }
            Lesson::Weaknesses => {
                "Databases keep state, and a container is made to be thrown away. Faster \
                 provisioning, stability and quicker recovery are the reasons people try; unless \
                 you operate at a giant's scale, a cloud provider and its tooling give you those. \
                 Running them in containers yourselves, one database per container or \
                 containerized instances on hosts, is the hard road: keep it small."
            }
            Lesson::Friends => {
                "It is never just containers. Someone has to build the images, schedule them \
                 (orchestration), manage the clusters, route traffic, control access and find \
                 services, deploy, monitor, provision and debug. Roll it out gradually, over \
                 about a year, and aim for a hybrid: legacy systems beside containerized ones, \
                 not everything in containers."
            }
            Lesson::Headcount => {
                "Do not just give it to ops. A container platform needs a new team of six to \
                 eight people (at least four) who know your operations and deployments, write \
                 and test tooling and glue, monitor, know the kernel, networking and security, \
                 win internal adoption, and keep the project on track; with a budget to try \
                 cloud providers and a mandate to change other teams' roadmaps."
            }
            Lesson::Decision => {
                "Stateless services, a large heterogeneous platform, and the time, money, people \
                 and organisational support: yes, containers. A monolith and a few services with \
                 a small team and no support: not containers. And if the reason is that it would \
                 be rad, you want a blog post, not containers."
            }
        }
    }

    /// The workshop exercise that shows this lesson.
    pub fn exercise(self) -> Exercise {
        match self {
            Lesson::Strengths => Exercise {
                title: "A container is a process from a tarball: start it anywhere, throw it away",
                steps: &[
                    step!(
                        "anchorage run --name a workshop sh -c 'echo state > /tmp/note; cat /tmp/note'",
                        0,
                        "state",
                    ),
                    step!("anchorage rm a", 0, "a"),
                    step!(
                        "anchorage run --rm workshop cat /tmp/note",
                        1,
                        "No such file or directory",
                    ),
                ],
                shows: "the second container starts from the same tarball, and the file the first one wrote is gone with it: what is stateless moves and recovers for free",
            },
            Lesson::Weaknesses => Exercise {
                title: "State outlives the container only where you put it",
                steps: &[
                    step!(
                        "anchorage run --rm -v data:/data workshop sh -c 'echo row > /data/table'",
                        0,
                        "",
                    ),
                    step!(
                        "anchorage run --rm -v data:/data workshop cat /data/table",
                        0,
                        "row",
                    ),
                    step!("ls /var/lib/anchorage/volumes/data/_data", 0, "table"),
                    step!(
                        "anchorage run --rm --memory 16m workshop memhog 64m",
                        137,
                        "",
                    ),
                ],
                shows: "the volume keeps the data, on one host, outside the container; and a memory limit kills the biggest process, which for a database is the database (exit 137)",
            },
            Lesson::Friends => Exercise {
                title: "Everything around the container is yours to build",
                steps: &[
                    step!(
                        "anchorage run -d --name web workshop sh -c 'echo serving; sleep 1000'",
                        0,
                        "",
                    ),
                    step!("anchorage logs web", 0, "serving"),
                    step!("ip addr", 0, "eth0"),
                    Step {
                        line: "anchorage exec web ip addr",
                        status: 0,
                        output_has: "lo",
                        output_lacks: "eth0",
                    },
                ],
                shows: "logs and networking are separate concerns: the host has a network, the container only its own loopback until something gives it an interface, a route and a name",
            },
            Lesson::Headcount => Exercise {
                title: "Operating containers is kernel work",
                steps: &[
                    step!(
                        "anchorage run -d --name k --memory 64m workshop sleep 1000",
                        0,
                        "",
                    ),
                    step!("anchorage top k", 0, "sleep 1000"),
                    step!("ls -l /proc/1/ns", 0, "pid:[4026531836]"),
                    Step {
                        line: "anchorage exec k ls -l /proc/1/ns",
                        status: 0,
                        output_has: "pid:[",
                        output_lacks: "pid:[4026531836]",
                    },
                    step!(
                        "anchorage exec k cat /proc/self/cgroup /sys/fs/cgroup/memory.max",
                        0,
                        "0::/\n67108864",
                    ),
                ],
                shows: "pids, namespaces and cgroups seen from both sides: PID 1 inside is another pid on the host, its namespaces are not the host's, and its cgroup is its whole world; the team that runs containers debugs at this level",
            },
            Lesson::Decision => Exercise {
                title: "The decision, for your own platform and team",
                steps: &[],
                shows: "the readiness assessment: the talk's questions, a verdict and what to do about each gap (the page's assessment, or `anchorage assess` on a terminal)",
            },
        }
    }

    /// The lesson after this one.
    pub fn next(self) -> Option<Lesson> {
        let i = Lesson::ALL.iter().position(|l| *l == self)?;
        Lesson::ALL.get(i + 1).copied()
    }
}

impl Exercise {
    /// Runs the steps, in order, on a fresh simulated host.
    pub fn run(&self) -> Vec<StepRun> {
        let mut terminal = SimTerminal::new(SimEngine::default(), Box::new(Instant));
        self.steps
            .iter()
            .map(|step| {
                let mut transcript = Transcript::default();
                let status = match terminal.run_line(step.line, &mut transcript) {
                    LineResult::Continue(status) | LineResult::Exit(status) => status,
                };
                terminal.idle(BETWEEN_LINES_MS);
                let output = transcript.text();
                let held = status == step.status
                    && output.contains(step.output_has)
                    && (step.output_lacks.is_empty() || !output.contains(step.output_lacks));
                StepRun {
                    line: step.line,
                    output,
                    status,
                    held,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exercise_holds_on_the_simulated_host() {
        for lesson in Lesson::ALL {
            for run in lesson.exercise().run() {
                assert!(
                    run.held,
                    "{lesson:?}: `{}` gave status {}:\n{}",
                    run.line, run.status, run.output
                );
            }
        }
    }

    #[test]
    fn a_step_that_does_not_give_what_it_expects_does_not_hold() {
        let exercise = Exercise {
            title: "wrong on purpose",
            steps: &[
                step!("anchorage run --rm workshop cat /etc/nothing", 0, ""),
                step!("echo hello", 0, "goodbye"),
                Step {
                    line: "ip addr",
                    status: 0,
                    output_has: "lo",
                    output_lacks: "eth0",
                },
                step!("echo fine", 0, "fine"),
            ],
            shows: "",
        };
        let held: Vec<bool> = exercise.run().iter().map(|r| r.held).collect();
        assert_eq!(held, [false, false, false, true]);
    }

    #[test]
    fn lessons_come_in_the_talks_order_and_end_with_the_decision() {
        assert_eq!(Lesson::Strengths.next(), Some(Lesson::Weaknesses));
        assert_eq!(Lesson::Headcount.next(), Some(Lesson::Decision));
        assert_eq!(Lesson::Decision.next(), None);
        for lesson in Lesson::ALL {
            assert_eq!(Lesson::from_slug(lesson.slug()), Some(lesson));
            assert!(!lesson.summary().is_empty());
        }
        assert!(Lesson::Decision.exercise().steps.is_empty());
        assert_eq!(Lesson::from_slug("nope"), None);
    }
}
