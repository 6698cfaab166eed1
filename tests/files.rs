//! File transfer end to end, real binaries over real TLS: round trips of
//! every size class (a 3 GiB sparse file included) byte for byte, modes,
//! several files and stdin/stdout, a wrong hash and a short stream that
//! leave nothing behind, flat server memory, and the progress bar on a
//! terminal only. Interruptions and `--resume`: tests/files_resume.rs.

mod common;

use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::files::{
    b3, b3_file, cli, listing, ok, random_file, remote, transfer_of, transfers, Roots,
};
use common::{run, Env};
use secsh::client::RequestEvent;
use secsh::proto::ErrorCode;
use secsh::session::PutSpec;

#[test]
fn round_trips_are_byte_identical_with_modes_several_files_and_streams() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, ""));
    for (name, size) in [("empty", 0), ("one", 1), ("mib1", (1 << 20) + 1)] {
        let src = r.local.join(name);
        random_file(&src, size);
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o640)).unwrap();
        let dst = r.up.join(name);
        ok(&env, &d, "put", &[src.to_str().unwrap(), &remote(&dst)]);
        assert_eq!(
            std::fs::read(&dst).unwrap(),
            std::fs::read(&src).unwrap(),
            "{name}"
        );
        assert_eq!(
            dst.metadata().unwrap().mode() & 0o777,
            0o640,
            "mode of {name}"
        );
        let back = r.local.join(format!("{name}.back"));
        ok(&env, &d, "get", &[&remote(&dst), back.to_str().unwrap()]);
        assert_eq!(
            std::fs::read(&back).unwrap(),
            std::fs::read(&src).unwrap(),
            "{name}"
        );
    }
    // --mode, and the audit record of a put carries size and hash.
    let src = r.local.join("mib1");
    let moded = r.up.join("moded");
    ok(
        &env,
        &d,
        "put",
        &["--mode", "600", src.to_str().unwrap(), &remote(&moded)],
    );
    assert_eq!(moded.metadata().unwrap().mode() & 0o777, 0o600);
    let want = b3_file(&src);
    let rec = transfer_of(&env, "put", &moded, "ok");
    assert_eq!(rec["direction"], "put");
    assert_eq!(rec["result"], "ok");
    assert_eq!(rec["blake3"], want.as_str());
    assert_eq!(rec["size"], (1 << 20) + 1);
    // Several files into a directory, and back into a local directory.
    let sub = r.up.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let (a, b) = (r.local.join("empty"), r.local.join("one"));
    ok(
        &env,
        &d,
        "put",
        &[a.to_str().unwrap(), b.to_str().unwrap(), &remote(&sub)],
    );
    assert_eq!(listing(&sub), ["empty", "one"]);
    // Plain, unkeyed BLAKE3, as `b3sum /dev/null` prints it.
    let empty = transfer_of(&env, "put", &sub.join("empty"), "ok");
    assert_eq!(
        empty["blake3"],
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
    // A trailing `/` names a directory: the local name is kept.
    let slash = format!("{}/", remote(&sub));
    ok(&env, &d, "put", &[src.to_str().unwrap(), &slash]);
    assert_eq!(listing(&sub), ["empty", "mib1", "one"]);
    let (code, ..) = run(&mut cli(&env, &d, "alice", "put", &["-", &slash]));
    assert_eq!(code, Some(2), "stdin into a directory needs a file name");
    let into = r.local.join("into");
    std::fs::create_dir(&into).unwrap();
    ok(
        &env,
        &d,
        "get",
        &[
            &remote(&sub.join("one")),
            &remote(&sub.join("empty")),
            into.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(into.join("one")).unwrap(),
        std::fs::read(&b).unwrap()
    );
    assert_eq!(listing(&into), ["empty", "one"], "no partials left");
    // `-`: stdin up, stdout down.
    let streamed = r.up.join("streamed");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut cmd = cli(&env, &d, "alice", "put", &["-", &remote(&streamed)]);
    let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read(&streamed).unwrap(), data);
    let (code, out, _) = run(&mut cli(
        &env,
        &d,
        "alice",
        "get",
        &[&remote(&streamed), "-"],
    ));
    assert_eq!(code, Some(0));
    assert_eq!(b3(&out), b3(&data));
    // A relative path goes under the first root; a missing file is exit 1.
    ok(
        &env,
        &d,
        "put",
        &[b.to_str().unwrap(), "alice@127.0.0.1:rel.txt"],
    );
    assert!(r.up.join("rel.txt").exists());
    let (code, _, err) = run(&mut cli(
        &env,
        &d,
        "alice",
        "get",
        &[
            &remote(&r.dl.join("nope")),
            r.local.join("nope").to_str().unwrap(),
        ],
    ));
    assert_eq!(code, Some(1), "{}", String::from_utf8_lossy(&err));
    assert!(String::from_utf8_lossy(&err).contains("not_found"));
    assert!(!r.local.join("nope").exists());
    assert!(!listing(&r.local)
        .iter()
        .any(|n| n.starts_with(".secsh-part")));
}

/// Peak RSS of `pid` in KiB while `f` runs, sampled every 20 ms.
fn peak_rss_during(pid: u32, f: impl FnOnce()) -> u64 {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            peak = peak.max(common::rss_kib(pid));
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    });
    f();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap()
}

