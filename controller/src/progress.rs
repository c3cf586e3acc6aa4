//! Progress while a run or a soak goes: an indicatif bar on a terminal, a plain line every
//! few seconds when stderr is not one (CI logs), nothing with `--quiet`.
//!
//! A single run drives the bar by its elapsed time. A soak owns the bar (runs done, or time
//! spent, of the whole soak) and sets a prefix with its totals; its runs only update the
//! message.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// What the bar shows of a run.
pub struct Snapshot<'a> {
    pub phase: &'a str,
    pub elapsed_s: f64,
    pub total_s: f64,
    pub decisions: u64,
    pub in_flight: usize,
    pub dropped: u64,
    pub nemesis: &'a str,
}

/// A bar's message is redrawn at 5 Hz: one built more often than this is never seen.
const BAR_UPDATE_MS: u64 = 50;

enum Out {
    Quiet,
    Bar { bar: ProgressBar, last: Instant },
    Lines { every: Duration, last: Instant },
}

pub struct Progress {
    out: Out,
    /// Set by a soak: its totals, shown before the run's line.
    prefix: String,
    /// Whether a soak owns the bar's position.
    soak: bool,
}

impl Progress {
    /// Progress of a single run.
    pub fn for_run(quiet: bool) -> Progress {
        Progress {
            out: Progress::out(quiet, "{spinner} [{elapsed_precise}] {bar:30} eta {eta} {msg}"),
            prefix: String::new(),
            soak: false,
        }
    }

    /// Progress of a soak: the bar counts `units` (runs, or tenths of a second).
    pub fn for_soak(quiet: bool, units: u64) -> Progress {
        let out = Progress::out(quiet, "{spinner} [{elapsed_precise}] {bar:25} {msg}");
        if let Out::Bar { bar, .. } = &out {
            bar.set_length(units);
        }
        Progress { out, prefix: String::new(), soak: true }
    }

    fn out(quiet: bool, template: &str) -> Out {
        if quiet {
            return Out::Quiet;
        }
        if !std::io::stderr().is_terminal() {
            return Out::Lines { every: Duration::from_secs(5), last: Instant::now() };
        }
        let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr_with_hz(5));
        let style = ProgressStyle::with_template(template).expect("valid template").progress_chars("=> ");
        bar.set_style(style);
        Out::Bar { bar, last: Instant::now() }
    }

    /// A run begins that will take about `total_s`.
    pub fn start_run(&mut self, total_s: f64) {
        if let (Out::Bar { bar, .. }, false) = (&self.out, self.soak) {
            bar.set_length((total_s * 10.0) as u64);
            bar.set_position(0);
        }
    }

    pub fn set_prefix(&mut self, prefix: String) {
        self.prefix = prefix;
    }

    /// The soak's own position on its bar.
    pub fn set_position(&mut self, units: u64) {
        if let Out::Bar { bar, .. } = &self.out {
            bar.set_position(units);
        }
    }

    /// Whether an update now would be shown: the run loop asks before it builds a
    /// [`Snapshot`], every turn (a simulated run takes hundreds of thousands of turns a
    /// second; building each one's line cost more than a percent of it).
    pub fn wants_update(&self) -> bool {
        match &self.out {
            Out::Quiet => false,
            Out::Bar { last, .. } => last.elapsed() >= Duration::from_millis(BAR_UPDATE_MS),
            Out::Lines { every, last } => last.elapsed() >= *every,
        }
    }

    pub fn update(&mut self, s: &Snapshot) {
        let line = format!(
            "{}{}: {} decisions, {} in flight, {} dropped, nemesis: {}",
            self.prefix, s.phase, s.decisions, s.in_flight, s.dropped, s.nemesis
        );
        match &mut self.out {
            Out::Quiet => {}
            Out::Bar { bar, last } => {
                *last = Instant::now();
                if !self.soak {
                    bar.set_position((s.elapsed_s.min(s.total_s) * 10.0) as u64);
                }
                bar.set_message(line);
            }
            Out::Lines { every, last } => {
                if last.elapsed() >= *every {
                    *last = Instant::now();
                    eprintln!("[{:6.1}s / {:.0}s] {line}", s.elapsed_s, s.total_s);
                }
            }
        }
    }

    /// A run ended (a single run's bar goes away; a soak's stays).
    pub fn finish_run(&mut self) {
        if !self.soak {
            self.finish();
        }
    }

    pub fn finish(&mut self) {
        if let Out::Bar { bar, .. } = &self.out {
            bar.finish_and_clear();
        }
    }

    /// Prints a line above the bar (or on stderr without one).
    pub fn println(&self, line: &str) {
        match &self.out {
            Out::Quiet => {}
            Out::Bar { bar, .. } => bar.println(line),
            Out::Lines { .. } => eprintln!("{line}"),
        }
    }
}
