//! The command line: `run`, `check`, `demo`, `fake`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;

/// Exit code for a configuration that cannot be used.
pub const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "A self-hosted operator desk for Telegram bots"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect every bot in the configuration and relay until stopped (SIGINT/SIGTERM);
    /// SIGHUP re-reads the configuration's bots.
    Run {
        /// The configuration file.
        #[arg(long, short, default_value = "bots.toml", env = "SWITCHBOARD_CONFIG")]
        config: PathBuf,
    },
    /// Check the configuration and print each bot's resolved settings (tokens masked).
    Check {
        /// The configuration file.
        #[arg(long, short, default_value = "bots.toml", env = "SWITCHBOARD_CONFIG")]
        config: PathBuf,
    },
    /// Play a scripted support conversation against a built-in fake Telegram; needs no token.
    Demo,
    /// Serve a fake Telegram Bot API (state in memory) for local tests of your own bots.
    ///
    /// Prints its base URL on the first line of stdout, then how to use it. Point a
    /// bot's Bot API base URL at it, create bots and users and act as them through
    /// the control API. It has no authentication: keep it on a local address.
    #[command(after_long_help = crate::fake::CONTROL_HELP)]
    Fake {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:8082")]
        listen: std::net::SocketAddr,
        /// Bots to create at start, each the admin of its own forum group.
        #[arg(long, default_value_t = 0)]
        bots: usize,
        /// Users to create at start.
        #[arg(long, default_value_t = 0)]
        users: usize,
    },
}

/// Parses the arguments and runs the command; errors become a message and an exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Demo | Command::Fake { .. }));
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            print_error(format_args!("error: {err:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { config } => Ok(match Config::load(&config) {
            Ok(config) => {
                // Not println!: it panics when stdout is closed (`| head`).
                use std::io::Write;
                let _ = writeln!(std::io::stdout(), "{}\nconfiguration OK", config.describe());
                ExitCode::SUCCESS
            }
            Err(err) => {
                print_error(err);
                ExitCode::from(EXIT_CONFIG)
            }
        }),
        Command::Run { config } => {
            // A problem confined to one bot's table sets that bot aside (the
            // app reports it); any other problem stops here.
            let loaded = match Config::load_for_run(&config) {
                Ok(loaded) => loaded,
                Err(err) => {
                    print_error(err);
                    return Ok(ExitCode::from(EXIT_CONFIG));
                }
            };
            raise_open_file_limit();
            runtime()?.block_on(async {
                let listener = crate::app::bind(loaded.config.http.listen).await?;
                let shutdown = CancellationToken::new();
                tokio::spawn(stop_on_signal(shutdown.clone()));
                let reload = Arc::new(Notify::new());
                reload_on_signal(Arc::clone(&reload))?;
                let options = crate::app::Options::default();
                crate::app::run_with_reload(loaded, listener, options, shutdown, reload).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            runtime()?.block_on(crate::demo::run(&mut std::io::stdout()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fake {
            listen,
            bots,
            users,
        } => {
            let setup = crate::fake::standalone::Setup { bots, users };
            runtime()?.block_on(async {
                let shutdown = CancellationToken::new();
                tokio::spawn(stop_on_signal(shutdown.clone()));
                crate::fake::standalone::run(listen, setup, &mut std::io::stdout(), shutdown).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Cancels `shutdown` on SIGINT or SIGTERM (systemd's stop).
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    shutdown.cancel();
}

/// Asks for a reload on every SIGHUP (systemd's `reload`). The handler is in
/// place when this returns: SIGHUP's default action would end the process.
#[cfg(unix)]
fn reload_on_signal(reload: Arc<Notify>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            reload.notify_one();
        }
    });
    Ok(())
}

/// No SIGHUP here: nothing asks for a reload.
#[cfg(not(unix))]
fn reload_on_signal(_reload: Arc<Notify>) -> anyhow::Result<()> {
    Ok(())
}

/// Logs to stderr; `RUST_LOG` overrides the level (default `info`, `warn` for the demo and the fake).
///
/// Logging never panics: when stderr is gone (the journal or a pipe reader
/// went away), tracing's own report of the failed write would go to stderr
/// with `eprintln!`, which panics, killing whichever task logged. So that
/// report is off, and the writer drops what cannot be written.
fn init_tracing(quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LossyStderr)
        .log_internal_errors(false)
        .try_init();
}

/// Stderr, where a failed write (EPIPE, EBADF, ...) counts as done: a log
/// line that cannot be written is lost, and nothing else happens.
struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The whole line at once, under stderr's lock, so that lines from
        // several threads never interleave.
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Writes a line to stderr; unlike `eprintln!`, does not panic when stderr is gone.
fn print_error(text: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Raises the soft limit on open files to the hard limit. The soft default
/// is often 1,024, while every HTTP client and every outgoing Bot API call
/// takes a descriptor; the hard limit (systemd's `LimitNOFILE`) is the one
/// the administrator chose.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!(limit, "open file limit"),
        Err(err) => warn!(cause = %err, "cannot raise the open file limit; keeping it"),
    }
}
