use clap::Parser;
use elastichouse::config::{Cli, Command, Config, ConfigAction};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ELASTICHOUSE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if matches!(cli.command, Some(Command::HashPassword)) {
        // Before the configuration: hashing a password needs none.
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line).is_err() || line.trim_end().is_empty() {
            eprintln!("hash-password: give the password on standard input");
            return std::process::ExitCode::from(2);
        }
        match bcrypt::hash(line.trim_end_matches(['\r', '\n']), bcrypt::DEFAULT_COST) {
            Ok(h) => {
                println!("{h}");
                return std::process::ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("hash-password: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    if let Some(Command::Loadgen(args)) = cli.command {
        return loadgen(args);
    }
    let cfg = match Config::load(&cli.opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::HashPassword => unreachable!("handled above"),
        Command::Config {
            action: ConfigAction::Check { index },
        } => {
            println!("configuration OK\n");
            print!("{}", toml::to_string_pretty(&cfg).unwrap_or_default());
            if cfg.clickhouse_url.is_none() {
                let py = elastichouse::clickhouse::embedded::find_python(&cfg);
                println!("\n# storage: embedded chDB, python {}", py.display());
            }
            if !index.is_empty() {
                let routing = elastichouse::router::Routing::new(&cfg);
                println!("\n# routing");
                for i in &index {
                    print!("{}", routing.explain(i));
                }
            }
            std::process::ExitCode::SUCCESS
        }
        Command::Loadgen(_) => unreachable!("handled above"),
        Command::Run => {
            // Worker stacks above tokio's 2 MiB default: a margin on top of the depth bounds every
            // parser of user input has (the bounds alone keep the tests' 2 MiB workers safe).
            let rt = tokio::runtime::Builder::new_multi_thread()
                .thread_stack_size(8 * 1024 * 1024)
                .enable_all()
                .build()
                .expect("tokio runtime");
            match rt.block_on(run(cfg)) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("elastichouse: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

async fn run(cfg: Config) -> anyhow::Result<()> {
    let running = elastichouse::server::start(cfg).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

fn loadgen(args: elastichouse::loadgen::LoadgenArgs) -> std::process::ExitCode {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let mut out = std::io::stdout();
    match rt.block_on(elastichouse::loadgen::run(args, &mut out)) {
        Ok((_, true)) => std::process::ExitCode::SUCCESS,
        Ok((_, false)) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
