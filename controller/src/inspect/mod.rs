//! Looking at recorded runs: `synod ls` (one line a run, from the summaries), `synod show`
//! (a run's summary and first anomaly, its raw timeline, or one instance as a text
//! message diagram) and `synod compare` (runs side by side).

pub mod compare;
pub mod diagram;
pub mod ls;
pub mod show;
pub mod summary;
pub mod timeline;
