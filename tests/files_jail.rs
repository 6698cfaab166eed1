//! The transfer jail end to end: `..`, absolute paths outside the roots,
//! directory and file symlinks (absolute and relative) inside a root, a
//! symlink swapped in while a put runs, group roots, and files created as
//! the user's `run_as` account. Nothing outside a root is ever written or
//! read.

mod common;

use std::os::unix::fs::{symlink, MetadataExt};

use common::files::{cli, listing, remote, transfers, Roots};
use common::{run, Env};
use secsh::client::RequestEvent;
use secsh::session::PutSpec;

#[test]
fn paths_outside_the_roots_and_through_symlinks_are_denied() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, ""));
    std::fs::write(r.outside.join("secret"), b"outside secret").unwrap();
    std::fs::write(r.outside.join("victim"), b"must not change").unwrap();
    std::fs::create_dir(r.up.join("sub")).unwrap();
    symlink(&r.outside, r.up.join("abs")).unwrap();
    symlink("../outside", r.up.join("rel")).unwrap();
    symlink(r.outside.join("victim"), r.up.join("filelink")).unwrap();
    symlink(r.outside.join("secret"), r.dl.join("leak-abs")).unwrap();
    symlink("../outside/secret", r.dl.join("leak-rel")).unwrap();
    // A symlink that stays inside the root is refused too: the rule is
    // "no symlinks below a root", simple to state and to check.
    std::fs::write(r.dl.join("real"), b"inside").unwrap();
    symlink("real", r.dl.join("inner-link")).unwrap();
    let src = r.local.join("src");
    std::fs::write(&src, b"payload").unwrap();
    let outside_before = listing(&r.outside);
    let up = |p: &str| remote(&r.up.join(p));
    let puts = [
        remote(&r.outside.join("x")),
        up("../outside/x"),
        up("sub/../../outside/x"),
        up("abs/x"),
        up("rel/x"),
        up("filelink"),
        up("abs"),
        "alice@127.0.0.1:/etc/x".to_string(),
    ];
    for dst in &puts {
        let (code, _, err) = run(&mut cli(
            &env,
            &d,
            "alice",
            "put",
            &[src.to_str().unwrap(), dst],
        ));
        assert_eq!(
            code,
            Some(253),
            "put {dst}: {}",
            String::from_utf8_lossy(&err)
        );
    }
    // A download root is not an upload root.
    let (code, ..) = run(&mut cli(
        &env,
        &d,
        "alice",
        "put",
        &[src.to_str().unwrap(), &remote(&r.dl.join("x"))],
    ));
    assert_eq!(code, Some(253));
    assert_eq!(listing(&r.outside), outside_before);
    assert_eq!(
        std::fs::read(r.outside.join("victim")).unwrap(),
        b"must not change"
    );
    for p in ["leak-abs", "leak-rel", "inner-link", "../outside/secret"] {
        let dst = r.local.join(format!("got-{}", p.replace('/', "_")));
        let (code, out, err) = run(&mut cli(
            &env,
            &d,
            "alice",
            "get",
            &[&remote(&r.dl.join(p)), dst.to_str().unwrap()],
        ));
        assert_eq!(
            code,
            Some(253),
            "get {p}: {}",
            String::from_utf8_lossy(&err)
        );
        assert!(!dst.exists() && out.is_empty());
    }
    let (code, out, _) = run(&mut cli(
        &env,
        &d,
        "alice",
        "get",
        &[&remote(&r.outside.join("secret")), "-"],
    ));
    assert_eq!(code, Some(253));
    assert!(out.is_empty());
    // The denials are audited with what was asked.
    let denied = |r: &[serde_json::Value]| r.iter().filter(|t| t["result"] == "denied").count();
    let want = puts.len() + 1 + 5;
    assert_eq!(denied(&transfers(&env, |r| denied(r) >= want)), want);
    // bob has no roots at all.
    let (code, ..) = run(&mut cli(
        &env,
        &d,
        "bob",
        "put",
        &[src.to_str().unwrap(), "bob@127.0.0.1:x"],
    ));
    assert_eq!(code, Some(253));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_swapped_in_during_a_put_does_not_lead_outside() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, ""));
    let sub = r.up.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let s = common::session(&env, &d, "alice").await;
    let params = PutSpec {
        path: sub.join("f").display().to_string(),
        name: None,
        size: Some(4),
        mode: None,
        resume: false,
    };
    let mut req = s.put(params).await.unwrap();
    assert!(matches!(
        req.next().await,
        Some(RequestEvent::PutReady { .. })
    ));
    // The directory the server opened is replaced by a symlink pointing
    // outside the root, between its check and its write.
    std::fs::rename(&sub, r.up.join("sub.old")).unwrap();
    symlink(&r.outside, &sub).unwrap();
    let sink = req.take_stdin().unwrap();
    sink.send(bytes::Bytes::from_static(b"data")).await.unwrap();
    sink.finish(4, common::files::b3(b"data"));
    assert!(matches!(
        req.next().await,
        Some(RequestEvent::Stored { .. })
    ));
    assert!(listing(&r.outside).is_empty(), "{:?}", listing(&r.outside));
    assert_eq!(std::fs::read(r.up.join("sub.old/f")).unwrap(), b"data");
    // A new put through the symlink is refused.
    let params = PutSpec {
        path: sub.join("g").display().to_string(),
        name: None,
        size: Some(0),
        mode: None,
        resume: false,
    };
    let mut req = s.put(params).await.unwrap();
    assert!(matches!(req.next().await, Some(RequestEvent::Denied(_))));
    assert!(listing(&r.outside).is_empty());
}

