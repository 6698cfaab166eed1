//! Hostile clients: oversized lengths, non-JSON headers, unknown types,
//! messages out of order and stdin past the window each get a precise
//! error frame and a closed connection, while a concurrent session is
//! undisturbed.

mod common;

use std::process::Stdio;

use common::raw::Raw;
use common::Env;
use secsh::proto::{ErrorCode, Message, Stream};

async fn authed(env: &Env, d: &common::Daemon) -> Raw {
    Raw::signed_in(d.addr, &env.ca(), "alice", 1).await
}

async fn expect_error(c: &mut Raw, want: ErrorCode) -> String {
    loop {
        match c.next().await.map(|f| f.message) {
            Some(Message::Error {
                id: None,
                code,
                message,
                ..
            }) => {
                assert_eq!(code, want, "{message}");
                assert!(
                    c.next().await.is_none(),
                    "connection should close after a fatal error"
                );
                return message;
            }
            Some(Message::Window { .. } | Message::Started { .. }) => continue,
            other => panic!("expected error {want:?}, got {other:?}"),
        }
    }
}

fn frame(header: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(header);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_errors_and_others_keep_working() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let bystander = env
        .secsh(&d, "alice")
        .args(["-n", "--", "/bin/sh", "-c", "sleep 1; echo done"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    let mut c = authed(&env, &d).await;
    c.send_raw(&u32::MAX.to_be_bytes()).await;
    let msg = expect_error(&mut c, ErrorCode::TooLarge).await;
    assert!(msg.contains("header length"), "{msg}");

    let mut c = authed(&env, &d).await;
    c.send_raw(&frame(b"this is not json")).await;
    expect_error(&mut c, ErrorCode::Protocol).await;

    let mut c = authed(&env, &d).await;
    c.send_raw(&frame(br#"{"type":"launch_missiles"}"#)).await;
    expect_error(&mut c, ErrorCode::UnknownType).await;

    let mut c = authed(&env, &d).await;
    c.send_raw(&frame(
        br#"{"type":"data","id":1,"stream":"stdin","len":99999999}"#,
    ))
    .await;
    expect_error(&mut c, ErrorCode::TooLarge).await;

    let mut c = authed(&env, &d).await;
    c.send(Message::Exit {
        id: 1,
        code: Some(0),
        signal: None,
        timed_out: false,
        duration_ms: 0,
    })
    .await;
    expect_error(&mut c, ErrorCode::UnexpectedMessage).await;

    // Before authentication.
    let mut c = Raw::connect(d.addr, &env.ca()).await;
    c.send_raw(&(70_000u32).to_be_bytes()).await;
    expect_error(&mut c, ErrorCode::TooLarge).await;
    let mut c = Raw::connect(d.addr, &env.ca()).await;
    c.send(Message::Exec {
        id: 1,
        argv: vec!["true".into()],
        stdin: false,
        timeout_ms: None,
        output_window: None,
    })
    .await;
    expect_error(&mut c, ErrorCode::UnexpectedMessage).await;

    let out = bystander.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"done\n");
    let (code, _, _) = common::run(env.secsh(&d, "alice").args(["--", "true"]));
    assert_eq!(code, Some(0), "server stopped serving after hostile input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_past_the_window_is_refused() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let mut c = authed(&env, &d).await;
    // `sleep` never reads stdin, so no credit comes back.
    c.send(Message::Exec {
        id: 1,
        argv: vec!["sleep".into(), "30".into()],
        stdin: true,
        timeout_ms: None,
        output_window: None,
    })
    .await;
    let window = match c.next().await.map(|f| f.message) {
        Some(Message::Started { stdin_window, .. }) => stdin_window,
        other => panic!("{other:?}"),
    };
    // The window, plus what the child's pipe (at most 1 MiB) absorbs and
    // credits back, plus more: this must overrun. Writes may fail once the
    // server has given up on us.
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..(window >> 20) + 3 {
        if c.writer.send_data(1, Stream::Stdin, &chunk).await.is_err() {
            break;
        }
    }
    let _ = c.writer.flush().await;
    let msg = expect_error(&mut c, ErrorCode::Protocol).await;
    assert!(msg.contains("window"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_on_a_request_without_stdin_is_refused() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let mut c = authed(&env, &d).await;
    c.send(Message::Exec {
        id: 4,
        argv: vec!["sleep".into(), "5".into()],
        stdin: false,
        timeout_ms: None,
        output_window: None,
    })
    .await;
    assert!(matches!(
        c.next().await.map(|f| f.message),
        Some(Message::Started {
            id: 4,
            stdin_window: 0,
            stdin_offset: None,
        })
    ));
    c.writer.send_data(4, Stream::Stdin, b"x").await.unwrap();
    c.writer.flush().await.unwrap();
    expect_error(&mut c, ErrorCode::Protocol).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_request_id_is_rejected_per_request() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let mut c = authed(&env, &d).await;
    let exec = Message::Exec {
        id: 9,
        argv: vec!["sleep".into(), "1".into()],
        stdin: false,
        timeout_ms: None,
        output_window: None,
    };
    c.send(exec.clone()).await;
    c.send(exec).await;
    let mut saw_bad = false;
    let mut saw_exit = false;
    while !(saw_bad && saw_exit) {
        match c.next().await.map(|f| f.message) {
            Some(Message::Error {
                id: Some(9),
                code: ErrorCode::BadRequest,
                ..
            }) => saw_bad = true,
            Some(Message::Exit {
                id: 9,
                code: Some(0),
                ..
            }) => saw_exit = true,
            Some(_) => {}
            None => panic!("connection closed"),
        }
    }
}
