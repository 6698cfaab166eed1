//! Both connection state machines, driven by fuzzer-chosen sequences of
//! peer frames, process events, verdicts and clock steps. The process
//! layer is modelled as the real one behaves (one output chunk in flight
//! per stream, `Exited` after both `Eof`s, stdin written only after it was
//! handed over); the peer is arbitrary. Invariants checked on every frame
//! the engine emits live in `server_check` and `client_check`.

mod client_check;
mod procs;
mod server_check;

use std::time::{Duration, Instant};

use arbitrary::{Result, Unstructured};
use bytes::Bytes;
use secsh::proto::{AuthMethod, Secret};
use secsh::session::{
    AuthProof, AuthVerdict, ClientSession, ClientSettings, ExecParams, GetParams, Grant, PutSpec,
    ServerSession, ServerSettings,
};

use super::draw;

/// Steps per input: enough for several request lifecycles.
const MAX_STEPS: usize = 400;

/// `SECSH_FUZZ_TRACE=1`: print every step and action (to read a crash).
fn trace() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SECSH_FUZZ_TRACE").is_some())
}

/// The server engine against an arbitrary client and a faithful process
/// layer.
pub fn server_session(data: &[u8]) {
    let _ = drive_server(&mut Unstructured::new(data));
}

fn drive_server(u: &mut Unstructured) -> Result<()> {
    let t0 = Instant::now();
    let settings = ServerSettings {
        auth_deadline: t0 + Duration::from_secs(10),
        max_requests: u.int_in_range(1..=4)?,
        stdin_window: *u.choose(&[8, 1024, 1 << 20])?,
        stdin_budget: *u.choose(&[100, 1 << 16, 1 << 30])?,
        idle_timeout: Some(Duration::from_secs(300)),
        keepalive: Some(Duration::from_secs(15)),
        auth_methods: vec![AuthMethod::Key, AuthMethod::Password],
        max_auth_tries: 3,
        rtt_hint: None,
    };
    let mut s = ServerSession::new(settings, t0);
    let mut check = server_check::Check::default();
    let mut procs = procs::Procs::default();
    let mut now = t0;
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0u8..=11)? {
            0..=4 => {
                let frame = draw::frame(u)?;
                if trace() {
                    eprintln!("client: {:?}", frame.message);
                }
                check.client_sent(&frame.message);
                s.handle_frame(frame, now);
            }
            5..=8 => {
                if let Some((id, event)) = procs.event(u)? {
                    if trace() {
                        eprintln!("process {id}: {event:?}");
                    }
                    s.handle_exec_event(id, event, now);
                }
            }
            9 => {
                if check.verifying() {
                    let verdict = match u.int_in_range(0u8..=2)? {
                        0 => AuthVerdict::Ok(Grant {
                            stdin_budget: draw::size(u)?,
                        }),
                        1 => AuthVerdict::Failed,
                        _ => AuthVerdict::Partial {
                            method: AuthMethod::Key,
                            remaining: vec![AuthMethod::Password],
                        },
                    };
                    s.handle_auth_result("alice", verdict, now);
                }
            }
            10 => {
                now += Duration::from_millis(draw::size(u)? % 400_000);
                s.handle_timeout(now);
            }
            _ => match u.int_in_range(0u8..=3)? {
                0 => s.handle_peer_closed(),
                1 => s.shutdown(),
                2 => s.reject_busy("busy"),
                _ => s.handle_listed(draw::id(u)?, Vec::new()),
            },
        }
        while let Some(action) = s.poll_action() {
            if trace() {
                eprintln!("  server: {action:?}");
            }
            check.action(&action);
            procs.action(&action);
        }
        assert!(
            s.poll_timeout().is_some() || s.is_closed(),
            "an open connection always has a deadline"
        );
    }
    Ok(())
}

/// The client engine against an arbitrary server and a faithful
/// application.
pub fn client_session(data: &[u8]) {
    let _ = drive_client(&mut Unstructured::new(data));
}

fn drive_client(u: &mut Unstructured) -> Result<()> {
    let t0 = Instant::now();
    let settings = ClientSettings {
        auth_deadline: t0 + Duration::from_secs(10),
        keepalive: Some(Duration::from_secs(15)),
        output_budget: *u.choose(&[0, 1 << 26])?,
        rtt_hint: *u.choose(&[None, Some(Duration::from_millis(100))])?,
    };
    let proof = AuthProof::Key {
        signature: "sig".into(),
        certificate: None,
    };
    let mut c = ClientSession::new("alice".into(), proof, settings, t0);
    let mut check = client_check::Check::default();
    let mut now = t0;
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0u8..=11)? {
            0..=5 => {
                let frame = draw::frame(u)?;
                if trace() {
                    eprintln!("server: {:?}", frame.message);
                }
                check.server_sent(&frame.message);
                c.handle_frame(frame, now);
            }
            6 => {
                let params = ExecParams {
                    argv: vec!["/bin/true".into()],
                    stdin: u.arbitrary()?,
                    timeout_ms: None,
                    output_window: draw::size(u)?,
                };
                check.opened(c.exec(params, now));
            }
            7 => match u.int_in_range(0u8..=3)? {
                0 => check.opened(c.list()),
                1 => {
                    let spec = PutSpec {
                        path: "f".into(),
                        name: None,
                        size: draw::opt(u, draw::size)?,
                        mode: None,
                        resume: false,
                    };
                    check.opened(c.put(spec));
                }
                2 => {
                    let params = GetParams {
                        path: "f".into(),
                        resume_from: None,
                        output_window: draw::size(u)?,
                    };
                    check.opened(c.get(params, now));
                }
                _ => {
                    let id = draw::id(u)?;
                    let _ = c.finish_put(id, draw::size(u)?, "00".into());
                }
            },
            8 => {
                let id = draw::id(u)?;
                match u.int_in_range(0u8..=3)? {
                    0 => c.cancel(id),
                    1 => c.consumed(id, draw::size(u)?, now),
                    2 => {
                        let n = usize::from(u.int_in_range(0u16..=2000)?);
                        let _ = c.push_stdin(id, Bytes::from(vec![7; n]));
                    }
                    _ => {
                        let _ = c.close_stdin(id);
                    }
                }
            }
            9 => {
                now += Duration::from_millis(draw::size(u)? % 400_000);
                c.handle_timeout(now);
            }
            10 => {
                if check.continuing() {
                    if u.arbitrary()? {
                        let proof = AuthProof::Password {
                            password: Secret::new("pw".into()),
                        };
                        c.retry_auth(proof, now + Duration::from_secs(10));
                    } else {
                        c.give_up_auth();
                    }
                }
            }
            _ => match u.int_in_range(0u8..=1)? {
                0 => c.handle_peer_closed(),
                _ => c.handle_read_error("reset".into()),
            },
        }
        while let Some(action) = c.poll_action() {
            if trace() {
                eprintln!("  client: {action:?}");
            }
            check.action(&action, &mut c, now);
        }
    }
    Ok(())
}
