//! Cron expressions, parsed exactly as the daemon's scheduler (tokio-cron-scheduler) parses
//! them: six or seven fields, seconds first, day-of-month AND day-of-week.

use chrono::{DateTime, Utc};

fn parse(expr: &str) -> Result<croner::Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
}

/// Whether `expr` is a schedule the daemon can run.
pub fn parses(expr: &str) -> bool {
    parse(expr).is_ok()
}

/// How often `expr` fires around `at`, in whole seconds: the gap between its next two
/// firings after `at`, or the wait for the first of them if that is longer (so that a
/// schedule with a quiet night, `0 * 9-17 * * *`, ticking for the last time in the evening,
/// is not expected back a minute later). `None` when `expr` does not parse or does not
/// fire twice more.
pub fn interval_after(expr: &str, at: DateTime<Utc>) -> Option<std::time::Duration> {
    let cron = parse(expr).ok()?;
    let first = cron.find_next_occurrence(&at, false).ok()?;
    let second = cron.find_next_occurrence(&first, false).ok()?;
    let longest = (second - first).max(first - at).to_std().ok()?;
    let round_up = u64::from(longest.subsec_nanos() > 0);
    Some(std::time::Duration::from_secs(longest.as_secs() + round_up))
}

/// How often a schedule fires, as validation judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firing {
    /// Not once in eight years from 2025-01-01 (e.g. `0 0 0 30 2 *`, the 30th of February).
    Never,
    /// At some point it waits longer than a day between two firings: the longest wait seen.
    Rarely(std::time::Duration),
    /// At least once a day.
    Daily,
}

/// How often `expr` fires: over its first 400 firings after 2025-01-01 (a fixed reference,
/// so that validation does not depend on the day it runs; leap days fall in the window).
/// `None` when it does not parse.
pub fn firing(expr: &str) -> Option<Firing> {
    use chrono::TimeZone;
    let cron = parse(expr).ok()?;
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single()?;
    let horizon = start + chrono::Duration::days(8 * 366);
    let Ok(mut at) = cron.find_next_occurrence(&start, false) else {
        return Some(Firing::Never);
    };
    if at > horizon {
        return Some(Firing::Never);
    }
    let mut longest = chrono::Duration::zero();
    for _ in 0..400 {
        let Ok(next) = cron.find_next_occurrence(&at, false) else {
            break;
        };
        longest = longest.max(next - at);
        if next > horizon {
            break;
        }
        at = next;
    }
    Some(if longest > chrono::Duration::days(1) {
        Firing::Rarely(longest.to_std().ok()?)
    } else {
        Firing::Daily
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn how_often_a_schedule_fires() {
        use super::{firing, Firing};
        let started = std::time::Instant::now();
        assert_eq!(firing("*/10 * * * * *"), Some(Firing::Daily));
        assert_eq!(firing("0 0 6 * * *"), Some(Firing::Daily));
        assert_eq!(firing("0 0 0 30 2 *"), Some(Firing::Never), "30 February");
        assert_eq!(firing("0 0 0 31 4 *"), Some(Firing::Never), "31 April");
        assert_eq!(
            firing("0 0 6 * * 1"),
            Some(Firing::Rarely(std::time::Duration::from_secs(7 * 86_400))),
            "weekly"
        );
        assert!(
            matches!(firing("0 0 0 29 2 *"), Some(Firing::Rarely(_))),
            "leap days"
        );
        assert_eq!(firing("not a cron"), None);
        // Validation runs on every reload: judging a schedule must stay cheap.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    use chrono::{TimeZone, Utc};
    use std::time::Duration;

    #[test]
    fn seconds_are_required() {
        assert!(super::parses("*/10 * * * * *"));
        assert!(super::parses("0 0 6 * * *"));
        assert!(!super::parses("*/10 * * * *"));
        assert!(!super::parses("every ten seconds"));
    }

    #[test]
    fn interval_is_the_gap_between_the_next_two_firings() {
        let at = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 3).unwrap();
        let every = |expr| super::interval_after(expr, at);
        assert_eq!(every("*/10 * * * * *"), Some(Duration::from_secs(10)));
        assert_eq!(every("0 */5 * * * *"), Some(Duration::from_secs(300)));
        assert_eq!(every("0 0 6 * * *"), Some(Duration::from_secs(86_400)));
        // A tick a little late: still the schedule's interval.
        let late = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
            + chrono::Duration::milliseconds(20);
        assert_eq!(
            super::interval_after("*/10 * * * * *", late),
            Some(Duration::from_secs(10))
        );
        // Business hours: at 17:57 the next firings are 17:58 and 17:59 ...
        let hours = |h, m, s| Utc.with_ymd_and_hms(2024, 3, 1, h, m, s).unwrap();
        let business = |at| super::interval_after("0 * 9-17 * * *", at);
        assert_eq!(business(hours(17, 57, 0)), Some(Duration::from_secs(60)));
        // ... at 17:58:30 they are 17:59 and 09:00 the next day ...
        assert_eq!(
            business(hours(17, 58, 30)),
            Some(Duration::from_secs(15 * 3600 + 60))
        );
        // ... and after the last one, 09:00 and 09:01: the night is the longer wait.
        assert_eq!(
            business(hours(17, 59, 0)),
            Some(Duration::from_secs(15 * 3600 + 60))
        );
        assert_eq!(every("not a cron"), None);
    }
}
