//! SIGHUP reload and systemd readiness, from outside: a valid new config
//! judges every next request, on new connections and signed-in ones
//! alike (revocation: tests/reload_revoke.rs), a broken
//! one is logged with FILE:LINE:COLUMN and the old one keeps serving, and
//! READY=1 / RELOADING=1 / STOPPING=1 reach the NOTIFY_SOCKET.

mod common;

use std::ffi::OsString;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::{run, wait_until, Daemon, Env};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

struct Notify(UnixDatagram);

impl Notify {
    fn bind(env: &Env) -> (Self, std::path::PathBuf) {
        let path = env.path("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        (Self(sock), path)
    }

    /// Wait (at most 10 s) for a datagram containing `want`.
    fn expect(&self, want: &str) -> String {
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        for _ in 0..100 {
            if let Ok(n) = self.0.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                if msg.contains(want) {
                    return msg;
                }
                seen.push_str(&msg);
                seen.push('|');
            }
        }
        panic!("no {want} on NOTIFY_SOCKET; saw {seen:?}");
    }
}

fn hup(d: &Daemon) {
    kill(Pid::from_raw(d.pid() as i32), Signal::SIGHUP).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_valid_config_and_keeps_the_old_one_on_errors() {
    let env = Env::new();
    let path = env.config("");
    let original = std::fs::read_to_string(&path).unwrap();
    let (notify, sock) = Notify::bind(&env);
    let d = Daemon::start_env(
        &[OsString::from("--config"), path.clone().into()],
        &[("NOTIFY_SOCKET", &sock)],
    );
    notify.expect("READY=1");
    // bob may run `true` only.
    let (code, _, _) = run(env.secsh(&d, "bob").args(["--", "echo", "hi"]));
    assert_eq!(code, Some(253));
    // A signed-in connection that outlives the reload.
    let before = common::session(&env, &d, "alice").await;
    assert!(common::runs_true(&before).await);

    // A valid change: bob may echo now; alice may no longer run anything.
    let changed = original
        .replace("commands = [\"true\"]", "commands = [\"true\", \"echo\"]")
        .replace(
            "commands = [\"true\", \"echo\", \"cat\"",
            "commands = [\"cat\"",
        );
    assert_ne!(changed, original);
    common::write_config(&path, &changed);
    hup(&d);
    let reloading = notify.expect("RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    notify.expect("READY=1");
    assert!(wait_until(Duration::from_secs(5), || d
        .log()
        .contains("reloaded")));
    let (code, out, err) = run(env.secsh(&d, "bob").args(["--", "echo", "hi"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert_eq!(out, b"hi\n");
    let (code, _, _) = run(env.secsh(&d, "alice").args(["--", "true"]));
    assert_eq!(code, Some(253), "new connections use the new policy");
    assert!(
        !common::runs_true(&before).await,
        "an open connection's next request is judged by the new policy"
    );

    // A broken file: logged with its location, the running config stays.
    common::write_config(&path, &format!("{changed}\nthis is not toml =\n"));
    hup(&d);
    notify.expect("RELOADING=1");
    notify.expect("READY=1");
    assert!(wait_until(Duration::from_secs(5), || d
        .log()
        .contains("reload failed")));
    let log = d.log();
    let line = log.lines().find(|l| l.contains("reload failed")).unwrap();
    let at = line
        .split(&format!("{}:", path.display()))
        .nth(1)
        .unwrap_or("");
    let mut nums = at.split(':').take(2).map(|n| n.parse::<u32>().is_ok());
    assert!(
        nums.next() == Some(true) && nums.next() == Some(true),
        "no FILE:LINE:COLUMN in {line}"
    );
    let (code, _, _) = run(env.secsh(&d, "bob").args(["--", "echo", "hi"]));
    assert_eq!(code, Some(0), "the last good config still serves");

    // The failed reload changed nothing: the open connection and a new
    // one both have the last good policy.
    assert!(!common::runs_true(&before).await);
    assert!(!common::runs_true(&common::session(&env, &d, "alice").await).await);

    kill(Pid::from_raw(d.pid() as i32), Signal::SIGTERM).unwrap();
    notify.expect("STOPPING=1");
}
