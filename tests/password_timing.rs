//! A failed password attempt takes the same time whoever it names: a user
//! whose argon2id hash has a higher (allowed) cost, a default-cost user, a
//! key-only user and an unknown name. Without the floor, the costly
//! account answers in about three times the others' time and can be
//! found by timing alone.

mod common;

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use common::raw::Raw;
use common::Env;
use secsh::proto::{AuthMethod, Message, Secret};

/// An argon2id PHC string at m=19456 KiB, t=6, p=1 (allowed, three times
/// the default's passes).
fn costly_hash(password: &[u8]) -> String {
    let params = Params::new(19_456, 6, 1, Some(32)).unwrap();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    argon.hash_password(password).unwrap().to_string()
}

/// Milliseconds from sending a wrong password for `user` to the answer.
async fn attempt(addr: std::net::SocketAddr, env: &Env, user: &str) -> f64 {
    let mut c = Raw::connect(addr, &env.ca()).await;
    let t = Instant::now();
    c.send(Message::Auth {
        user: user.into(),
        method: AuthMethod::Password,
        signature: None,
        password: Some(Secret::new("wrong-pass".into())),
        certificate: None,
    })
    .await;
    let answer = c.next().await.map(|f| f.message);
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    assert!(
        matches!(answer, Some(Message::AuthContinue { .. })),
        "{answer:?}"
    );
    ms
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_takes_the_costliest_hashs_time_for_everyone() {
    let env = Env::new();
    let six = costly_hash(b"right-six");
    let two = secsh::auth::hash_password(b"right-two").unwrap();
    let extra = format!(
        r#"
[users.six]
password = "{six}"
commands = ["true"]

[users.two]
password = "{two}"
commands = ["true"]

[users.kim]
keys = ["{kim}"]
commands = ["true"]

[penalties]
exempt = ["127.0.0.0/8", "::1"]
"#,
        kim = env.public_key(3)
    );
    let d = env.start(&env.config(&extra));
    let names = ["six", "two", "kim", "nobody-here"];
    for n in names {
        attempt(d.addr, &env, n).await; // warm-up
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let started = Instant::now();
    // Interleaved rounds, so load on the machine falls on every kind alike.
    for _ in 0..7 {
        for (i, n) in names.iter().enumerate() {
            times[i].push(attempt(d.addr, &env, n).await);
        }
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let m: Vec<f64> = times.into_iter().map(median).collect();
    let costly = m[0];
    // Unpadded, the default-cost, key-only and unknown attempts take about
    // a third of the costly one's time.
    for (i, n) in names.iter().enumerate().skip(1) {
        assert!(
            m[i] > 0.8 * costly,
            "{n}: {:.1} ms against {costly:.1} ms for the t=6 user (medians {m:?})",
            m[i]
        );
    }
}
