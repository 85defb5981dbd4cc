//! Configuration: flags, environment and `.env`. `realtime-console --help` is the reference.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "realtime-console",
    version,
    about = "A console, flight recorder and test bench for the OpenAI Realtime API"
)]
pub struct Config {
    /// Address to listen on. Loopback by default: the console is a developer tool, not a public site.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on; 0 picks a free port (the log line says which).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// SQLite database of recorded sessions, e.g. `sqlite://data/console.db`. Its folder is created.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/console.db")]
    pub database_url: String,

    /// Folder of the browser's JS and CSS. Defaults to the workspace's `static/`.
    #[arg(long, env = "STATIC_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../static"))]
    pub static_dir: PathBuf,

    /// Largest JSONL file `POST /api/sessions/import` accepts, in MiB.
    #[arg(long, env = "MAX_IMPORT_MIB", default_value_t = 512)]
    pub max_import_mib: u64,
}

impl Config {
    /// The defaults, as `realtime-console` with no flags and an empty environment would use them.
    pub fn for_tests(database_url: String) -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            database_url,
            static_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../static")),
            max_import_mib: 512,
        }
    }

    /// The file behind a `sqlite://` URL, if it names one, so its folder can be created.
    pub fn database_path(&self) -> Option<PathBuf> {
        let rest = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next()?;
        (!path.is_empty() && !path.starts_with(':')).then(|| PathBuf::from(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_database_file() {
        let mut c = Config::for_tests("sqlite://data/x.db?mode=rwc".into());
        assert_eq!(c.database_path(), Some(PathBuf::from("data/x.db")));
        c.database_url = "sqlite::memory:".into();
        assert_eq!(c.database_path(), None);
    }
}
