//! Output flow control on a long link: through a proxy that delays every
//! byte 100 ms each way (benches/compare/wanproxy.rs), a request's output
//! window grows past its first size when the reader keeps up, and the
//! client's default window starts at what the link's round trip needs; a
//! stdin window grows the same way when the command keeps up. What the
//! proxy measures is the most bytes ever in flight each way: a window's
//! size bounds it, whatever the machine's speed.

mod common;

#[path = "../benches/compare/wanproxy.rs"]
mod wanproxy;

use std::process::Stdio;
use std::time::Duration;

use common::Env;
use secsh::client::RequestEvent;
use secsh::session::{ExecParams, RemoteExit};
use wanproxy::WanProxy;

const MIB: u64 = 1 << 20;
const DELAY: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_keeps_up_grows_a_small_window() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let proxy = WanProxy::start(d.addr, DELAY, None).await.unwrap();
    let session = common::session_at(&env, proxy.addr, "alice").await;
    let total = 48 * MIB;
    let params = ExecParams {
        argv: ["head", "-c", &total.to_string(), "/dev/zero"]
            .map(String::from)
            .to_vec(),
        stdin: false,
        timeout_ms: None,
        output_window: 2 * MIB,
    };
    let mut req = session.exec(params).await.unwrap();
    let mut got = 0u64;
    let exit = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match req.next().await {
                // The credit goes back as each chunk is dropped here.
                Some(RequestEvent::Output { data, .. }) => got += data.len() as u64,
                Some(RequestEvent::Exit(e)) => return e,
                Some(RequestEvent::Started { .. } | RequestEvent::Eof(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .expect("the download finished");
    assert_eq!((exit, got), (RemoteExit::Code(0), total));
    // A fixed 2 MiB window would keep at most 2 MiB (plus TLS framing)
    // on the link at once.
    let max = proxy.down.max();
    assert!(
        max > 6 * MIB,
        "at most {max} bytes in flight: the window never grew"
    );
    // The other way only small frames went (window grants, no bulk).
    assert!(
        proxy.up.max() < MIB,
        "{} bytes towards the server",
        proxy.up.max()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_window_follows_the_round_trip() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let proxy = WanProxy::start(d.addr, DELAY, None).await.unwrap();
    let total = 96 * MIB;
    let target = format!("alice@{}", proxy.addr);
    let mut cmd = common::secsh_to(&env.ca(), Some(&env.key_path("alice")), &target);
    cmd.args(["--", "head", "-c", &total.to_string(), "/dev/zero"]);
    let out = tokio::process::Command::from(cmd)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len() as u64, total);
    // The fixed 16 MiB window this client had before would cap it there.
    let max = proxy.down.max();
    assert!(max > 20 * MIB, "at most {max} bytes in flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_keeps_up_grows_the_stdin_window() {
    let env = Env::new();
    let limits = "[limits]\nstdin_window_kib = 2048\nstdin_buffer_kib = 65536\n";
    let d = env.start(&env.config(limits));
    let proxy = WanProxy::start(d.addr, DELAY, None).await.unwrap();
    let total = 48 * MIB as usize;
    let data: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
    let input = env.path("upload");
    std::fs::write(&input, &data).unwrap();
    let target = format!("alice@{}", proxy.addr);
    let mut cmd = common::secsh_to(&env.ca(), Some(&env.key_path("alice")), &target);
    cmd.args(["--", "cat"]);
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::from(cmd)
            .stdin(std::fs::File::open(&input).unwrap())
            .output(),
    )
    .await
    .expect("the upload finished")
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == data, "{} bytes back", out.stdout.len());
    // A fixed 2 MiB stdin window would keep at most 2 MiB (plus TLS
    // framing) on the link towards the server at once.
    let max = proxy.up.max();
    assert!(
        max > 6 * MIB,
        "at most {max} bytes in flight: the window never grew"
    );
}
