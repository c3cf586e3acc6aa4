//! synod-checker: reads a history and checks it (see docs/history.md).
