//! The `folio` program as a library, so that tests build exactly what the binary runs.

pub mod app;
pub mod backup;
pub mod cli;
pub mod config;
pub mod connections;
pub mod demo;
pub mod export;
pub mod markdown_bench;
pub mod session_cli;
pub mod telemetry;
pub mod wordpress;
pub mod wxr;

pub use app::App;
pub use config::Settings;
