//! The `synod sim` command line that replays a simulated run: every flag a simulated run's
//! config depends on, written out (not only those that differ from the defaults, so that a
//! changed default does not change what it replays), with `--schedule` for its faults.
//! A test parses it back through `synod sim`'s own plan and compares the configs.

use crate::run::config::{RunConfig, Trace};
use std::path::Path;

/// `synod sim ...` for `cfg` with the schedule in `schedule`.
pub fn sim_command(cfg: &RunConfig, schedule: &Path) -> String {
    let list = |ids: &[u32]| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let t = &cfg.tuning;
    let mut args: Vec<String> = vec!["synod".into(), "sim".into()];
    let mut flag = |name: &str, value: String| {
        args.push(format!("--{name}"));
        args.push(value);
    };
    flag("seed", cfg.seed.to_string());
    flag("nodes", cfg.nodes.to_string());
    flag("acceptors", list(&cfg.acceptors));
    flag("proposers", list(&cfg.proposers));
    flag("learners", list(&cfg.learners));
    flag("time", cfg.time_s.to_string());
    if let Some(n) = cfg.instances {
        flag("instances", n.to_string());
    }
    flag("concurrency", cfg.concurrency.to_string());
    flag("contention", cfg.contention.to_string());
    flag("revisit", cfg.revisit.to_string());
    flag("op-timeout-ms", cfg.op_timeout_ms.to_string());
    flag("final-s", cfg.final_s.to_string());
    flag("trace", if cfg.trace == Trace::All { "all" } else { "ops" }.into());
    // A mutant on no node is no mutant (and --bug-nodes cannot name no node).
    if let Some(bug) = t.bug.filter(|_| !cfg.bug_nodes.is_empty()) {
        flag("bug", bug.name().into());
        flag("bug-nodes", list(&cfg.bug_nodes));
    }
    flag("phase-timeout-ms", t.phase_timeout_ms.to_string());
    flag("retain-decided", t.retain_decided.to_string());
    flag("compact-log-bytes", t.compact_log_bytes.to_string());
    flag("history-format", cfg.history_format.to_string());
    flag("runs-dir", cfg.runs_dir.display().to_string());
    flag("schedule", schedule.display().to_string());
    if !t.backoff {
        args.push("--no-backoff".into());
    }
    if !t.fast_round {
        args.push("--no-fast-round".into());
    }
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// A word for a POSIX shell: as is when it is plain, else in single quotes.
fn quote(word: &str) -> String {
    let plain =
        !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./,:=+@".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::{Action, Schedule, Timed};

    /// The printed command, parsed by `synod sim`'s own plan, gives the same config (but the
    /// nemesis intensities, which a `--schedule` run does not use, and `quiet`).
    #[test]
    fn the_replay_command_parses_back_to_the_same_config() {
        let dir = std::env::temp_dir().join(format!("synod-shrink-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let schedule_path = dir.join("schedule.jsonl");
        let schedule = Schedule::from(vec![Timed { at_us: 500_000, action: Action::Loss { p: 0.125 } }]);
        std::fs::write(&schedule_path, crate::nemesis::file::render_schedule(&schedule)).unwrap();
        let mut cfg = RunConfig::defaults(5, 42);
        cfg.proposers = vec![2, 4];
        cfg.time_s = 1.3;
        cfg.final_s = 0.4;
        cfg.instances = Some(7);
        cfg.concurrency = 3;
        cfg.contention = 1;
        cfg.revisit = 0.0;
        cfg.tuning.bug = Some("learn-on-one".parse().unwrap());
        cfg.bug_nodes = vec![1, 3];
        cfg.tuning.fast_round = false;
        cfg.runs_dir = dir.join("runs dir");
        cfg.schedule = crate::run::config::ScheduleSource::File { path: schedule_path.clone() };
        let line = sim_command(&cfg, &schedule_path);
        assert!(line.contains("'"), "the runs dir has a space: quoted ({line})");
        let words = shell_words(&line);
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(&words).unwrap();
        let crate::cli::Command::Sim(args) = cli.command else { panic!("parsed a sim") };
        let (parsed, parsed_schedule) = crate::commands::flags::sim_plan(&args).unwrap();
        assert_eq!(parsed_schedule, schedule);
        let json = |c: &RunConfig| {
            let mut v = serde_json::to_value(c).unwrap();
            v.as_object_mut().unwrap().remove("nemesis");
            v
        };
        assert_eq!(json(&parsed), json(&cfg));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Splits what [`quote`] wrote.
    fn shell_words(line: &str) -> Vec<String> {
        let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    quoted = !quoted;
                    any = true;
                }
                '\\' if !quoted => word.extend(chars.next()),
                ' ' if !quoted => {
                    if any || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    any = false;
                }
                c => word.push(c),
            }
        }
        if any || !word.is_empty() {
            words.push(word);
        }
        words
    }
}
