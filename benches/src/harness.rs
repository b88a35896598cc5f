//! The measuring method (see the workspace README, "Benchmarks"): each pair runs in
//! alternating batches — raw, library, library, raw, … — for a number of rounds in one
//! process; per round we take the time per operation of each side and their ratio; we report
//! medians with p25/p75, and the median of the per-round ratios. Noise that hits a whole
//! stretch of time hits both sides of a round alike, so the ratio holds where absolute times
//! drift by 30 %.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// One operation to time.
pub(crate) type Op<'a> = Box<dyn FnMut() + 'a>;

/// A library operation beside the primitive under it.
pub(crate) struct Pair<'a> {
    pub(crate) name: &'static str,
    pub(crate) raw_name: &'static str,
    pub(crate) raw: Op<'a>,
    pub(crate) lib: Op<'a>,
    /// The ratio the library must stay under (`--check` fails past goal × 1.15).
    pub(crate) goal: Option<f64>,
}

/// Run settings.
#[derive(Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) rounds: usize,
    /// Target time per batch; the batch size is calibrated to it.
    pub(crate) batch_time: Duration,
}

/// What one pair measured.
pub(crate) struct Outcome {
    pub(crate) name: &'static str,
    pub(crate) ratio: f64,
    pub(crate) goal: Option<f64>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn time_batch(op: &mut Op<'_>, n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        op();
    }
    black_box(());
    start.elapsed().as_secs_f64() / f64::from(n)
}

fn calibrate(op: &mut Op<'_>, target: Duration) -> u32 {
    let one = time_batch(op, 1).max(1e-9);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = (target.as_secs_f64() / one).clamp(1.0, 1_000_000.0) as u32;
    n
}

pub(crate) fn fmt_time(s: f64) -> String {
    if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.0} ns", s * 1e9)
    }
}

/// Measures one pair and prints its line.
pub(crate) fn run(mut pair: Pair<'_>, settings: Settings) -> Outcome {
    // Warm up both, then size batches so each takes about `batch_time`.
    let n_raw = calibrate(&mut pair.raw, settings.batch_time);
    let n_lib = calibrate(&mut pair.lib, settings.batch_time);
    let (mut raw, mut lib, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..settings.rounds {
        let (r, l) = if round % 2 == 0 {
            let r = time_batch(&mut pair.raw, n_raw);
            (r, time_batch(&mut pair.lib, n_lib))
        } else {
            let l = time_batch(&mut pair.lib, n_lib);
            (time_batch(&mut pair.raw, n_raw), l)
        };
        raw.push(r);
        lib.push(l);
        ratios.push(l / r);
    }
    for v in [&mut raw, &mut lib, &mut ratios] {
        v.sort_by(f64::total_cmp);
    }
    let ratio = quantile(&ratios, 0.5);
    let goal = pair.goal.map_or_else(String::new, |g| format!("  goal ≤ {g:.2}×"));
    println!(
        "{:<44} {:>10} (p25 {:>10}, p75 {:>10})  | {:<34} {:>10}  | ratio {:.3}× (p25 {:.3}, p75 {:.3}){goal}",
        pair.name,
        fmt_time(quantile(&lib, 0.5)),
        fmt_time(quantile(&lib, 0.25)),
        fmt_time(quantile(&lib, 0.75)),
        pair.raw_name,
        fmt_time(quantile(&raw, 0.5)),
        ratio,
        quantile(&ratios, 0.25),
        quantile(&ratios, 0.75),
    );
    Outcome { name: pair.name, ratio, goal: pair.goal }
}
