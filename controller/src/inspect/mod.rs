//! Looking at recorded runs: `synod ls` (one line a run, from the summaries), `synod show`
//! (a run's summary and first anomaly, its raw timeline, or one instance as a text
//! message diagram) and `synod compare` (runs side by side).

pub mod compare;
pub mod diagram;
pub mod ls;
pub mod show;
pub mod summary;
pub mod timeline;

/// Snapshot tests (as insta does, without the dependency): the text must equal
/// `src/inspect/snapshots/<name>`; `UPDATE_SNAPSHOTS=1` rewrites it.
#[cfg(test)]
pub fn assert_snapshot(name: &str, text: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/inspect/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_SNAPSHOTS=1 to make it)", path.display()));
    assert_eq!(text, want, "{name} changed; if on purpose, rerun with UPDATE_SNAPSHOTS=1");
}
