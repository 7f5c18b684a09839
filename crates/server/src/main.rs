use std::process::ExitCode;

use clap::Parser;
use folio_server::cli::{self, Cli};
use folio_server::{Settings, telemetry};

/// A server's pages are built in buffers of tens of kilobytes, one per request on every
/// thread; glibc's allocator consolidates its free lists on each such free (a tenth of a
/// signed-in page view's time in `perf`), mimalloc keeps them per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("folio: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log, cli.is_routine());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("folio: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes, outermost first.
            eprintln!("folio: {error:#}");
            ExitCode::FAILURE
        }
    }
}
