//! A put that cannot be resumed leaves nothing behind: a stream put
//! (unknown size) whose client goes away, or one that fills the disk,
//! removes its partial at once, so the next put finds the space free.
//! Resumable partials are kept within the user's `partial_max_mib`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::files::{cli, listing, random_file, remote, Roots};
use common::{run, run_with_stdin, wait_until, Env};

fn partials(dir: &std::path::Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .filter(|n| n.starts_with(".secsh-part."))
        .collect()
}

fn partial_bytes(dir: &std::path::Path) -> u64 {
    partials(dir)
        .iter()
        .map(|n| dir.join(n).metadata().map_or(0, |m| m.len()))
        .max()
        .unwrap_or(0)
}

/// Start `cmd` with a piped stdin, feed it `feed` bytes, wait until the
/// partial in `dir` holds at least `at` bytes, then kill the client.
fn killed_after(mut cmd: Command, dir: &std::path::Path, feed: usize, at: u64) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = vec![7u8; feed];
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
        // Held open: the put has not ended when the client is killed.
        std::thread::sleep(Duration::from_secs(30));
    });
    let reached = wait_until(Duration::from_secs(30), || partial_bytes(dir) >= at);
    let _ = child.kill();
    let _ = child.wait();
    drop(writer);
    assert!(reached, "the partial never reached {at} bytes");
}

#[test]
fn a_stream_put_whose_client_goes_away_removes_its_partial() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, ""));
    let put = cli(&env, &d, "alice", "put", &["-", &remote(&r.up.join("s"))]);
    killed_after(put, &r.up, 3 << 20, 3 << 20);
    assert!(
        wait_until(Duration::from_secs(5), || partials(&r.up).is_empty()),
        "an unresumable partial stayed: {:?}",
        listing(&r.up)
    );
}

#[test]
fn with_partial_max_mib_zero_no_partial_is_kept() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, "[files]\npartial_max_mib = 0\n"));
    let src = r.local.join("big");
    random_file(&src, 64 << 20);
    let mut put = cli(
        &env,
        &d,
        "alice",
        "put",
        &[src.to_str().unwrap(), &remote(&r.up.join("big"))],
    );
    put.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = put.spawn().unwrap();
    let reached = wait_until(Duration::from_secs(30), || partial_bytes(&r.up) >= 1 << 20);
    let _ = child.kill();
    let _ = child.wait();
    assert!(reached);
    assert!(
        wait_until(Duration::from_secs(5), || partials(&r.up).is_empty()),
        "a partial past the bound stayed: {:?}",
        listing(&r.up)
    );
}

/// A 20 MB filesystem: a 30 MB stream put fails, leaves the old file and
/// no partial, and a 5 MB put right after it succeeds.
#[test]
fn a_put_that_fills_the_disk_gives_the_space_back() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let env = Env::new();
    let r = Roots::new(&env);
    let small = env.path("small");
    std::fs::create_dir(&small).unwrap();
    let (code, _, err) = run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=20m,mode=0755", "tmpfs"])
        .arg(&small));
    if code != Some(0) {
        eprintln!(
            "skipped: cannot mount a tmpfs: {}",
            String::from_utf8_lossy(&err)
        );
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _mounted = Unmount(small.clone());
    let d = env.start(&r.config(
        &env,
        &format!(
            "\n[groups.small]\nmembers = [\"alice\"]\nupload = [\"{0}\"]\ndownload = [\"{0}\"]\n",
            small.display()
        ),
    ));
    let target = small.join("target");
    std::fs::write(&target, b"old").unwrap();
    let big = r.local.join("big");
    random_file(&big, 30_000_000);
    let (code, _, err) = run_with_stdin(
        &mut cli(&env, &d, "alice", "put", &["-", &remote(&target)]),
        std::fs::File::open(&big).unwrap(),
    );
    assert_ne!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert_eq!(std::fs::read(&target).unwrap(), b"old");
    assert!(
        wait_until(Duration::from_secs(3), || partials(&small).is_empty()),
        "{:?}",
        listing(&small)
    );
    let five = r.local.join("five");
    random_file(&five, 5_000_000);
    let (code, _, err) = run_with_stdin(
        &mut cli(&env, &d, "alice", "put", &["-", &remote(&target)]),
        std::fs::File::open(&five).unwrap(),
    );
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(&five).unwrap()
    );
}
