//! `cargo run -p portal` — see the example's README for every setting.
#![forbid(unsafe_code)]
#![allow(clippy::print_stderr, clippy::print_stdout)]

use mfa_credentials::HashParams;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", include_str!("../README.md"));
        return;
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("portal {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    // `portal reset-factors ADDRESS [settings]`: the operator's support path.
    let (command, args) = match args.split_first() {
        Some((c, rest)) if c == "reset-factors" => {
            (Some(rest.first().cloned()), rest[1..].to_vec())
        }
        _ => (None, args),
    };
    let config = match portal::Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("portal: {e}");
            std::process::exit(2);
        }
    };
    // Requests, mail and failures are logged through `tracing` (never a token, a code or a
    // query string: see mfa-axum's `traced`).
    let log =
        tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_writer(std::io::stderr);
    if config.log_json {
        log.json().init();
    } else {
        log.init();
    }
    let app = match portal::build(&config, HashParams::OWASP).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("portal: {e}");
            std::process::exit(1);
        }
    };
    if let Some(address) = command {
        let Some(address) = address.filter(|a| !a.starts_with("--")) else {
            eprintln!("portal: usage: portal reset-factors ADDRESS [settings]");
            std::process::exit(2);
        };
        match portal::reset_factors(&app, &address).await {
            Ok(n) => {
                println!(
                    "{address}: {n} sign-in method(s) removed, every session ended, the account was mailed; the next sign-in must confirm the mailbox and set up a new method"
                );
                // SMTP delivery runs in the background: give it time before exiting.
                if config.smtp.is_some() {
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                }
                return;
            }
            Err(e) => {
                eprintln!("portal: {e}");
                std::process::exit(1);
            }
        }
    }
    portal::spawn_sweeper(&app, std::time::Duration::from_secs(600));
    let listener = match tokio::net::TcpListener::bind(&config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("portal: cannot listen on {}: {e}", config.listen);
            std::process::exit(1);
        }
    };
    // Ctrl-C or SIGTERM (a service manager, a container stop): finish the requests in
    // flight, then exit. The handler is in place before the portal says it is running.
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let shutdown = async move {
        #[cfg(unix)]
        match term {
            Some(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("portal: shutting down");
    };
    println!("{} is running: open {}", config.product, config.public_url);
    let bound = listener.local_addr().map_or_else(|_| config.listen.clone(), |a| a.to_string());
    println!("(listening on {bound}; data in {})", config.data_dir.display());
    if let Err(e) = axum::serve(
        listener,
        portal::web::router(app).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    {
        eprintln!("portal: {e}");
        std::process::exit(1);
    }
}
