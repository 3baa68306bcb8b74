//! The model against itself: the network replay agrees with the exact figures where
//! losses are frequent enough to count, and the exact figures move the way they must.

use std::time::Duration;

use super::cli::{DurabilityArgs, execute};
use super::settings::parse_scheme;
use super::*;

/// Grid for fixed-delay figures in tests (the bracket is checked, not assumed).
const CELLS: usize = 4000;

fn settings(scheme: &str, churn: &str, years: f64, delay: Duration, kind: DelayKind) -> Settings {
    let s = Settings {
        scheme: parse_scheme(scheme).unwrap(),
        nodes: 50_000,
        churn: churn.parse().unwrap(),
        years,
        repair_delay: delay,
        delay_kind: kind,
        detection: Detection::None,
        segments: 1_000_000,
    };
    s.validate().unwrap();
    s
}

/// A delay of `x` mean piece lifetimes.
fn lifetimes(s: &str, x: f64) -> Duration {
    let c: Churn = s.parse().unwrap();
    Duration::from_secs_f64(x / c.per_second)
}

/// Runs both methods and checks that they agree: loss within 3 standard errors of a
/// binomial sample at the exact probability (plus half the exact bracket), and repair
/// traffic and queue depth within 3 of their own standard errors plus 0.2% (the
/// fixed-delay grid and quadrature).
fn agree(s: &Settings, samples: usize, seed: u64) {
    let exact = exact_figures(s, CELLS);
    let sampled = sampler::run(s, samples, seed);
    let p = exact.outcome.loss_probability;
    assert!(
        (1e-3..=0.5).contains(&p),
        "not a stressed setting: P(loss) = {p}"
    );
    let [lo, hi] = exact.loss_bounds;
    assert!(lo <= p && p <= hi, "{lo} {p} {hi}");
    let se = (p * (1.0 - p) / samples as f64).sqrt();
    let got = sampled.outcome.loss_probability;
    let tolerance = 3.0 * se + (hi - lo) / 2.0;
    eprintln!(
        "{} {} {:?}: exact {p:.5} [{lo:.5}, {hi:.5}], sampled {got:.5} ({} of {samples}), {:+.2} se",
        s.scheme,
        s.delay_kind,
        s.repair_delay,
        sampled.lost,
        (got - p) / se
    );
    assert!(
        (got - p).abs() <= tolerance,
        "loss: exact {p}, sampled {got}, tolerance {tolerance}"
    );
    let moved = |o: &Outcome| o.pieces_downloaded + o.pieces_uploaded;
    let (e, m) = (moved(&exact.outcome), moved(&sampled.outcome));
    let tol = 3.0 * sampled.pieces_moved_standard_error + 0.002 * e;
    eprintln!(
        "  pieces moved per segment: exact {e:.4}, sampled {m:.4} ({:+.2} se)",
        (m - e) / sampled.pieces_moved_standard_error
    );
    assert!((m - e).abs() <= tol, "traffic: exact {e}, sampled {m}");
    let (e, m) = (
        exact.outcome.queued_fraction,
        sampled.outcome.queued_fraction,
    );
    let tol = 3.0 * sampled.queued_standard_error + 0.002 * e;
    eprintln!(
        "  queued fraction: exact {e:.5}, sampled {m:.5} ({:+.2} se)",
        (m - e) / sampled.queued_standard_error
    );
    assert!((m - e).abs() <= tol, "queue: exact {e}, sampled {m}");
}

const FAST: &str = "20%/month";

#[test]
fn sampler_agrees_with_exact_4_6_8_10_fixed() {
    let s = settings(
        "4/6/8/10",
        FAST,
        25.0 / 12.0,
        lifetimes(FAST, 0.1),
        DelayKind::Fixed,
    );
    agree(&s, 20_000, 11);
}

#[test]
fn sampler_agrees_with_exact_4_6_8_10_exponential() {
    let s = settings(
        "4/6/8/10",
        FAST,
        25.0 / 12.0,
        lifetimes(FAST, 0.05),
        DelayKind::Exponential,
    );
    agree(&s, 20_000, 12);
}

#[test]
fn sampler_agrees_with_exact_10_12_14_16_fixed() {
    let s = settings(
        "10/12/14/16",
        FAST,
        10.0 / 12.0,
        lifetimes(FAST, 0.05),
        DelayKind::Fixed,
    );
    agree(&s, 20_000, 13);
}

#[test]
fn sampler_agrees_with_exact_10_12_14_16_exponential() {
    let s = settings(
        "10/12/14/16",
        FAST,
        10.0 / 12.0,
        lifetimes(FAST, 0.02),
        DelayKind::Exponential,
    );
    agree(&s, 20_000, 14);
}

#[test]
fn sampler_agrees_with_exact_29_35_80_110_both_delays() {
    for (kind, x, seed) in [
        (DelayKind::Fixed, 0.1, 15),
        (DelayKind::Exponential, 0.04, 16),
    ] {
        let s = settings("29/35/80/110", FAST, 2.0, lifetimes(FAST, x), kind);
        agree(&s, 2000, seed);
    }
}

fn realistic(churn: &str, delay_hours: u64, kind: DelayKind) -> Settings {
    let mut s = settings(
        "29/35/80/110",
        churn,
        10.0,
        Duration::from_secs(delay_hours * 3600),
        kind,
    );
    s.nodes = 10_000;
    s.detection = Detection::Real;
    s
}

