//! UTC timestamps for logs and audit records, without a time-zone
//! database: `2026-11-26 18:30:05 UTC` and RFC 3339 with milliseconds.

use std::time::SystemTime;

/// (year, month, day, seconds into the day) of `t`, UTC.
fn civil(t: SystemTime) -> (i64, i64, i64, i64, u32) {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Inverse of the days-from-civil algorithm (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem, d.subsec_millis())
}

/// `t` as `YYYY-MM-DD HH:MM:SS UTC` (for log lines).
pub fn utc(t: SystemTime) -> String {
    let (y, m, d, rem, _) = civil(t);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `t` as RFC 3339 with milliseconds: `2026-11-26T18:30:05.123Z`.
pub fn rfc3339_ms(t: SystemTime) -> String {
    let (y, m, d, rem, ms) = civil(t);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_717_805_042);
        assert_eq!(utc(t), "2026-11-26 18:30:05 UTC");
        assert_eq!(rfc3339_ms(t), "2026-11-26T18:30:05.042Z");
        assert_eq!(
            rfc3339_ms(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000Z"
        );
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc(leap), "2000-02-29 00:00:00 UTC");
    }
}
