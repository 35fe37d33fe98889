//! A proxy in front of moto that forwards every request after a fixed delay: the round trip an
//! AWS API call has and moto on loopback does not. `scripts/bench.sh` puts it between clawform
//! and moto to measure what parallel applies gain when calls take as long as AWS's do.
//!
//! ```sh
//! cargo run -p clawform-testkit --example latency_proxy -- http://127.0.0.1:5000 50
//! ```
//! prints the proxy's endpoint (`http://127.0.0.1:PORT`) on stdout, then serves until killed.

use std::io::Write;
use std::time::Duration;

use clawform_testkit::{FaultConfig, FaultProxy};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (upstream, millis) = match args.as_slice() {
        [upstream, ms] if upstream.starts_with("http://127.0.0.1:") => match ms.parse::<u64>() {
            Ok(ms) => (upstream.clone(), ms),
            Err(_) => usage(&format!("`{ms}` is not a number of milliseconds")),
        },
        [upstream, _] => usage(&format!("`{upstream}` is not a loopback endpoint; expected http://127.0.0.1:PORT")),
        _ => usage("expected two arguments"),
    };
    let proxy = FaultProxy::start(&upstream, FaultConfig { latency: Duration::from_millis(millis), ..FaultConfig::pass_through() });
    println!("{}", proxy.endpoint);
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("latency_proxy: {problem}\nusage: latency_proxy http://127.0.0.1:PORT MILLISECONDS");
    std::process::exit(1);
}