fn loss(s: &Settings) -> f64 {
    exact_figures(s, CELLS).outcome.loss_probability
}

#[test]
fn exponential_delays_lose_far_more_than_fixed_ones_at_real_settings() {
    let fixed = loss(&realistic("2%/month", 6, DelayKind::Fixed));
    let exponential = loss(&realistic("2%/month", 6, DelayKind::Exponential));
    eprintln!("29/35/80/110 2%/month 10y 6h: fixed {fixed:e}, exponential {exponential:e}");
    assert!(
        fixed > 0.0,
        "the fixed figure resolves a probability: {fixed}"
    );
    // Long waits dominate the exponential's losses: at least two nines apart.
    assert!(
        exponential > 100.0 * fixed,
        "fixed {fixed:e}, exponential {exponential:e}"
    );
}

#[test]
fn more_churn_and_longer_delays_lose_more() {
    for kind in [DelayKind::Fixed, DelayKind::Exponential] {
        let base = loss(&realistic("2%/month", 6, kind));
        let churn = loss(&realistic("4%/month", 6, kind));
        let delay = loss(&realistic("2%/month", 12, kind));
        assert!(base > 0.0);
        assert!(churn > base, "{kind}: churn {churn:e} vs {base:e}");
        assert!(delay > base, "{kind}: delay {delay:e} vs {base:e}");
        let mut longer = realistic("2%/month", 6, kind);
        longer.years = 20.0;
        assert!(loss(&longer) > base, "{kind}: a longer horizon");
    }
}

#[test]
fn more_churn_means_more_repair_traffic_and_a_deeper_queue() {
    let base = exact_figures(&realistic("2%/month", 6, DelayKind::Exponential), CELLS);
    let more = exact_figures(&realistic("4%/month", 6, DelayKind::Exponential), CELLS);
    assert!(more.outcome.pieces_uploaded > 1.5 * base.outcome.pieces_uploaded);
    assert!(more.outcome.queued_fraction > 1.5 * base.outcome.queued_fraction);
    // Roughly: one repair per descent from 80 to 35 pieces, ~0.8 lifetimes of 50 months.
    let per_year = base.outcome.repairs / 10.0;
    let expect = 12.0 * 0.02 / (80f64 / 35.0).ln();
    assert!(
        (per_year / expect - 1.0).abs() < 0.2,
        "{per_year} vs {expect}"
    );
}

fn args() -> DurabilityArgs {
    DurabilityArgs {
        scheme: "29/35/80/110".into(),
        nodes: 10_000,
        churn: "2%/month".into(),
        years: "10".into(),
        repair_delay: "6h".into(),
        delay_distribution: "exponential".into(),
        detection: "real".into(),
        segments: 1_000_000,
        samples: None,
        seed: 1,
        json: false,
    }
}

#[test]
fn bad_arguments_give_clear_errors() {
    type Change = fn(&mut DurabilityArgs);
    let cases: [(Change, &str); 8] = [
        (|a| a.scheme = "29/35/80".into(), "--scheme"),
        (|a| a.scheme = "abc".into(), "--scheme"),
        (|a| a.churn = "abc".into(), "--churn"),
        (|a| a.years = "-1".into(), "--years"),
        (|a| a.repair_delay = "-6h".into(), "repair delay"),
        (|a| a.detection = "soon".into(), "--detection"),
        (|a| a.nodes = 50, "--nodes"),
        (|a| a.samples = Some(0), "--samples"),
    ];
    for (change, named) in cases {
        let mut a = args();
        change(&mut a);
        let e = execute(&a).unwrap_err().to_string();
        assert!(e.contains(named), "{e:?} should name {named}");
    }
}

#[test]
fn the_command_prints_a_report_and_json() {
    let text = execute(&args()).unwrap();
    for needle in [
        "29/35/80/110",
        "nines",
        "bytes per byte of segment",
        "queue depth",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
    let mut a = args();
    a.json = true;
    let json: serde_json::Value = serde_json::from_str(&execute(&a).unwrap()).unwrap();
    let p = json["exact"]["loss_probability"].as_f64().unwrap();
    assert!(p > 0.0 && p < 1e-6, "{p}");
    assert_eq!(json["exact"]["method"]["kind"], "exact_chain");
    let expect = 0.02 * 12.0 * 10_000.0 / 365.25;
    let got = json["settings"]["network_departures_per_day"]
        .as_f64()
        .unwrap();
    assert!((got - expect).abs() < 1e-9, "{got}");
    assert!(json["sampler"].is_null());
    // The fixed-delay report, on the coarser test grid.
    let mut a = args();
    a.delay_distribution = "fixed".into();
    a.samples = Some(200);
    let options = Options {
        cells: CELLS,
        ..a.options()
    };
    let report = run(&a.settings().unwrap(), &options).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["exact"]["method"]["kind"], "exact_renewal");
    assert_eq!(json["settings"]["delay_distribution"], "fixed");
    assert_eq!(json["sampler"]["samples"], 200);
    assert_eq!(json["sampler"]["lost"], 0);
    assert!((json["sampler"]["loss_upper_95"].as_f64().unwrap() - 3.0 / 200.0).abs() < 1e-15);
}