#[test]
fn three_gib_sparse_round_trip_in_flat_memory() {
    const SIZE: u64 = 3 << 30;
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, ""));
    let src = r.local.join("sparse");
    let f = std::fs::File::create(&src).unwrap();
    f.set_len(SIZE).unwrap();
    f.write_all_at(b"head", 0).unwrap();
    f.write_all_at(b"tail", SIZE - 4).unwrap();
    drop(f);
    let want = b3_file(&src);
    let dst = r.up.join("sparse");
    let peak = peak_rss_during(d.pid(), || {
        ok(&env, &d, "put", &[src.to_str().unwrap(), &remote(&dst)]);
    });
    assert_eq!(dst.metadata().unwrap().len(), SIZE);
    assert!(
        dst.metadata().unwrap().blocks() * 512 < 64 << 20,
        "the copy stays sparse"
    );
    assert!(
        peak < 100 * 1024,
        "server RSS during a 3 GiB put: {peak} KiB"
    );
    let back = r.local.join("back");
    let peak = peak_rss_during(d.pid(), || {
        ok(&env, &d, "get", &[&remote(&dst), back.to_str().unwrap()]);
    });
    assert!(
        peak < 100 * 1024,
        "server RSS during a 3 GiB get: {peak} KiB"
    );
    assert_eq!(b3_file(&back), want);
    let recs = transfers(&env, |r| r.len() >= 2);
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert!(
        recs.iter()
            .all(|t| t["blake3"] == want.as_str() && t["size"] == SIZE),
        "{recs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_hash_or_a_short_stream_leaves_the_target_and_no_partial() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, ""));
    let target = r.up.join("t.bin");
    std::fs::write(&target, b"old contents").unwrap();
    let before = listing(&r.up);
    let s = common::session(&env, &d, "alice").await;
    // (bytes sent, size announced at the end, hash at the end)
    let data = vec![7u8; 100_000];
    let cases = [
        (data.clone(), 100_000, b3(&[1, 2, 3])),
        (data[..50_000].to_vec(), 100_000, b3(&data)),
        (data[..50_000].to_vec(), 50_000, b3(&data[..50_000])),
    ];
    for (i, (bytes, size, hash)) in cases.into_iter().enumerate() {
        let params = PutSpec {
            path: target.display().to_string(),
            name: None,
            size: Some(100_000),
            mode: None,
            resume: false,
        };
        let mut req = s.put(params).await.unwrap();
        assert!(matches!(
            req.next().await,
            Some(RequestEvent::PutReady { offset: 0, .. })
        ));
        let sink = req.take_stdin().unwrap();
        sink.send(bytes::Bytes::from(bytes)).await.unwrap();
        sink.finish(size, hash);
        match req.next().await {
            Some(RequestEvent::Failed(secsh::client::ClientError::Server { code, .. })) => {
                assert_eq!(code, ErrorCode::ChecksumMismatch, "case {i}")
            }
            other => panic!("case {i}: {other:?}"),
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"old contents", "case {i}");
        assert_eq!(listing(&r.up), before, "case {i}: no partial left");
    }
    let mismatches = |r: &[serde_json::Value]| {
        r.iter()
            .filter(|t| t["result"] == "checksum_mismatch")
            .count()
    };
    let recs = transfers(&env, |r| mismatches(r) >= 3);
    assert_eq!(mismatches(&recs), 3, "{recs:?}");
}

#[test]
fn progress_bar_on_a_terminal_only() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, ""));
    // stdin fed slowly for about a second: the transfer lasts long enough
    // for the bar to appear (it waits 300 ms).
    let feed = |child: &mut std::process::Child| {
        let mut stdin = child.stdin.take().unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(1200) {
            stdin.write_all(&[b'x'; 64 * 1024]).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // A pipe: nothing on stderr.
    let mut cmd = cli(
        &env,
        &d,
        "alice",
        "put",
        &["-", &remote(&r.up.join("piped"))],
    );
    let mut child = cmd
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    feed(&mut child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A terminal on stderr: a bar with a rate; --no-progress: none.
    for (flags, bar) in [(&[][..], true), (&["--no-progress"][..], false)] {
        let pt = nix::pty::openpty(None, None).unwrap();
        let mut args: Vec<&str> = flags.to_vec();
        let dst = remote(&r.up.join(format!("tty{}", flags.len())));
        args.extend(["-", dst.as_str()]);
        let mut cmd = cli(&env, &d, "alice", "put", &args);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stderr(std::fs::File::from(pt.slave))
            .env("TERM", "xterm")
            .spawn()
            .unwrap();
        drop(cmd);
        let mut master = std::fs::File::from(pt.master);
        let reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut master, &mut v);
            v
        });
        feed(&mut child);
        assert!(child.wait().unwrap().success());
        let screen = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
        let rate = screen.contains("/s");
        assert_eq!(rate, bar, "flags {flags:?}: {screen:?}");
    }
}

#[test]
fn connection_options_may_come_before_the_verb() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, ""));
    let src = r.local.join("before-verb");
    random_file(&src, 4096);
    let dst = r.up.join("before-verb");
    let port = d.addr.port().to_string();
    let mut cmd = std::process::Command::new(common::SECSH);
    cmd.arg("--cert")
        .arg(env.ca())
        .arg("-i")
        .arg(env.key_path("alice"))
        .args(["-p", &port, "put", "--no-progress"])
        .arg(&src)
        .arg(remote(&dst))
        .env_remove("SSH_AUTH_SOCK");
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert_eq!(std::fs::read(&dst).unwrap(), std::fs::read(&src).unwrap());
    // `put` as the value of an option is not the verb: here it is the
    // login name, and the missing target is a usage error.
    let mut cmd = std::process::Command::new(common::SECSH);
    cmd.args(["-l", "put", "--cert"]).arg(env.ca());
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, Some(2), "{}", String::from_utf8_lossy(&err));
}
