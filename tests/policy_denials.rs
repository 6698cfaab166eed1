//! Denied argv over the real daemon: exit 253 and nothing runs. Each denied
//! form would create a marker file if it ran; a positive control shows the
//! marker does appear when the rule really matches.

mod common;

use common::{run, Env};

fn assert_denied(env: &Env, d: &common::Daemon, argv: &[&str]) {
    let (code, out, err) = run(env.secsh(d, "alice").arg("--").args(argv));
    assert_eq!(
        code,
        Some(253),
        "{argv:?}: {}",
        String::from_utf8_lossy(&err)
    );
    assert!(out.is_empty());
    let marker = env.jail().join("marker");
    assert!(!marker.exists(), "{argv:?} ran: marker exists");
}

#[test]
fn denied_argv_forms_never_run() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let jail = env.jail();
    let script = format!("touch {}/marker", jail.display());
    let sh = |tail: &[&str]| -> Vec<String> {
        let mut v = vec!["/bin/sh".to_string(), "-c".to_string(), script.clone()];
        v.extend(tail.iter().map(|s| s.to_string()));
        v
    };
    let marker = jail.join("marker");
    let marker_s = marker.display().to_string();
    let cases: Vec<Vec<String>> = vec![
        vec!["touch".into(), marker_s.clone()], // unlisted program
        vec!["/usr/bin/touch".into(), marker_s.clone()], // unlisted, absolute
        sh(&["abc", "extra"]),                  // extra argument
        sh(&[]),                                // missing argument
        sh(&["abc def"]),                       // embedded space
        sh(&["abc\tdef"]),                      // embedded tab
        sh(&["abc\ndef"]),                      // embedded newline
        sh(&["-abc"]),                          // leading dash into a slot
        vec!["sh".into(), "-c".into(), format!("{script} "), "abc".into()], // altered literal
        vec!["/tmp/sh".into(), "-c".into(), script.clone(), "abc".into()], // other program path
    ];
    for argv in &cases {
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        assert_denied(&env, &d, &refs);
    }
    // bob may only run `true`.
    let (code, _, _) = run(env.secsh(&d, "bob").arg("--").args(sh(&["abc"])));
    assert_eq!(code, Some(253));
    assert!(!marker.exists());
    // Positive control: the exact allowed form does run.
    let (code, _, err) = run(env.secsh(&d, "alice").arg("--").args(sh(&["abc"])));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert!(
        marker.exists(),
        "the allowed form should have created the marker"
    );
}

#[test]
fn path_under_rejects_dotdot_and_symlink_escapes() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let jail = env.jail();
    let logs = jail.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::os::unix::fs::symlink("/etc", logs.join("evil")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", logs.join("dangling")).unwrap();
    let script = format!("touch {}/marker", jail.display());
    let argv = |p: String| vec!["/bin/sh".to_string(), "-c".to_string(), script.clone(), p];
    let logs_s = logs.display().to_string();
    for p in [
        format!("{logs_s}/../marker"),
        format!("{logs_s}/../../../etc/passwd"),
        format!("{logs_s}/./x"),
        format!("{logs_s}//x"),
        format!("{logs_s}/evil/passwd"),
        format!("{logs_s}/evil"),
        format!("{logs_s}/dangling"),
        format!("{logs_s}x/y"),
        "relative/path".to_string(),
    ] {
        let a = argv(p);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        assert_denied(&env, &d, &refs);
    }
    let a = argv(format!("{logs_s}/app.log"));
    let (code, _, _) = run(env.secsh(&d, "alice").arg("--").args(&a));
    assert_eq!(code, Some(0));
    assert!(jail.join("marker").exists());
}

#[test]
fn cat_file_slot_cannot_read_outside_jail() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    std::os::unix::fs::symlink("/etc/passwd", env.jail().join("pw")).unwrap();
    let (code, out, _) = run(env
        .secsh(&d, "alice")
        .args(["--", "cat"])
        .arg(env.jail().join("pw")));
    assert_eq!(code, Some(253));
    assert!(out.is_empty());
    let (code, _, _) = run(env.secsh(&d, "alice").args(["--", "cat", "/etc/passwd"]));
    assert_eq!(code, Some(253));
}

#[test]
fn denial_is_logged_with_reasons_but_not_sent() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (code, _, err) = run(env.secsh(&d, "alice").args(["--", "head", "-n", "0"]));
    assert_eq!(code, Some(253));
    let err = String::from_utf8_lossy(&err);
    assert!(err.contains("denied"), "{err}");
    assert!(
        !err.contains("outside"),
        "server reasons leaked to the client: {err}"
    );
    assert!(common::wait_until(
        std::time::Duration::from_secs(5),
        || d.log().contains("outside 1..=100000")
    ));
}
