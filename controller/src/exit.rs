//! The controller's own exit code; the verdict's codes (0 valid, 1 unsafe, 3 not live) are the
//! checker's (`synod_checker::report`), and `synod mutants`'s 4 is `soak::hunt::EXIT_NOT_CAUGHT`
//! (docs/cli.md lists them all).

/// Exit code for usage errors, unreadable input and a bench that could not run.
pub const EXIT_ERROR: i32 = 2;
