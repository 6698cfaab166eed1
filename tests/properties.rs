//! Properties, checked on generated inputs (proptest): what the allowlist
//! executes is exactly what it matched; a slot never accepts a value that
//! fails its own constraint; `path_under` and the transfer jail never
//! yield a path outside their root; frames round-trip; target ranges
//! expand to exactly their members; the server never sends more output
//! than the client granted, and nothing for an id after its `exit`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;

use secsh::policy::{Decision, NoSymlinks, Policy, Rule, Slot};
use secsh::proto::{Decoder, Frame, Message, Stream};
use secsh::session::{Action, AuthVerdict, ExecEvent, Grant, ServerSession, ServerSettings};

fn slots() -> BTreeMap<String, Slot> {
    let mut m = BTreeMap::new();
    m.insert("n".to_string(), Slot::int("n", -5, 500, false).unwrap());
    m.insert(
        "mode".to_string(),
        Slot::one_of("mode", vec!["start".into(), "stop".into()], false).unwrap(),
    );
    m.insert(
        "word".to_string(),
        Slot::regex("word", "[a-z]{1,5}", false).unwrap(),
    );
    m.insert(
        "rest".to_string(),
        Slot::regex("rest", "[a-z0-9-]*", true).unwrap(),
    );
    m
}

fn policy() -> Policy {
    let args: Vec<String> = ["-x", "{mode}", "{n}", "{word}", "{rest...}"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rule = Rule::new("prog", "/usr/bin/prog", &args, slots()).unwrap();
    let mut p = Policy::new(vec![rule]);
    p.grant("u", "prog").unwrap();
    p
}

fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-x".to_string()),
        Just("start".to_string()),
        Just("stop".to_string()),
        "-?[0-9]{1,4}",
        "[a-z]{0,6}",
        "[ -~]{0,8}",
        Just("--to-command=sh".to_string()),
    ]
}

