//! `anchorage export-site` as a user meets it.

use anchorage_tests::anchorage_bin;
use std::process::Command;

#[test]
fn export_writes_a_site_and_refuses_to_overwrite_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let out = Command::new(anchorage_bin())
        .arg("export-site")
        .arg(&site)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "index.html",
        "anchorage_web.js",
        "anchorage_web_bg.wasm",
        "anchorage_web_wasm.js",
        "boot.js",
        "style.css",
        "icon.svg",
    ] {
        assert!(site.join(file).is_file(), "{file} missing");
    }
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(index.contains(r#"content="static""#));
    assert!(index.contains(r#"<script src="anchorage_web_wasm.js"></script>"#));

    // Exporting again over an earlier export is fine.
    let again = Command::new(anchorage_bin())
        .arg("export-site")
        .arg(&site)
        .output()
        .unwrap();
    assert!(again.status.success());

    // A folder with someone's files is refused, and left untouched.
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("notes.txt"), "keep me").unwrap();
    let refused = Command::new(anchorage_bin())
        .arg("export-site")
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("notes.txt"), "{stderr}");
    assert!(stderr.contains("new or empty folder"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&theirs).unwrap().collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn help_documents_every_subcommand() {
    let out = Command::new(anchorage_bin())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["serve", "export-site"] {
        assert!(help.contains(sub), "{help}");
        let sub_help = Command::new(anchorage_bin())
            .args([sub, "--help"])
            .output()
            .unwrap();
        assert!(sub_help.status.success());
        assert!(String::from_utf8_lossy(&sub_help.stdout).contains("Usage: anchorage"));
    }
    let bad = Command::new(anchorage_bin())
        .args(["serve", "--listen", "nowhere"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nowhere"));
}
