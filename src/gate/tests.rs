use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
    assert_eq!(
        SourceKey::of(ip("2001:db8:1:2::1")),
        SourceKey::of(ip("2001:db8:1:2:ffff::9"))
    );
    assert_ne!(
        SourceKey::of(ip("2001:db8:1:2::1")),
        SourceKey::of(ip("2001:db8:1:3::1"))
    );
    assert_eq!(
        SourceKey::of(ip("::ffff:10.1.2.3")),
        SourceKey::of(ip("10.1.2.3"))
    );
    assert_eq!(
        SourceKey::of(ip("2001:db8:1:2::1")).to_string(),
        "2001:db8:1:2::/64"
    );
}

#[test]
fn per_source_cap_leaves_room_for_others() {
    let mut p = PreAuth::new(PreAuthLimits {
        total: 100,
        per_source: 3,
    });
    let a = SourceKey::of(ip("127.0.0.2"));
    let b = SourceKey::of(ip("127.0.0.1"));
    for _ in 0..3 {
        assert_eq!(p.admit(a, u32::MAX), Admission::Admitted);
    }
    assert_eq!(p.admit(a, u32::MAX), Admission::SourceFull);
    assert_eq!(p.admit(b, u32::MAX), Admission::Admitted);
    p.release(a);
    assert_eq!(p.admit(a, u32::MAX), Admission::Admitted);
    assert_eq!((p.total(), p.from(a), p.from(b)), (4, 3, 1));
}

#[test]
fn random_early_drop_from_half_the_cap() {
    let mut p = PreAuth::new(PreAuthLimits {
        total: 10,
        per_source: 100,
    });
    let s = SourceKey::of(ip("10.0.0.1"));
    // Below half: never dropped, whatever the dice say.
    for _ in 0..5 {
        assert_eq!(p.admit(s, 0), Admission::Admitted);
    }
    // At half: 30% drop. A low roll drops, a high one passes.
    assert_eq!(p.admit(s, u32::MAX / 10), Admission::Full);
    assert_eq!(p.admit(s, u32::MAX / 2), Admission::Admitted);
    // At 9 of 10 the drop chance is 86%: a roll at 80% still drops.
    for _ in 0..3 {
        assert_eq!(p.admit(s, u32::MAX), Admission::Admitted);
    }
    assert_eq!(p.admit(s, (u32::MAX as f64 * 0.8) as u32), Admission::Full);
    assert_eq!(p.admit(s, u32::MAX), Admission::Admitted);
    // At the cap nothing passes.
    assert_eq!(p.admit(s, u32::MAX), Admission::Full);
}

fn settings() -> PenaltySettings {
    PenaltySettings {
        exempt: vec!["10.0.0.0/8".parse().unwrap()],
        max_sources: 2,
        ..Default::default()
    }
}

#[test]
fn failures_accrue_bite_over_the_threshold_and_drain() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut p = Penalties::new(settings());
    let src = ip("192.0.2.7");
    // 3 failures = 15 s: at the threshold, not over it.
    assert_eq!(p.record(src, Offence::AuthFailure, 3, t0), None);
    assert_eq!(p.check(src, t0), Verdict::Allow);
    // A fourth: 20 s, over by 5 s.
    assert_eq!(p.record(src, Offence::AuthFailure, 1, t0), Some(s(5)));
    assert_eq!(p.check(src, t0), Verdict::Refuse { retry_after: s(5) });
    assert_eq!(
        p.check(src, t0 + s(3)),
        Verdict::Refuse { retry_after: s(2) }
    );
    // The penalty drains in real time.
    assert_eq!(p.check(src, t0 + s(5)), Verdict::Allow);
    assert_eq!(p.check(src, t0 + s(21)), Verdict::Allow);
    assert!(p.is_empty(), "expired entries are dropped");
    // Capped at max.
    p.record(src, Offence::AuthFailure, 1000, t0);
    assert_eq!(
        p.check(src, t0),
        Verdict::Refuse {
            retry_after: s(600 - 15)
        }
    );
    // Other kinds of offence weigh less or the same.
    let other = ip("192.0.2.8");
    p.record(other, Offence::NoAuth, 15, t0);
    assert_eq!(p.check(other, t0), Verdict::Allow);
    p.record(other, Offence::ProtocolError, 1, t0);
    assert!(matches!(p.check(other, t0), Verdict::Refuse { .. }));
}

#[test]
fn exempt_sources_are_never_penalised() {
    let t0 = Instant::now();
    let mut p = Penalties::new(settings());
    let src = ip("10.9.8.7");
    assert_eq!(p.record(src, Offence::AuthFailure, 100, t0), None);
    assert_eq!(p.check(src, t0), Verdict::Allow);
    assert_eq!(p.check(ip("::ffff:10.9.8.7"), t0), Verdict::Allow);
}

#[test]
fn the_table_is_bounded_and_forgets_the_least_penalised() {
    let t0 = Instant::now();
    let mut p = Penalties::new(settings());
    p.record(ip("192.0.2.1"), Offence::AuthFailure, 10, t0);
    p.record(ip("192.0.2.2"), Offence::AuthFailure, 5, t0);
    p.record(ip("192.0.2.3"), Offence::AuthFailure, 8, t0);
    assert_eq!(p.len(), 2);
    assert_eq!(p.check(ip("192.0.2.2"), t0), Verdict::Allow, "forgotten");
    assert!(matches!(
        p.check(ip("192.0.2.1"), t0),
        Verdict::Refuse { .. }
    ));
    assert!(matches!(
        p.check(ip("192.0.2.3"), t0),
        Verdict::Refuse { .. }
    ));
}
