//! Seconds since the Unix epoch, the only form of time stored in ceremony state.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `t` as whole seconds since the epoch (times before it count as 0).
pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The `SystemTime` of `secs` since the epoch.
pub(crate) fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `now + ttl` in epoch seconds, saturating.
pub(crate) fn deadline(now: SystemTime, ttl: Duration) -> u64 {
    unix(now).saturating_add(ttl.as_secs())
}

/// Civil date and time of `secs` at `offset_minutes` east of UTC:
/// (year, month, day, hour, minute). Howard Hinnant's `civil_from_days`.
pub(crate) fn civil(secs: u64, offset_minutes: i32) -> (i64, u32, u32, u32, u32) {
    let t = i64::try_from(secs).unwrap_or(i64::MAX / 2) + i64::from(offset_minutes) * 60;
    let days = t.div_euclid(86_400);
    let rem = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let small = |v: i64| u32::try_from(v).unwrap_or(0);
    (y, small(m), small(d), small(rem / 3600), small(rem % 3600 / 60))
}

#[cfg(test)]
mod tests {
    use super::civil;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0, 0), (1970, 1, 1, 0, 0));
        // 2023-11-30 15:31 JST, the time on the notice's sample mail.
        assert_eq!(civil(1_701_325_860, 540), (2023, 11, 30, 15, 31));
        assert_eq!(civil(951_782_400, 0), (2000, 2, 29, 0, 0));
        assert_eq!(civil(4_107_542_400, 0), (2100, 3, 1, 0, 0));
        assert_eq!(civil(30, -60), (1969, 12, 31, 23, 0));
    }
}
