use super::*;

#[test]
fn lines_are_json_with_time_and_event_first() {
    let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_717_805_042);
    let l = line(
        t,
        &Event::ConnectionAccepted {
            conn: 7,
            peer: "192.0.2.1:5000".into(),
        },
    );
    assert_eq!(
        l,
        "{\"time\":\"2026-11-26T18:30:05.042Z\",\"event\":\"connection_accepted\",\"conn\":7,\"peer\":\"192.0.2.1:5000\"}\n"
    );
}

#[test]
fn denied_argv_is_bounded() {
    let (argv, cut) = bounded_argv(&["ls".into(), "-l".into()]);
    assert_eq!((argv.len(), cut), (2, false));
    let big = vec!["a".repeat(3000), "é".repeat(1000), "z".into()];
    let (argv, cut) = bounded_argv(&big);
    assert!(cut);
    assert_eq!(argv.len(), 2);
    assert!(argv.iter().map(String::len).sum::<usize>() <= DENIED_ARGV_BYTES);
}

#[test]
fn file_sink_appends_reopens_and_reports_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let config = AuditConfig {
        sink: Sink::File(path.clone()),
        on_failure: OnFailure::Deny,
        output_hashes: true,
    };
    let a = Auditor::start(&config);
    let ev = |conn| Event::ConnectionAccepted {
        conn,
        peer: "p".into(),
    };
    a.record(ev(1));
    // logrotate: move the file away, reopen, keep writing.
    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();
    a.reopen(&config);
    a.record(ev(2));
    // A sink that cannot be opened: deny mode refuses.
    a.reopen(&AuditConfig {
        sink: Sink::File(dir.path().join("missing/dir/audit")),
        on_failure: OnFailure::Deny,
        output_hashes: true,
    });
    a.record(ev(3));
    a.close();
    assert!(!a.accepting());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("\"conn\":1"));
    let now = std::fs::read_to_string(&path).unwrap();
    assert!(now.contains("\"conn\":2") && !now.contains("\"conn\":1"));
}