#[test]
fn group_roots_apply_to_members_only() {
    let env = Env::new();
    let r = Roots::new(&env);
    let shared = env.path("shared");
    std::fs::create_dir(&shared).unwrap();
    let extra = format!(
        "\n[groups.ops]\nmembers = [\"bob\"]\nupload = [\"{}\"]\n",
        shared.display()
    );
    let d = env.start(&r.config(&env, &extra));
    let src = r.local.join("src");
    std::fs::write(&src, b"x").unwrap();
    let to = |u: &str| format!("{u}@127.0.0.1:{}", shared.join(u).display());
    let (code, ..) = run(&mut cli(
        &env,
        &d,
        "bob",
        "put",
        &[src.to_str().unwrap(), &to("bob")],
    ));
    assert_eq!(code, Some(0));
    let (code, ..) = run(&mut cli(
        &env,
        &d,
        "alice",
        "put",
        &[src.to_str().unwrap(), &to("alice")],
    ));
    assert_eq!(code, Some(253));
    assert_eq!(listing(&shared), ["bob"]);
    // `secshd check --list` shows each user's roots.
    let out = std::process::Command::new(common::SECSHD)
        .args(["check", "--config"])
        .arg(env.path("secshd.toml"))
        .args(["--user", "bob", "--list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("bob may put files under: {}", shared.display())),
        "{text}"
    );
    assert!(!text.contains("may get files"), "{text}");
}

#[test]
fn transfers_run_as_the_users_account() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to switch accounts");
        return;
    }
    let Some(nobody) = nix::unistd::User::from_name("nobody").unwrap() else {
        eprintln!("skipped: no account named nobody");
        return;
    };
    let env = Env::new();
    let r = Roots::new(&env);
    // The test's temp dir must be passable for nobody.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let theirs = env.path("theirs");
    let roots_only = env.path("rootonly");
    for d in [&theirs, &roots_only] {
        std::fs::create_dir(d).unwrap();
    }
    nix::unistd::chown(&theirs, Some(nobody.uid), Some(nobody.gid)).unwrap();
    std::fs::set_permissions(&roots_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(roots_only.join("private"), b"root only").unwrap();
    std::fs::set_permissions(
        roots_only.join("private"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let config = env.config(&format!(
        "\n[users.carol]\nkeys = [\"{}\"]\nrun_as = \"nobody\"\nupload = [\"{}\", \"{}\"]\ndownload = [\"{}\"]\n",
        env.public_key(3),
        theirs.display(),
        roots_only.display(),
        roots_only.display()
    ));
    let d = env.start(&config);
    std::fs::copy(env.key_path("mallory"), env.key_path("carol")).unwrap();
    let src = r.local.join("src");
    std::fs::write(&src, b"carol's").unwrap();
    let at = |p: &std::path::Path| format!("carol@127.0.0.1:{}", p.display());
    let (code, _, err) = run(&mut cli(
        &env,
        &d,
        "carol",
        "put",
        &[src.to_str().unwrap(), &at(&theirs.join("f"))],
    ));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    let meta = theirs.join("f").metadata().unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (nobody.uid.as_raw(), nobody.gid.as_raw())
    );
    // The account's own permissions apply inside a root: nobody can
    // neither write into a root-owned directory nor read a 0600 file.
    let (code, _, err) = run(&mut cli(
        &env,
        &d,
        "carol",
        "put",
        &[src.to_str().unwrap(), &at(&roots_only.join("g"))],
    ));
    assert_eq!(code, Some(253), "{}", String::from_utf8_lossy(&err));
    assert!(!roots_only.join("g").exists());
    let (code, out, _) = run(&mut cli(
        &env,
        &d,
        "carol",
        "get",
        &[&at(&roots_only.join("private")), "-"],
    ));
    assert_eq!(code, Some(253));
    assert!(out.is_empty());
}

#[test]
fn a_partial_upload_is_never_fetched_or_targeted() {
    let env = Env::new();
    let r = Roots::new(&env);
    // What an interrupted put leaves: another user sharing the root must
    // not read it, and nobody may write it through the protocol.
    let part = r.up.join(".secsh-part.0123456789abcdef0123456789abcdef");
    std::fs::write(&part, b"half an upload").unwrap();
    // Locked as a running put holds it, so the daemon's start-up sweep
    // leaves it be.
    let held = std::fs::File::open(&part).unwrap();
    #[allow(deprecated)]
    nix::fcntl::flock(
        std::os::fd::AsRawFd::as_raw_fd(&held),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    let d = env.start(&r.config(&env, ""));
    let out = r.local.join("stolen");
    let (code, _, err) = run(&mut cli(
        &env,
        &d,
        "alice",
        "get",
        &[&remote(&part), out.to_str().unwrap()],
    ));
    assert_eq!(code, Some(253), "{}", String::from_utf8_lossy(&err));
    assert!(!out.exists());
    let src = r.local.join("src");
    std::fs::write(&src, b"overwrite").unwrap();
    let (code, _, _) = run(&mut cli(
        &env,
        &d,
        "alice",
        "put",
        &[src.to_str().unwrap(), &remote(&part)],
    ));
    assert_eq!(code, Some(253));
    assert_eq!(std::fs::read(&part).unwrap(), b"half an upload");
    drop(held);
}

#[test]
fn a_fifo_in_a_download_root_is_not_found_at_once() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, ""));
    let fifo = r.dl.join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let mut get = cli(
        &env,
        &d,
        "alice",
        "get",
        &[&remote(&fifo), r.local.join("pipe").to_str().unwrap()],
    );
    let mut child = get
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let code = common::wait_timeout(&mut child, std::time::Duration::from_secs(10));
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(code, Some(1), "a get of a FIFO answers at once");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("not_found"), "{err}");
}
