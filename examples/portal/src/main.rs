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
    // Operator commands: `reset-factors ADDRESS`, `import FILE [--dry-run] [--group G]`,
    // `usernames`, `label ADDRESS [--group G] [--role R]`, `groups`, each followed by the
    // portal's usual settings.
    let (command, args) = match args.split_first() {
        Some((c, rest)) if ["reset-factors", "import", "label"].contains(&c.as_str()) => {
            match rest.split_first() {
                Some((operand, settings)) if !operand.starts_with("--") => {
                    (Some((c.clone(), Some(operand.clone()))), settings.to_vec())
                }
                _ => (Some((c.clone(), None)), rest.to_vec()),
            }
        }
        Some((c, rest)) if c == "usernames" || c == "groups" => {
            (Some((c.clone(), None)), rest.to_vec())
        }
        _ => (None, args),
    };
    // `--dry-run` belongs to `import` only, `--group` to `import` and `label`, `--role` to
    // `label`; a command without its operand is a usage error before anything (a data
    // directory, a database) is touched.
    let name = command.as_ref().map_or("", |(n, _)| n.as_str());
    let (options, args) = match command_options(args) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("portal: {e}");
            std::process::exit(2);
        }
    };
    let operand_missing = matches!(
        &command,
        Some((name, None)) if ["reset-factors", "import", "label"].contains(&name.as_str())
    );
    let misplaced = (options.dry_run && name != "import")
        || (options.group.is_some() && name != "import" && name != "label")
        || (options.role.is_some() && name != "label");
    if operand_missing || misplaced {
        eprintln!("portal: {USAGE}");
        std::process::exit(2);
    }
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
    if let Some((name, operand)) = command {
        let code = run_command(&app, &config, &name, operand, &options).await;
        std::process::exit(code);
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

/// The operator commands.
const USAGE: &str = "usage: portal reset-factors ADDRESS | portal import FILE [--dry-run] [--group G] | portal usernames | portal label ADDRESS [--group G] [--role R] | portal groups (each followed by the portal's settings)";

/// The options of the operator commands (the rest are the portal's settings).
#[derive(Debug, Default)]
struct CommandOptions {
    dry_run: bool,
    group: Option<String>,
    role: Option<String>,
}

/// Takes the commands' own options out of `args`.
fn command_options(args: Vec<String>) -> Result<(CommandOptions, Vec<String>), String> {
    let mut options = CommandOptions::default();
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dry-run" => options.dry_run = true,
            "--group" | "--role" => {
                let value = it.next().ok_or_else(|| format!("{a} needs a value"))?;
                if a == "--group" {
                    options.group = Some(value)
                } else {
                    options.role = Some(value)
                }
            }
            _ => rest.push(a),
        }
    }
    Ok((options, rest))
}

/// Runs an operator command; returns the exit code.
async fn run_command(
    app: &portal::web::App,
    config: &portal::Config,
    name: &str,
    operand: Option<String>,
    options: &CommandOptions,
) -> i32 {
    let dry_run = options.dry_run;
    let operand = operand.filter(|a| !a.starts_with("--"));
    match (name, operand) {
        ("reset-factors", Some(address)) => match portal::reset_factors(app, &address).await {
            Ok(n) => {
                println!(
                    "{address}: {n} sign-in method(s) removed, every session ended, the account was mailed; the next sign-in must confirm the mailbox and set up a new method"
                );
                // SMTP delivery runs in the background: give it time before exiting.
                if config.smtp.is_some() {
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                }
                0
            }
            Err(e) => {
                eprintln!("portal: {e}");
                1
            }
        },
        ("import", Some(file)) => {
            let path = std::path::PathBuf::from(file);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            // A bar on a terminal; nothing when stderr is not one (indicatif hides itself).
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {elapsed} (eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let group = options.group.as_deref();
            let report =
                portal::import_file(app, &path, dry_run, group, |bytes| bar.set_position(bytes))
                    .await;
            bar.finish_and_clear();
            match report {
                Ok(r) => {
                    print!("{r}");
                    i32::from(r.stopped.is_some())
                }
                Err(e) => {
                    eprintln!("portal: {e}");
                    1
                }
            }
        }
        ("usernames", None) => match portal::username_report(app).await {
            Ok(rows) => {
                println!("{} account(s) still have a username", rows.len());
                for r in rows {
                    let last = r.last_username_login.map_or_else(
                        || "never (on record)".to_owned(),
                        |t| format!("{t} (Unix seconds)"),
                    );
                    println!("  {}  last signed in by it: {last}", r.username);
                }
                0
            }
            Err(e) => {
                eprintln!("portal: {e}");
                1
            }
        },
        ("label", Some(address)) => {
            let (group, role) = (options.group.as_deref(), options.role.as_deref());
            match portal::label(app, &address, group, role).await {
                Ok(()) => {
                    println!(
                        "{address}: group {}, role {}; every session ended",
                        group.unwrap_or("(none)"),
                        role.unwrap_or("(none)")
                    );
                    0
                }
                Err(e) => {
                    eprintln!("portal: {e}");
                    1
                }
            }
        }
        ("groups", None) => match portal::group_report(app).await {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                0
            }
            Err(e) => {
                eprintln!("portal: {e}");
                1
            }
        },
        _ => {
            eprintln!("portal: {USAGE}");
            2
        }
    }
}
