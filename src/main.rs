//! The `clawform` command line: parses arguments, calls the library, renders results.

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::error::ErrorKind;
use clap::Parser;

fn main() -> ExitCode {
    let argv = cli::args::with_terraform_dashes(std::env::args_os().collect());
    let args = match cli::args::Cli::try_parse_from(argv) {
        Ok(args) => args,
        // Help and version are answers, not errors. Anything else is a usage error: exit 1, as
        // Terraform does, never 2, which `--detailed-exitcode` gives to "changes" (a mistyped
        // flag in CI must not read as a plan with changes).
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) { 0 } else { 1 });
        }
    };
    cli::init_tracing(args.log_level.as_deref(), args.no_color);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let code = runtime.block_on(async {
        watch_interrupts(stop.clone());
        cli::run(args, stop).await
    });
    ExitCode::from(code)
}

/// Ctrl-C (SIGINT) handling. The first one asks the command to stop: an apply starts no new
/// operation, lets those in flight finish, saves state, releases its lock and exits 130. A
/// second one exits at once (work in flight is cut off; the lock may be left behind).
fn watch_interrupts(stop: Arc<AtomicBool>) {
    // Registered here, before any work starts, so that no SIGINT falls through to the default
    // action (dying with the lock held and state unsaved).
    let mut signals = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Warning: cannot catch Ctrl-C ({e}); an interrupt will end clawform at once");
            return;
        }
    };
    tokio::spawn(async move {
        if signals.recv().await.is_none() {
            return;
        }
        stop.store(true, Ordering::SeqCst);
        eprintln!("\nInterrupt received: no new operation will start; waiting for those in flight, then saving state. Press Ctrl-C again to exit at once.");
        if signals.recv().await.is_none() {
            return;
        }
        eprintln!("\nSecond interrupt: exiting now. Operations in flight may have completed in AWS without being saved; the next apply adopts them by their tags. If the stack stays locked, run `clawform force-unlock STACK`.");
        std::process::exit(i32::from(cli::INTERRUPTED));
    });
}
