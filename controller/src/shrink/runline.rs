//! The kept run's history names its own folder. A candidate ran in the scratch folder with
//! its schedule in a scratch file, and its history's `run` line recorded both in its
//! `config` (`schedule.path`, `runs_dir`); once the run is moved out as `shrunk-<stamp>`
//! those name files that are gone. meta.json is rewritten to name the kept schedule; so is
//! the history's first line here, the rest of the history copied as it is (same format:
//! plain or one zstd frame).

use anyhow::{Context, Result};
use std::io::{BufRead, Write};
use std::path::Path;
use synod_checker::HistoryFormat;

/// Rewrites the `run` line of the history in `dir`: `config.schedule` becomes
/// `{"source":"file","path":schedule}` and `config.runs_dir` becomes `runs_dir`.
pub fn rewrite(dir: &Path, schedule: &Path, runs_dir: &Path) -> Result<()> {
    let mut reader = synod_checker::history_file::open(dir)
        .with_context(|| format!("cannot open the history in {}", dir.display()))?;
    let path = reader.path().to_path_buf();
    let format = reader.format();
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first).with_context(|| format!("cannot read {}", path.display()))?;
    let mut run: serde_json::Value = serde_json::from_slice(first.strip_suffix(b"\n").unwrap_or(&first))
        .with_context(|| format!("{}: the first line is not JSON", path.display()))?;
    anyhow::ensure!(run["type"] == "run", "{}: the first line is not the run line", path.display());
    run["config"]["schedule"] = serde_json::json!({ "source": "file", "path": schedule });
    run["config"]["runs_dir"] = serde_json::json!(runs_dir);
    let mut line = serde_json::to_vec(&run)?;
    line.push(b'\n');

    let tmp = dir.join(".history.rewrite.tmp");
    let mut write = || -> std::io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        match format {
            HistoryFormat::Jsonl => {
                let mut out = file;
                out.write_all(&line)?;
                std::io::copy(&mut reader, &mut out)?;
                out.flush()
            }
            HistoryFormat::Zst => {
                let mut enc = zstd::stream::write::Encoder::new(file, crate::history::ZSTD_LEVEL)?;
                enc.include_checksum(true)?;
                enc.write_all(&line)?;
                std::io::copy(&mut reader, &mut enc)?;
                enc.finish()?.flush()
            }
        }
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot rewrite {}", path.display()));
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot replace {}", path.display()))
}