/// Mostly what the template wants, sometimes anything: about a third of
/// the argvs are allowed, the rest miss by one element.
fn near_argv() -> impl Strategy<Value = Vec<String>> {
    fn or_any(s: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
        prop_oneof![4 => s, 1 => arg()].boxed()
    }
    (
        or_any(Just("-x".to_string())),
        or_any(prop_oneof![
            Just("start".to_string()),
            Just("stop".to_string())
        ]),
        or_any("[0-9]{1,3}".prop_map(String::from)),
        or_any("[a-z]{1,5}".prop_map(String::from)),
        proptest::collection::vec(or_any("[a-z0-9-]{0,4}".prop_map(String::from)), 0..3),
    )
        .prop_map(|(a, b, c, d, rest)| {
            let mut v = vec![a, b, c, d];
            v.extend(rest);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn an_allowed_argv_is_executed_exactly_as_matched(
        head in prop_oneof![Just("prog"), Just("/usr/bin/prog"), Just("/bin/prog"), Just("progx")],
        rest in prop_oneof![near_argv(), proptest::collection::vec(arg(), 0..8)],
    ) {
        let mut argv = vec![head.to_string()];
        argv.extend(rest);
        if let Decision::Allow { argv: exec, .. } = policy().check("u", &argv, &NoSymlinks) {
            prop_assert_eq!(&exec[0], "/usr/bin/prog");
            prop_assert!(head == "prog" || head == "/usr/bin/prog");
            prop_assert_eq!(&exec[1..], &argv[1..]);
        }
    }

    #[test]
    fn a_slot_never_accepts_a_value_failing_its_constraint(v in "[ -~]{0,12}") {
        let s = slots();
        if s["n"].check(&v, &NoSymlinks).is_ok() {
            let n: i64 = v.parse().unwrap();
            prop_assert!((-5..=500).contains(&n));
            prop_assert_eq!(n.to_string(), v.clone(), "canonical text");
            prop_assert!(!v.starts_with('-') , "no dash without allow_dash");
        }
        if s["mode"].check(&v, &NoSymlinks).is_ok() {
            prop_assert!(v == "start" || v == "stop");
        }
        if s["word"].check(&v, &NoSymlinks).is_ok() {
            prop_assert!((1..=5).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_lowercase()));
        }
    }

    #[test]
    fn path_under_never_yields_a_path_outside_its_root(
        parts in proptest::collection::vec(prop_oneof![
            Just(""), Just("."), Just(".."), Just("srv"), Just("logs"), Just("x"), Just("logs2")
        ], 0..6),
        absolute in any::<bool>(),
    ) {
        let root = "/srv/logs";
        let path = format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"));
        let slot = Slot::path_under("p", root, false).unwrap();
        if slot.check(&path, &NoSymlinks).is_ok() {
            let p = std::path::Path::new(&path);
            prop_assert!(p.starts_with(root), "{path}");
            prop_assert!(!path.split('/').any(|c| c == ".." || c == "."), "{path}");
        }
    }

    #[test]
    fn the_transfer_jail_never_places_a_path_outside_a_root(
        parts in proptest::collection::vec(prop_oneof![
            Just(""), Just("."), Just(".."), Just("srv"), Just("drop"), Just("dropx"), Just("f")
        ], 0..7),
        absolute in any::<bool>(),
    ) {
        let roots = vec![std::path::PathBuf::from("/srv/drop"), std::path::PathBuf::from("/srv/drop/f")];
        let path = format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"));
        if let Ok(l) = secsh::transfer::jail::locate(&roots, &path) {
            prop_assert!(roots.contains(&l.root));
            prop_assert!(l.rel.iter().all(|c| !c.is_empty() && c != "." && c != ".."));
            prop_assert!(l.shown().starts_with(&l.root));
        }
    }

    #[test]
    fn frames_round_trip(
        id in any::<u64>(),
        argv in proptest::collection::vec(".{0,20}", 1..5),
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        stderr in any::<bool>(),
    ) {
        let stream = if stderr { Stream::Stderr } else { Stream::Stdout };
        let msgs = [
            (Message::Exec { id, argv, stdin: false, timeout_ms: None, output_window: Some(1 + id % 1000) }, Vec::new()),
            (Message::Data { id, stream, len: body.len() as u32 }, body),
        ];
        let mut wire = Vec::new();
        for (m, b) in &msgs {
            secsh::proto::encode_header(m, &mut wire).unwrap();
            wire.extend_from_slice(b);
        }
        let mut buf = bytes::BytesMut::from(&wire[..]);
        let mut d = Decoder::new();
        for (m, b) in msgs {
            let Frame { message, body, .. } = d.decode(&mut buf).unwrap().unwrap();
            prop_assert_eq!(message, m);
            prop_assert_eq!(&body[..], &b[..]);
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn target_ranges_expand_to_exactly_their_members(a in 0u32..300, len in 0u32..50, pad in any::<bool>()) {
        let b = a + len;
        let (sa, sb) = if pad { (format!("{a:04}"), format!("{b:04}")) } else { (a.to_string(), b.to_string()) };
        let hosts = secsh::client::fleet::targets::expand(&format!("h[{sa}-{sb}].x")).unwrap();
        prop_assert_eq!(hosts.len() as u32, len + 1);
        for (i, h) in hosts.iter().enumerate() {
            let n = a + i as u32;
            let want = if pad && sa.len() > 1 { format!("h{n:04}.x") } else { format!("h{n}.x") };
            prop_assert_eq!(h, &want);
        }
    }

    #[test]
    fn the_server_never_exceeds_the_output_window_or_speaks_after_exit(
        window in 1u64..5000,
        steps in proptest::collection::vec((0u8..4, 1usize..3000), 1..40),
    ) {
        let t0 = Instant::now();
        let settings = ServerSettings {
            auth_deadline: t0 + Duration::from_secs(10),
            max_requests: 4,
            stdin_window: 1 << 16,
            stdin_budget: 1 << 20,
            idle_timeout: None,
            keepalive: None,
            auth_methods: vec![secsh::proto::AuthMethod::Key],
            max_auth_tries: 3,
            rtt_hint: None,
        };
        let mut s = ServerSession::new(settings, t0);
        let auth = Message::Auth { user: "u".into(), method: secsh::proto::AuthMethod::Key, signature: Some("s".into()), password: None, certificate: None };
        s.handle_frame(Frame::new(auth, Bytes::new()), t0);
        while s.poll_action().is_some() {}
        s.handle_auth_result("u", AuthVerdict::Ok(Grant { stdin_budget: 1 << 30 }), t0);
        let exec = Message::Exec { id: 1, argv: vec!["x".into()], stdin: false, timeout_ms: None, output_window: Some(window) };
        s.handle_frame(Frame::new(exec, Bytes::new()), t0);
        s.handle_exec_event(1, ExecEvent::Started { timeout: None, stdin_offset: None }, t0);
        let (mut granted, mut sent, mut exited, mut pending) = (window, 0u64, false, [false; 2]);
        let mut eofs = 0;
        for (kind, n) in steps {
            match kind {
                0 | 1 if eofs == 0 => {
                    let stream = if kind == 0 { Stream::Stdout } else { Stream::Stderr };
                    // The process layer sends one chunk per stream until taken.
                    if !pending[kind as usize] {
                        pending[kind as usize] = true;
                        s.handle_exec_event(1, ExecEvent::Output { stream, data: Bytes::from(vec![b'o'; n]) }, t0);
                    }
                }
                2 if !exited => {
                    let more = n as u64;
                    granted += more;
                    s.handle_frame(Frame::new(Message::Window { id: 1, bytes: more }, Bytes::new()), t0);
                }
                3 if eofs == 0 && !pending.iter().any(|p| *p) => {
                    s.handle_exec_event(1, ExecEvent::Eof { stream: Stream::Stdout }, t0);
                    s.handle_exec_event(1, ExecEvent::Eof { stream: Stream::Stderr }, t0);
                    s.handle_exec_event(1, ExecEvent::Exited(secsh::session::ExitStatus { code: Some(0), signal: None }), t0);
                    eofs = 2;
                }
                _ => {}
            }
            while let Some(a) = s.poll_action() {
                match a {
                    Action::Send(Message::Data { id: 1, len, .. }, _) => {
                        prop_assert!(!exited, "data after exit");
                        sent += len as u64;
                        prop_assert!(sent <= granted, "sent {} of {} granted", sent, granted);
                    }
                    Action::Send(Message::Exit { .. }, _) => {
                        prop_assert!(!exited, "two exits");
                        exited = true;
                    }
                    Action::Send(Message::Eof { .. }, _) => prop_assert!(!exited, "eof after exit"),
                    Action::OutputTaken { stream, .. } => pending[usize::from(stream == Stream::Stderr)] = false,
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn the_generated_policy_allows_what_near_argv_mostly_generates() {
    let argv: Vec<String> = ["prog", "-x", "start", "5", "ab", "c-1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let Decision::Allow { argv: exec, rule } = policy().check("u", &argv, &NoSymlinks) else {
        panic!("denied");
    };
    assert_eq!((rule.as_str(), exec[0].as_str()), ("prog", "/usr/bin/prog"));
    let dashed: Vec<String> = ["prog", "-x", "start", "-5", "ab"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(matches!(
        policy().check("u", &dashed, &NoSymlinks),
        Decision::Deny { .. }
    ));
}
