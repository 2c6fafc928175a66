//! Cron expressions, parsed exactly as the daemon's scheduler (tokio-cron-scheduler) parses
//! them: six or seven fields, seconds first, day-of-month AND day-of-week.

/// Whether `expr` is a schedule the daemon can run.
pub fn parses(expr: &str) -> bool {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_are_required() {
        assert!(super::parses("*/10 * * * * *"));
        assert!(super::parses("0 0 6 * * *"));
        assert!(!super::parses("*/10 * * * *"));
        assert!(!super::parses("every ten seconds"));
    }
}
