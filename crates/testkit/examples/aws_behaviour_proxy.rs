//! The AWS behaviour layer (`clawform_testkit::aws_behaviour`) in front of a moto server, for
//! benchmarks that put it between clawform and moto: AWS's latency, throttling and eventual
//! consistency, at a chosen time scale.
//!
//! ```sh
//! cargo run -p clawform-testkit --example aws_behaviour_proxy -- http://127.0.0.1:5000 \
//!     --scale 0.01 --latency-ms 50 --behaviours all --without throttling --report counters.json
//! ```
//! prints the layer's endpoint (`http://127.0.0.1:PORT`) on stdout, then serves until SIGTERM or
//! SIGINT (or stdin's end, with `--exit-on-stdin-eof`), when it prints its counters (requests,
//! behaviours fired, requests throttled per bucket) as JSON on stderr. With `--report FILE` it
//! also writes them to FILE every `--every-ms` (1000) milliseconds and at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clawform_testkit::{Behaviour, BehaviourConfig, BehaviourProxy};

struct Options {
    upstream: String,
    config: BehaviourConfig,
    report: Option<PathBuf>,
    every: Duration,
    exit_on_stdin_eof: bool,
}

fn main() {
    let options = parse(std::env::args().skip(1).collect());
    let proxy = BehaviourProxy::start(&options.upstream, options.config.clone());
    println!("{}", proxy.endpoint);
    let _ = std::io::stdout().flush();
    let names: Vec<&str> = options.config.behaviours.iter().map(|b| b.name()).collect();
    eprintln!(
        "aws behaviour layer on {} -> {}: scale {}, latency {:?}, behaviours [{}]",
        proxy.endpoint,
        options.upstream,
        options.config.scale,
        options.config.latency,
        names.join(", ")
    );

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the signals");
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM can be caught");
        let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT can be caught");
        // Opt-in: a benchmark script that starts the layer in the background gives it an empty
        // stdin, which would end it at once.
        let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
        // Held while not watching stdin: a dropped sender would end the wait at once.
        let _unwatched = if options.exit_on_stdin_eof {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                let _ = closed.send(());
            });
            None
        } else {
            Some(closed)
        };
        tokio::pin!(stdin_closed);
        let mut tick = tokio::time::interval(options.every);
        loop {
            tokio::select! {
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
                _ = &mut stdin_closed => break,
                _ = tick.tick() => write_report(&proxy, options.report.as_deref()),
            }
        }
    });
    write_report(&proxy, options.report.as_deref());
    eprintln!("{}", serde_json::to_string_pretty(&proxy.report()).unwrap_or_default());
    // The stdin reader may still be blocked; nothing else is left to finish.
    std::process::exit(0);
}

/// Replaces the file whole (a reader never sees half a report).
fn write_report(proxy: &BehaviourProxy, path: Option<&Path>) {
    let Some(path) = path else { return };
    let partial = path.with_extension("partial");
    let written = std::fs::write(&partial, proxy.report().to_string()).and_then(|_| std::fs::rename(&partial, path));
    if let Err(e) = written {
        eprintln!("aws_behaviour_proxy: cannot write {}: {e}", path.display());
    }
}

fn parse(args: Vec<String>) -> Options {
    let mut args = args.into_iter();
    let upstream = match args.next() {
        Some(u) if u.starts_with("http://127.0.0.1:") => u,
        Some(u) => usage(&format!("`{u}` is not a loopback endpoint; expected http://127.0.0.1:PORT")),
        None => usage("expected moto's endpoint"),
    };
    let mut options = Options { upstream, config: BehaviourConfig::all(), report: None, every: Duration::from_millis(1000), exit_on_stdin_eof: false };
    while let Some(flag) = args.next() {
        if flag == "--exit-on-stdin-eof" {
            options.exit_on_stdin_eof = true;
            continue;
        }
        let value = args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let number = |v: &str| v.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0).unwrap_or_else(|| usage(&format!("{flag}: `{v}` is not a number")));
        let config = &mut options.config;
        match flag.as_str() {
            "--scale" => config.scale = number(&value),
            "--latency-ms" => config.latency = Duration::from_secs_f64(number(&value) / 1000.0),
            "--min-window-ms" => config.min_window = Duration::from_secs_f64(number(&value) / 1000.0),
            "--behaviours" => config.behaviours = behaviours(&value),
            "--without" => {
                for b in behaviours(&value) {
                    config.behaviours.remove(&b);
                }
            }
            "--report" => options.report = Some(PathBuf::from(value)),
            "--every-ms" => options.every = Duration::from_secs_f64(number(&value).max(10.0) / 1000.0),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    options
}

/// `all`, `none`, or names separated by commas.
fn behaviours(list: &str) -> std::collections::BTreeSet<Behaviour> {
    match list {
        "all" => Behaviour::ALL.into_iter().collect(),
        "none" => Default::default(),
        _ => list.split(',').map(|name| Behaviour::from_name(name.trim()).unwrap_or_else(|| usage(&format!("unknown behaviour `{name}`")))).collect(),
    }
}

fn usage(problem: &str) -> ! {
    let names: Vec<&str> = Behaviour::ALL.iter().map(|b| b.name()).collect();
    eprintln!(
        "aws_behaviour_proxy: {problem}\n\
         usage: aws_behaviour_proxy http://127.0.0.1:PORT [--scale 0.01] [--latency-ms 50] [--min-window-ms 300]\n\
         \x20      [--behaviours all|none|NAME,…] [--without NAME,…] [--report FILE] [--every-ms 1000] [--exit-on-stdin-eof]\n\
         behaviours: {}",
        names.join(", ")
    );
    std::process::exit(1);
}
