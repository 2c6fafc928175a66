//! `rollout learning ...`: ingest, analyze, weights, run.

use std::fmt::Write as _;
use std::path::Path;

use super::open::{open, Access};
use super::{person, print_json, Cli, LearningCommand};
use crate::error::Error;
use crate::learning::{self, FeatureStatus, Kind, Report, Weights};
use crate::store::Writer;

pub async fn run(cli: &Cli, command: &LearningCommand) -> Result<(), Error> {
    match command {
        LearningCommand::Ingest { kind, file, json } => {
            ingest(cli, (*kind).into(), file, *json).await
        }
        LearningCommand::Analyze { name, json } => analyze(cli, name.as_deref(), *json).await,
        LearningCommand::Weights { name, json } => weights(cli, name.as_deref(), *json).await,
        LearningCommand::Run { name, json } => pass(cli, name.as_deref(), *json).await,
    }
}

async fn ingest(cli: &Cli, kind: Kind, file: &Path, json: bool) -> Result<(), Error> {
    let (source, data) = super::read_input(file)?;
    let (service, _) = open(cli, Access::Create).await?;
    let rows = match learning::parse_jsonl(kind, &source, &data) {
        Ok(rows) => rows,
        Err(e) => {
            // Counted in the shadow report, with the reasons.
            let reasons = e.errors.iter().map(|r| r.message.clone()).collect();
            service.reject_learning(kind, reasons).await;
            return Err(e.into());
        }
    };
    let report = service.ingest_learning(&rows).await?;
    if json {
        print_json(&report);
    } else {
        println!(
            "ingested {} {kind} row(s); {} duplicate(s) skipped",
            report.inserted, report.duplicates
        );
    }
    Ok(())
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

fn weights_table(rows: &[(&str, Option<&Weights>)]) -> String {
    let mut out = String::new();
    let features: Vec<&String> = rows
        .iter()
        .filter_map(|(_, w)| *w)
        .flat_map(|w| w.map().keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let _ = write!(out, "  {:<18}", "weight");
    for (label, _) in rows {
        let _ = write!(out, " {label:>10}");
    }
    out.push('\n');
    for f in features {
        let _ = write!(out, "  {f:<18}");
        for (_, w) in rows {
            let _ = write!(out, " {:>10}", opt(w.and_then(|w| w.get(f)), 6));
        }
        out.push('\n');
    }
    out
}

fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} pairs over {} days (match window {} days); {} discoveries, {} theses, {} closed outcomes",
        r.rollout, r.pairs, r.window_days, r.match_window_days, r.counts.discoveries, r.counts.theses, r.counts.outcomes
    );
    let _ = writeln!(
        out,
        "success rate: {} (95% CI {} - {}, {} of {})",
        opt(r.success.rate, 3),
        opt(r.success.ci_low, 3),
        opt(r.success.ci_high, 3),
        r.success.successes,
        r.success.n
    );
    let _ = writeln!(
        out,
        "  {:<18} {:>6} {:>9} {:>10} {:>9} {:>10} {:>10}",
        "feature", "n", "pearson", "p", "spearman", "p", "threshold"
    );
    for (f, a) in &r.features {
        if a.status == FeatureStatus::InsufficientData {
            let _ = writeln!(
                out,
                "  {f:<18} {:>6} insufficient_data: {}",
                a.n,
                a.reason.as_deref().unwrap_or("")
            );
            continue;
        }
        let _ = writeln!(
            out,
            "  {f:<18} {:>6} {:>9} {:>10} {:>9} {:>10} {:>10}",
            a.n,
            opt(a.pearson, 4),
            a.pearson_p.map_or("-".into(), |p| format!("{p:.2e}")),
            opt(a.spearman, 4),
            a.spearman_p.map_or("-".into(), |p| format!("{p:.2e}")),
            opt(a.optimal_threshold, 3),
        );
    }
    if let Some(p) = &r.patterns {
        let _ = writeln!(
            out,
            "top decile: {} pairs, mean return {:.3}; bottom decile: {} pairs, mean return {:.3}",
            p.success.n, p.success.mean_return, p.failure.n, p.failure.mean_return
        );
    }
    let w = &r.weights;
    let _ = writeln!(
        out,
        "weights{}: {}{}",
        if w.fallback { " (fallback)" } else { "" },
        w.reason,
        w.regime
            .as_deref()
            .map_or(String::new(), |g| format!("; regime {g}"))
    );
    out.push_str(&weights_table(&[
        ("current", Some(&w.current)),
        ("suggested", Some(&w.suggested)),
        ("next", Some(&w.next)),
    ]));
    out
}

async fn analyze(cli: &Cli, name: Option<&str>, json: bool) -> Result<(), Error> {
    let (service, _) = open(cli, Access::Existing).await?;
    let report = service.learning_analyze(name).await?;
    if json {
        print_json(&report);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

async fn weights(cli: &Cli, name: Option<&str>, json: bool) -> Result<(), Error> {
    let (service, _) = open(cli, Access::Existing).await?;
    let view = service.learning_weights(name).await?;
    if json {
        print_json(&view);
        return Ok(());
    }
    match &view.computed_at {
        Some(at) => println!(
            "{}: computed {} from {} pairs{}: {}",
            view.rollout,
            at.to_rfc3339(),
            view.sample_size.unwrap_or(0),
            if view.fallback == Some(true) {
                " (fallback)"
            } else {
                ""
            },
            view.reason.as_deref().unwrap_or("")
        ),
        None => println!("{}: no weights computed yet", view.rollout),
    }
    print!(
        "{}",
        weights_table(&[
            ("current", view.current.as_ref()),
            ("suggested", view.suggested.as_ref()),
            ("published", view.published.as_ref()),
            ("conservative", Some(&view.conservative)),
        ])
    );
    if view.published_text.is_none() {
        println!(
            "  {} is not in the flags table yet (the daemon writes it at its next tick)",
            view.key
        );
    }
    Ok(())
}

async fn pass(cli: &Cli, name: Option<&str>, json: bool) -> Result<(), Error> {
    let (service, _) = open(cli, Access::Existing).await?;
    let out = service
        .learning_run(name, &Writer::person(person(cli)))
        .await?;
    if json {
        print_json(&out);
    } else {
        print!("{}", render(&out.report));
        println!(
            "{}: {} ({})",
            out.report.rollout, out.publication, out.detail
        );
    }
    Ok(())
}
