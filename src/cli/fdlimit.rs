//! A fleet run's open descriptors against `RLIMIT_NOFILE`: each host in
//! flight holds a socket and, with `--out-dir`, up to two files. The soft
//! limit (1024 on many systems) is raised towards the hard one as far as
//! `--parallel` needs; past the hard limit the run goes with fewer hosts
//! at once, and says so, rather than fail hosts with "too many open
//! files".

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors per host in flight: its socket and two `--out-dir` files.
const PER_HOST: u64 = 3;
/// Descriptors for everything else (stdio, the runtime, the key, logs).
const SPARE: u64 = 64;

/// The parallelism that fits: `parallel`, after raising the soft limit
/// if needed, or what the hard limit leaves room for.
pub fn fit(parallel: usize) -> usize {
    let want = (parallel as u64)
        .saturating_mul(PER_HOST)
        .saturating_add(SPARE);
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return parallel;
    };
    if soft >= want {
        return parallel;
    }
    let raised = want.min(hard);
    let soft = match setrlimit(Resource::RLIMIT_NOFILE, raised, hard) {
        Ok(()) => raised,
        Err(_) => soft,
    };
    if soft >= want {
        return parallel;
    }
    let fits = (soft.saturating_sub(SPARE) / PER_HOST).max(1) as usize;
    crate::cli::say!(
        "secsh: --parallel {parallel} needs {want} open files, the limit is {soft} \
         (hard {hard}): running {fits} hosts at once"
    );
    fits
}
