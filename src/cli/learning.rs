//! `rollout learning ...`: ingest, analyze, weights, run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::Utc;
use serde::Serialize;

use super::{open, person, print_json, rollout, Cli, LearningCommand};
use crate::config::{Config, Rollout};
use crate::error::{AppError, Error};
use crate::learning::{self, FeatureStatus, Kind, Report, Weights};
use crate::store::Writer;

pub async fn run(cli: &Cli, command: &LearningCommand) -> Result<(), Error> {
    match command {
        LearningCommand::Ingest { kind, file, json } => ingest(cli, *kind, file, *json).await,
        LearningCommand::Analyze { name, json } => analyze(cli, name.as_deref(), *json).await,
        LearningCommand::Weights { name, json } => weights(cli, name.as_deref(), *json).await,
        LearningCommand::Run { name, json } => pass(cli, name.as_deref(), *json).await,
    }
}

/// The named rollout, or the only one with an `analysis:` block.
fn analysed<'a>(config: &'a Config, name: Option<&str>) -> Result<&'a Rollout, Error> {
    if let Some(name) = name {
        let r = rollout(config, name)?;
        learning::config_of(r)?;
        return Ok(r);
    }
    let with: Vec<&Rollout> = config
        .rollouts
        .iter()
        .filter(|r| r.analysis.is_some())
        .collect();
    match with.as_slice() {
        [r] => Ok(r),
        [] => Err(AppError::InvalidInput(
            "no rollout has an `analysis:` block in the configuration".into(),
        )
        .into()),
        many => Err(AppError::InvalidInput(format!(
            "several rollouts have an `analysis:` block ({}); name one",
            many.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into()),
    }
}

async fn ingest(cli: &Cli, kind: Kind, file: &Path, json: bool) -> Result<(), Error> {
    let (source, data) = super::read_input(file)?;
    let rows = learning::parse_jsonl(kind, &source, &data)?;
    let (_, store, _) = open(cli).await?;
    let report = store.ingest_learning(&rows).await?;
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
    let (config, store, _) = open(cli).await?;
    let r = analysed(&config, name)?;
    let report = learning::analyze(&*store, r, learning::config_of(r)?, Utc::now()).await?;
    if json {
        print_json(&report);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

async fn weights(cli: &Cli, name: Option<&str>, json: bool) -> Result<(), Error> {
    let (config, store, _) = open(cli).await?;
    let r = analysed(&config, name)?;
    let cfg = learning::config_of(r)?;
    let latest = store.latest_weights(r.name.as_str()).await?;
    let flags = store.rollout_flags(r.name.as_str()).await?;
    let key = r.flag_prefix.key("WEIGHTS");
    let published_text = flags.get(&key).cloned();
    let published = published_text.as_deref().and_then(Weights::from_json);
    #[derive(Serialize)]
    struct View<'a> {
        rollout: &'a str,
        computed_at: Option<chrono::DateTime<Utc>>,
        current: Option<&'a Weights>,
        suggested: Option<&'a Weights>,
        published: Option<&'a Weights>,
        conservative: &'a Weights,
        fallback: Option<bool>,
        reason: Option<&'a str>,
        confidence: Option<f64>,
        sample_size: Option<u64>,
        regime: Option<&'a str>,
        flag: BTreeMap<&'a str, Option<&'a str>>,
    }
    let view = View {
        rollout: r.name.as_str(),
        computed_at: latest.as_ref().map(|l| l.computed_at),
        current: latest.as_ref().map(|l| &l.final_weights),
        suggested: latest.as_ref().map(|l| &l.suggested),
        published: published.as_ref(),
        conservative: &cfg.conservative_weights,
        fallback: latest.as_ref().map(|l| l.fallback),
        reason: latest.as_ref().map(|l| l.reason.as_str()),
        confidence: latest.as_ref().and_then(|l| l.confidence),
        sample_size: latest.as_ref().map(|l| l.sample_size),
        regime: latest.as_ref().and_then(|l| l.regime.as_deref()),
        flag: [(key.as_str(), published_text.as_deref())]
            .into_iter()
            .collect(),
    };
    if json {
        print_json(&view);
        return Ok(());
    }
    match &latest {
        Some(l) => println!(
            "{}: computed {} from {} pairs{}: {}",
            r.name,
            l.computed_at.to_rfc3339(),
            l.sample_size,
            if l.fallback { " (fallback)" } else { "" },
            l.reason
        ),
        None => println!("{}: no weights computed yet", r.name),
    }
    print!(
        "{}",
        weights_table(&[
            ("current", view.current),
            ("suggested", view.suggested),
            ("published", view.published),
            ("conservative", Some(view.conservative)),
        ])
    );
    if published_text.is_none() {
        println!("  {key} is not in the flags table yet (the daemon writes it at its next tick)");
    }
    Ok(())
}

async fn pass(cli: &Cli, name: Option<&str>, json: bool) -> Result<(), Error> {
    let (config, store, _) = open(cli).await?;
    let r = analysed(&config, name)?;
    let writer = Writer::person(person(cli));
    let out = learning::run(&*store, r, &writer, Utc::now()).await?;
    if json {
        print_json(&out);
    } else {
        print!("{}", render(&out.report));
        println!("{}: {} ({})", r.name, out.publication, out.detail);
    }
    Ok(())
}
