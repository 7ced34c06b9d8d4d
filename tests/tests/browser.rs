//! The web UI end to end, in headless Chromium: served live by
//! `anchorage serve`, and exported as a static site opened from disk.

use anchorage_tests::{Browser, Server, anchorage_bin};
use anyhow::{Context, Result, ensure};
use fantoccini::Locator;

/// Runs a container from the page's form and returns its card's text.
async fn run_from_the_form(browser: &Browser, name: &str) -> Result<String> {
    let field = browser.wait_for("#run-form input[name=name]").await?;
    field.clear().await?;
    field.send_keys(name).await?;
    browser
        .client
        .find(Locator::Css("#run"))
        .await?
        .click()
        .await?;
    // The card is drawn once the container's processes are listed.
    let card = format!("article.container[data-name={name}][data-state=running]");
    browser.wait_for(&format!("{card} tr.proc")).await?;
    // Wait until the shell has forked both of its children.
    for _ in 0..100 {
        let rows = browser
            .client
            .find_all(Locator::Css(&format!("{card} tr.proc")))
            .await?;
        if rows.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(browser
        .client
        .find(Locator::Css(&card))
        .await?
        .text()
        .await?)
}

/// Types a line at the page's terminal and waits until its screen shows
/// `expect`; returns the screen's text.
async fn type_line(browser: &Browser, line: &str, expect: &str) -> Result<String> {
    let input = browser.wait_for("#terminal-input").await?;
    // U+E007 is WebDriver's Enter key: it submits the prompt.
    input.send_keys(&format!("{line}\u{E007}")).await?;
    let mut screen = String::new();
    for _ in 0..100 {
        screen = browser.wait_for("#terminal .screen").await?.text().await?;
        if screen.contains(expect) {
            return Ok(screen);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("the terminal never showed {expect:?}:\n{screen}")
}

/// What every drawn container must show: its image, PID 1 inside with
/// another pid outside, its own namespaces, and its cgroup.
fn assert_card_shows_the_container(text: &str) -> Result<()> {
    for expected in [
        "Processes",
        "PID inside",
        "sh -c sleep 600 & sleep 600",
        "Tarball",
        "workshop",
        "writable upper layer",
        "Namespaces",
        "pid",
        "shared with host", // the time namespace
        "Cgroup",
        "/anchorage/",
        "memory.current / memory.max",
        "pids.current / pids.max",
        // No pids limit asked for: the default one. `sh -c` ran its last
        // command in place: two sleeps.
        "2 / 1024",
    ] {
        // Headings are upper-cased by the style sheet; compare case-blind.
        ensure!(
            text.to_lowercase().contains(&expected.to_lowercase()),
            "the card lacks {expected:?}:\n{text}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_served_page_draws_a_live_container_and_falls_back_when_the_server_goes() {
    let server = Server::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    let result = async {
        browser.client.goto(&server.url()).await?;
        let mode = browser.wait_for("#mode[data-mode=live]").await?;
        ensure!(mode.text().await?.contains("Live"));
        let engine = browser.wait_for("#engine-kind").await?.text().await?;
        ensure!(engine == "simulated kernel", "engine shown as {engine:?}");

        let text = run_from_the_form(&browser, "web").await?;
        assert_card_shows_the_container(&text)?;
        // PID 1 inside is a larger pid on the host.
        let inner = browser
            .client
            .find(Locator::Css(
                "article.container[data-name=web] tr.proc td.inner-pid",
            ))
            .await?
            .text()
            .await?;
        let host = browser
            .client
            .find(Locator::Css(
                "article.container[data-name=web] tr.proc td.host-pid",
            ))
            .await?
            .text()
            .await?;
        ensure!(inner == "1", "first process is pid {inner} inside");
        ensure!(host.parse::<u32>()? > 1, "host pid {host}");
        let log = browser.wait_for("#log").await?.text().await?;
        ensure!(log.contains("container web"), "events: {log}");
        Ok(())
    }
    .await;

    // The container lives on the server, not in the page.
    let server_has_it = async {
        let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url()).await?;
        use futures_util::StreamExt;
        let mut seen = false;
        for _ in 0..2 {
            if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) =
                socket.next().await
            {
                seen |= text.contains("\"name\":\"web\"");
            }
        }
        anyhow::Ok(seen)
    }
    .await;

    let addr = server.addr;
    let fallback = async {
        server.stop().await?;
        let mode = browser.wait_for("#mode[data-mode=simulated]").await?;
        let text = mode.text().await?;
        ensure!(text.contains("Simulation"), "mode shows {text:?}");
        ensure!(text.contains("server went away"), "mode shows {text:?}");
        // The simulation runs in the page meanwhile.
        run_from_the_form(&browser, "meanwhile").await?;

        // Back on the same address, the page reconnects on request.
        let again = Server::start_at(&addr.to_string()).await?;
        browser.wait_for("#mode button").await?.click().await?;
        browser.wait_for("#mode[data-mode=live]").await?;
        // The server's host replaces the page's simulated one.
        let mut replaced = false;
        for _ in 0..50 {
            let cards = browser
                .client
                .find_all(Locator::Css("article.container[data-name=meanwhile]"))
                .await?;
            if cards.is_empty() {
                replaced = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        ensure!(replaced, "the page still shows its simulated container");
        again.stop().await?;
        Ok(())
    }
    .await;
    browser.close().await.unwrap();
    result.unwrap();
    assert!(
        server_has_it.unwrap(),
        "the server's snapshot has the container"
    );
    fallback.unwrap();
}

#[tokio::test]
async fn the_exported_site_runs_the_simulation_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let status = std::process::Command::new(anchorage_bin())
        .arg("export-site")
        .arg(&site)
        .status()
        .unwrap();
    assert!(status.success());
    let browser = Browser::start().await.unwrap();
    let result = async {
        let url = format!("file://{}", site.join("index.html").display());
        browser.client.goto(&url).await?;
        let mode = browser.wait_for("#mode[data-mode=simulated]").await?;
        let text = mode.text().await.context("mode text")?;
        ensure!(text.contains("Simulation"), "mode shows {text:?}");
        ensure!(text.contains("static site"), "mode shows {text:?}");
        let card = run_from_the_form(&browser, "offline").await?;
        assert_card_shows_the_container(&card)?;

        // The terminal on the simulated host takes the same command lines
        // as `anchorage sim`.
        let screen = type_line(
            &browser,
            "anchorage run --name hog --memory 64m workshop memhog 100m; echo exit=$?",
            "exit=",
        )
        .await?;
        ensure!(
            screen.contains("exit=137"),
            "the hog was not OOM-killed:\n{screen}"
        );
        browser
            .wait_for("article.container[data-name=hog][data-state=exited]")
            .await?;
        let log = browser.wait_for("#log").await?.text().await?;
        ensure!(
            log.contains("OOM killer killed"),
            "the log lacks the OOM kill:\n{log}"
        );
        let screen = type_line(
            &browser,
            "anchorage exec offline cat /proc/self/cgroup",
            "0::/",
        )
        .await?;
        ensure!(screen.contains("0::/"), "{screen}");
        // The host's terminal is the full shell: pipes, loops, variables.
        let screen = type_line(
            &browser,
            "n=$(anchorage ps -a | grep -c workshop); for i in 1 2; do echo \"loop $i of $n\"; done | tail -n 1",
            "loop 2 of 2",
        )
        .await?;
        ensure!(screen.contains("loop 2 of 2"), "{screen}");
        if let Some(dir) = std::env::var_os("ANCHORAGE_SCREENSHOTS") {
            let png = browser.client.screenshot().await?;
            std::fs::write(std::path::Path::new(&dir).join("terminal.png"), png)?;
        }

        // A learner picks their own host's cgroup layout: a fresh host
        // boots with it, and containers see v1 hierarchies.
        browser
            .wait_for("#cgroup-choice")
            .await?
            .select_by_value("hybrid")
            .await?;
        let log = browser.wait_for("#log").await?;
        let mut fresh = false;
        for _ in 0..50 {
            if log.text().await?.contains("a fresh simulated host") {
                fresh = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        ensure!(fresh, "no fresh host after choosing hybrid");
        ensure!(
            browser.client.find_all(Locator::Css("article.container")).await?.is_empty(),
            "the fresh host still shows the old containers"
        );
        let screen = type_line(
            &browser,
            "anchorage run --rm --memory 64m workshop sh -c 'ls /sys/fs/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes'",
            "67108864",
        )
        .await?;
        for name in ["cpu,cpuacct", "memory", "pids", "unified", "67108864"] {
            ensure!(screen.contains(name), "no {name} in a hybrid host's container:\n{screen}");
        }
        if let Some(dir) = std::env::var_os("ANCHORAGE_SCREENSHOTS") {
            let png = browser.client.screenshot().await?;
            std::fs::write(std::path::Path::new(&dir).join("hybrid.png"), png)?;
        }
        Ok(())
    }
    .await;
    browser.close().await.unwrap();
    result.unwrap();
}

/// Waits until the page's terminal screen shows `expect`; returns its text.
async fn screen_shows(browser: &Browser, expect: &str) -> Result<String> {
    let mut text = String::new();
    for _ in 0..150 {
        text = browser
            .wait_for("section.pty .screen")
            .await?
            .text()
            .await?;
        if text.contains(expect) {
            return Ok(text);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("the terminal never showed {expect:?}:\n{text}")
}

#[tokio::test]
async fn as_root_the_page_opens_a_terminal_into_a_real_container() {
    if !anchorage_tests::runnable(&[anchorage_tests::Need::Root]) {
        return;
    }
    let data = anchorage_tests::DataDir::new().unwrap();
    let server = Server::start_with_env(
        &["--listen", "127.0.0.1:0", "--engine", "real"],
        &[("ANCHORAGE_DATA_DIR", data.path())],
    )
    .await
    .unwrap();
    let browser = Browser::start().await.unwrap();
    let result = async {
        browser.client.goto(&server.url()).await?;
        browser.wait_for("#mode[data-mode=live]").await?;
        let engine = browser.wait_for("#engine-kind").await?.text().await?;
        ensure!(engine == "real Linux kernel", "engine shown as {engine:?}");
        // The rest of the host, read-only, beside this engine's containers.
        let rest = browser.wait_for("#host-rest").await?.text().await?;
        ensure!(rest.contains("The rest of this host"), "{rest}");
        ensure!(rest.contains("processes in"), "{rest}");
        run_from_the_form(&browser, "shell").await?;
        browser
            .wait_for("article.container[data-name=shell] button.open-terminal")
            .await?
            .click()
            .await?;
        let screen = browser.wait_for("section.pty .screen").await?;
        screen_shows(&browser, "/ #").await?;
        screen.click().await?;
        // Keys typed on the page reach the container's shell.
        screen.send_keys("echo hello from page\u{E007}").await?;
        let text = screen_shows(&browser, "from page\n/ #").await?;
        ensure!(text.contains("/ # echo"), "{text}");
        // Ctrl-C (WebDriver's Control key, then c) interrupts a command.
        screen.send_keys("sleep 300\u{E007}").await?;
        screen_shows(&browser, "sleep 300").await?;
        screen.send_keys("\u{E009}c\u{E009}").await?;
        screen.send_keys("echo back\u{E007}").await?;
        screen_shows(&browser, "back\n/ #").await?;
        // A resize reaches the terminal's programs.
        browser
            .client
            .find(Locator::Css("section.pty select"))
            .await?
            .select_by_index(2)
            .await?;
        screen.click().await?;
        screen.send_keys("stty size\u{E007}").await?;
        screen_shows(&browser, "43 132").await?;
        // Leaving the shell ends the terminal.
        screen.send_keys("exit\u{E007}").await?;
        let ended = browser
            .wait_for("section.pty p.ended")
            .await?
            .text()
            .await?;
        ensure!(ended.contains("exited with code 0"), "{ended}");

        // An image imported from the page: a busybox root file system.
        let work = tempfile::tempdir()?;
        let root = work.path().join("root");
        std::fs::create_dir_all(root.join("bin"))?;
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))?;
        let tarball = work.path().join("busybox-root.tar");
        let tar = std::process::Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tarball)
            .arg(".")
            .status()?;
        ensure!(tar.success());
        browser
            .wait_for("#upload-form input[type=file]")
            .await?
            .send_keys(tarball.to_str().unwrap())
            .await?;
        browser
            .wait_for("#upload-form input[name=name]")
            .await?
            .send_keys("bb:page")
            .await?;
        browser.wait_for("#upload").await?.click().await?;
        let mut log = String::new();
        for _ in 0..150 {
            log = browser.wait_for("#log").await?.text().await?;
            if log.contains("image bb:page imported") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        ensure!(log.contains("image bb:page imported"), "{log}");
        Ok(())
    }
    .await;
    browser.finish(server, result).await;
}

#[tokio::test]
async fn the_lessons_lead_to_the_assessment_which_takes_answers_from_its_link() {
    let server = Server::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    let result = async {
        browser.client.goto(&server.url()).await?;
        browser.wait_for("#mode[data-mode=live]").await?;
        // From the front page.
        browser.wait_for("#nav-assess").await?.click().await?;
        browser.wait_for("#verdict[data-verdict=not-yet]").await?;

        // From the last lesson, after the others: each one's exercise runs
        // on a simulated host in the page and holds.
        browser.wait_for("#nav-lessons").await?.click().await?;
        for slug in ["strengths", "weaknesses", "friends", "headcount"] {
            browser
                .wait_for(&format!("#lesson[data-lesson={slug}]"))
                .await?;
            browser.wait_for("#run-exercise").await?.click().await?;
            let result = browser.wait_for("#exercise-result").await?;
            ensure!(
                result.attr("data-result").await?.as_deref() == Some("held"),
                "the {slug} exercise did not hold: {}",
                browser.body_text().await?
            );
            browser.wait_for("#next-lesson").await?.click().await?;
        }
        browser.wait_for("#lesson[data-lesson=decision]").await?;
        let last = browser.wait_for("#lesson").await?.text().await?;
        ensure!(last.contains("blog post"), "{last}");
        browser.wait_for("#take-assessment").await?.click().await?;
        browser.wait_for("#verdict[data-verdict=not-yet]").await?;
        // A lesson that does not exist says so and shows the first.
        browser
            .client
            .goto(&format!("{}#lessons/kubernetes", server.url()))
            .await?;
        browser.wait_for("#lesson[data-lesson=strengths]").await?;
        let error = browser.wait_for(".error").await?.text().await?;
        ensure!(error.contains("kubernetes"), "{error}");

        // A link that carries a team's answers.
        let answers = "stateless=most&stateful=keep-out&platform=large&build=in-place&orchestration=planned&clusters=planned&networking=planned&deployment=in-place&monitoring=in-place&provisioning=planned&debugging=planned&people=6&skills=operations,deployments,tooling,monitoring,kernel,networking,security,adoption,project-management&budget=yes&mandate=yes&support=yes&motivation=real-need&rollout=gradual&end-state=hybrid";
        browser
            .client
            .goto(&format!("{}#assess?{answers}", server.url()))
            .await?;
        let verdict = browser.wait_for("#verdict[data-verdict=go]").await?;
        ensure!(verdict.text().await?.contains("go"));
        let report = browser.wait_for("#report").await?.text().await?;
        ensure!(report.contains("ready with conditions"), "{report}");
        ensure!(report.contains("Lesson 4: containers need headcount"), "{report}");

        // Changing an answer changes the verdict and the link.
        browser
            .client
            .find(Locator::Css("#motivation"))
            .await?
            .select_by_value("would-be-rad")
            .await?;
        browser.wait_for("#verdict[data-verdict=blog-post]").await?;
        let link = browser
            .wait_for("#share-link")
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        ensure!(link.contains("motivation=would-be-rad"), "{link}");
        ensure!(link.contains("#assess?stateless=most"), "{link}");
        ensure!(!link.contains("token"), "the link hands out the token: {link}");
        // To the host and back: the answers are still there.
        browser.wait_for("#nav-host").await?.click().await?;
        browser.wait_for("#engine-kind").await?;
        browser.wait_for("#nav-assess").await?.click().await?;
        browser.wait_for("#verdict[data-verdict=blog-post]").await?;
        // A hand-edited link keeps what it can and says what it could not.
        browser
            .client
            .goto(&format!("{}#assess?stateless=MOST&people=lots", server.url()))
            .await?;
        browser.wait_for("#verdict[data-verdict=not-yet]").await?;
        let error = browser.wait_for(".error").await?.text().await?;
        ensure!(error.contains("lots"), "{error}");
        let stateless = browser
            .wait_for("#stateless")
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        ensure!(stateless == "most", "{stateless}");
        Ok(())
    }
    .await;
    browser.finish(server, result).await;
}
