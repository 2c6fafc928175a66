//! `rollout assign NAME UNIT...`: each unit's draws and decisions under the stored flags.

use std::fmt::Write;

use super::open::{open, Access};
use super::{print_json, Cli};
use crate::error::Error;
use crate::status::UnitAssignment;

pub async fn run(cli: &Cli, name: &str, units: &[String], json: bool) -> Result<(), Error> {
    let (service, _) = open(cli, Access::Existing).await?;
    let views = service.assign(name, units).await?;
    if json {
        print_json(&views);
    } else {
        print!("{}", table(&views));
    }
    Ok(())
}

fn draw(u: Option<f64>) -> String {
    u.map_or_else(|| "-".to_owned(), |u| format!("{u:.6}"))
}

/// One line per unit; then, when the flags turn every unit off, why.
pub fn table(views: &[UnitAssignment]) -> String {
    let mut out = format!(
        "{:<24} {:>10} {:<10} {:>10} {:<16} ENABLED NOW\n",
        "UNIT", "U_AB", "VARIANT", "U_ROLLOUT", "IN_ROLLOUT"
    );
    for v in views {
        let pct = v
            .rollout_percentage
            .map_or_else(|| "-".to_owned(), |p| format!("{p}%"));
        let _ = writeln!(
            out,
            "{:<24} {:>10} {:<10} {:>10} {:<16} {}",
            super::render::printable(&v.unit),
            draw(v.u_ab),
            v.variant.unwrap_or("-"),
            draw(v.u_rollout),
            format!("{} ({pct})", v.in_rollout),
            v.enabled
        );
    }
    if let Some(reason) = views.first().and_then(|v| v.off_reason.as_deref()) {
        let _ = writeln!(out, "off for every unit: {reason}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_why_every_unit_is_off() {
        let v = UnitAssignment {
            unit: "AAPL".into(),
            mode: Some("ab_test".into()),
            u_ab: None,
            variant: None,
            u_rollout: None,
            rollout_percentage: Some(0.0),
            in_rollout: false,
            enabled: false,
            off_reason: Some(
                "ASSIGNMENT_VERSION is \"2\"; this implementation follows version 1 only".into(),
            ),
        };
        let t = table(&[v]);
        assert!(t.contains("AAPL"), "{t}");
        assert!(t.contains("false (0%)"), "{t}");
        assert!(t.ends_with("off for every unit: ASSIGNMENT_VERSION is \"2\"; this implementation follows version 1 only\n"), "{t}");
    }
}
