//! Every exit code of `synod`, in one enum (docs/cli.md, "Exit codes"). A command returns an
//! [`Exit`]; only `main` turns it into a process exit code.

use synod_checker::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: safe and live (every run of a soak; every mutant caught); a command that reads,
    /// prints or measures did its job.
    Ok,
    /// 1: a safety rule was violated (a scenario: its outcome was not the expected one).
    Unsafe,
    /// 2: usage error, unreadable input, an aborted run, a full disk, a bench that could not run.
    Error,
    /// 3: safe but not live.
    NotLive,
    /// 4: `synod mutants`: a mutant was not caught, or the hunt stopped early.
    NotCaught,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::Unsafe => 1,
            Exit::Error => 2,
            Exit::NotLive => 3,
            Exit::NotCaught => 4,
        }
    }

    /// The verdict's exit: the checker's code (`Report::exit_code`: 0, 1, 2 or 3).
    pub fn of_report(report: &Report) -> Exit {
        Exit::of_verdict_code(report.exit_code())
    }

    /// The exit for one of the checker's verdict codes.
    pub fn of_verdict_code(code: i32) -> Exit {
        match code {
            0 => Exit::Ok,
            1 => Exit::Unsafe,
            3 => Exit::NotLive,
            _ => Exit::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_checker::report::{EXIT_ABORTED, EXIT_NOT_LIVE, EXIT_OK, EXIT_UNREADABLE, EXIT_UNSAFE};

    #[test]
    fn the_checker_codes_map_to_the_same_numbers() {
        for code in [EXIT_OK, EXIT_UNSAFE, EXIT_UNREADABLE, EXIT_ABORTED, EXIT_NOT_LIVE] {
            assert_eq!(Exit::of_verdict_code(code).code(), code);
        }
        let all = [Exit::Ok, Exit::Unsafe, Exit::Error, Exit::NotLive, Exit::NotCaught];
        let codes: Vec<i32> = all.iter().map(|e| e.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4], "as docs/cli.md lists them");
    }
}
