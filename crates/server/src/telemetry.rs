use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSection};

/// Installs the process's log output. Call once, from `main`. `routine`: a one-off command
/// (`post list`, `config check`, ...) whose output is for a person: the migrations it runs
/// first say nothing unless something is wrong (`serve` and `migrate` still log them).
pub fn init(log: &LogSection, routine: bool) {
    let mut filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    // An operator who named the target in log.level gets what they asked for.
    if routine
        && !log.level.contains("sea_orm_migration")
        && let Ok(quiet) = "sea_orm_migration=warn".parse()
    {
        filter = filter.add_directive(quiet);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // journald and log files get plain text; colours only on a terminal.
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if installed.is_err() {
        eprintln!("logging was already set up; keeping the existing subscriber");
    }
}
