//! Progress while a run goes: an indicatif bar on a terminal, a plain line every few seconds
//! when stderr is not one (CI logs), nothing with `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// What the bar shows.
pub struct Snapshot<'a> {
    pub phase: &'a str,
    pub elapsed_s: f64,
    pub total_s: f64,
    pub decisions: u64,
    pub in_flight: usize,
    pub dropped: u64,
    pub nemesis: &'a str,
}

pub enum Progress {
    Quiet,
    Bar(ProgressBar),
    Lines { every: Duration, last: Instant },
}

impl Progress {
    pub fn new(quiet: bool, total_s: f64) -> Progress {
        if quiet {
            return Progress::Quiet;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Lines { every: Duration::from_secs(5), last: Instant::now() };
        }
        let bar = ProgressBar::with_draw_target(
            Some((total_s * 10.0) as u64),
            ProgressDrawTarget::stderr_with_hz(5),
        );
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} eta {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> ");
        bar.set_style(style);
        Progress::Bar(bar)
    }

    pub fn update(&mut self, s: &Snapshot) {
        let line = format!(
            "{}: {} decisions, {} in flight, {} dropped, nemesis: {}",
            s.phase, s.decisions, s.in_flight, s.dropped, s.nemesis
        );
        match self {
            Progress::Quiet => {}
            Progress::Bar(bar) => {
                bar.set_position((s.elapsed_s.min(s.total_s) * 10.0) as u64);
                bar.set_message(line);
            }
            Progress::Lines { every, last } => {
                if last.elapsed() >= *every {
                    *last = Instant::now();
                    eprintln!("[{:6.1}s / {:.0}s] {line}", s.elapsed_s, s.total_s);
                }
            }
        }
    }

    pub fn finish(&mut self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
