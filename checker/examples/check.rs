//! Checks a history and prints the report, as `synod check` will:
//! `cargo run -p synod-checker --example check -- <run-dir | history.jsonl[.zst]> [--json]`.
//! Exits 0 valid (or truncated and safe), 1 unsafe, 2 unreadable, 3 not live.

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let Some(path) = args.iter().find(|a| !a.starts_with("--")).map(PathBuf::from) else {
        eprintln!("usage: check <run-dir | history.jsonl[.zst]> [--json]");
        std::process::exit(synod_checker::EXIT_UNREADABLE);
    };
    match synod_checker::check_path(&path) {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print!("{}", report.render_text());
            }
            std::process::exit(report.exit_code());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(synod_checker::EXIT_UNREADABLE);
        }
    }
}
