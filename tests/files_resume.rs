//! Interrupted transfers, real binaries over real TLS: a client killed
//! mid-upload or mid-download leaves the old file intact and `--resume`
//! continues from the bytes present (a partial whose bytes differ is sent
//! again in full); a server killed mid-upload leaves the old file intact
//! and no partial after its restart.

mod common;

use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::files::{b3_file, cli, listing, ok, random_file, remote, transfer_of, Roots};
use common::{wait_until, Env};

/// Start `cmd`, wait until `pred` holds (checked every 2 ms), SIGKILL the
/// process `victim` names (None: the child), and reap the child.
fn kill_when(mut cmd: Command, victim: Option<u32>, pred: impl Fn() -> bool) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ok = wait_until(Duration::from_secs(60), || {
        pred() || child.try_wait().unwrap().is_some()
    });
    assert!(
        ok && child.try_wait().unwrap().is_none(),
        "the transfer ended before the kill point"
    );
    let pid = victim.unwrap_or(child.id()) as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    let _ = child.kill();
    let _ = child.wait();
}

fn partial_size(dir: &std::path::Path) -> u64 {
    listing(dir)
        .iter()
        .filter(|n| n.starts_with(".secsh-part."))
        .map(|n| dir.join(n).metadata().map_or(0, |m| m.len()))
        .max()
        .unwrap_or(0)
}

#[test]
fn interrupted_transfers_keep_the_old_file_and_resume_both_ways() {
    const SIZE: usize = 160 << 20;
    let env = Env::new();
    let r = Roots::new(&env);
    let config = r.config(&env, "");
    let d = env.start(&config);
    let src = r.local.join("big");
    random_file(&src, SIZE);
    let want = b3_file(&src);
    let target = r.up.join("big");
    std::fs::write(&target, b"old").unwrap();

    // The client dies mid-upload: old file intact, a hidden partial.
    let put = cli(
        &env,
        &d,
        "alice",
        "put",
        &[src.to_str().unwrap(), &remote(&target)],
    );
    kill_when(put, None, || partial_size(&r.up) > 16 << 20);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(std::fs::read(&target).unwrap(), b"old");
    let held = partial_size(&r.up);
    assert!(
        held > 0
            && listing(&r.up)
                .iter()
                .filter(|n| !n.starts_with('.'))
                .count()
                == 1
    );
    // --resume continues from the bytes the server holds.
    ok(
        &env,
        &d,
        "put",
        &["--resume", src.to_str().unwrap(), &remote(&target)],
    );
    assert_eq!(b3_file(&target), want);
    assert_eq!(listing(&r.up), ["big"]);
    let last = transfer_of(&env, "put", &target, "ok");
    assert!(
        last["offset"].as_u64().unwrap() >= held - (1 << 20),
        "{last}"
    );
    assert_eq!(
        last["bytes"].as_u64().unwrap() + last["offset"].as_u64().unwrap(),
        SIZE as u64
    );

    // The client dies mid-download over an existing local file.
    let local = r.local.join("big.back");
    std::fs::write(&local, b"old local").unwrap();
    let get = cli(
        &env,
        &d,
        "alice",
        "get",
        &[&remote(&target), local.to_str().unwrap()],
    );
    kill_when(get, None, || partial_size(&r.local) > 16 << 20);
    assert_eq!(std::fs::read(&local).unwrap(), b"old local");
    ok(
        &env,
        &d,
        "get",
        &["--resume", &remote(&target), local.to_str().unwrap()],
    );
    assert_eq!(b3_file(&local), want);
    let last = transfer_of(&env, "get", &target, "ok");
    assert!(last["offset"].as_u64().unwrap() > 0, "{last}");
    assert!(!listing(&r.local)
        .iter()
        .any(|n| n.starts_with(".secsh-part")));

    // A partial whose bytes differ is not resumed: the put starts over.
    let put = cli(
        &env,
        &d,
        "alice",
        "put",
        &[src.to_str().unwrap(), &remote(&r.up.join("again"))],
    );
    kill_when(put, None, || partial_size(&r.up) > 8 << 20);
    for n in listing(&r.up)
        .iter()
        .filter(|n| n.starts_with(".secsh-part."))
    {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(r.up.join(n))
            .unwrap();
        f.write_all_at(b"corrupted", 1000).unwrap();
    }
    ok(
        &env,
        &d,
        "put",
        &[
            "--resume",
            src.to_str().unwrap(),
            &remote(&r.up.join("again")),
        ],
    );
    assert_eq!(b3_file(&r.up.join("again")), want);
    assert_eq!(
        transfer_of(&env, "put", &r.up.join("again"), "ok")["offset"],
        0
    );

    // The server dies mid-upload: after a restart the old file is intact
    // and the partial is gone.
    let victim = r.up.join("again");
    let pid = d.pid();
    let put = cli(
        &env,
        &d,
        "alice",
        "put",
        &[r.local.join("big").to_str().unwrap(), &remote(&victim)],
    );
    std::fs::write(&victim, b"previous").unwrap();
    kill_when(put, Some(pid), || partial_size(&r.up) > 16 << 20);
    drop(d);
    let d = env.start(&config);
    assert!(
        wait_until(Duration::from_secs(5), || listing(&r.up)
            == ["again", "big"]),
        "{:?}",
        listing(&r.up)
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"previous");
    drop(d);
}
