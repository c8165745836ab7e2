//! The scoring settings of a session (`SET odis.device`, `odis.sessions`,
//! `odis.threads`, `odis.micro_batch`), resolved for this machine.

use datafusion::config::ConfigOptions;

pub use crate::plan::settings::OdisOptions;
use datafusion::error::{DataFusionError, Result};

/// The device to run models on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Cuda(i32),
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl Device {
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => text
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<i32>().ok())
                .filter(|n| *n >= 0)
                .map(Device::Cuda)
                .ok_or_else(|| {
                    DataFusionError::Configuration(format!(
                        "odis.device must be 'cpu' or 'cuda:N' (e.g. 'cuda:0'), got '{text}'"
                    ))
                }),
        }
    }
}

/// How a model's sessions are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Execution {
    pub device: Device,
    pub sessions: usize,
    pub threads: usize,
    pub micro_batch: usize,
}

/// Upper bounds of the scoring settings.
pub const MAX_SESSIONS: usize = 256;
pub const MAX_THREADS: usize = 1024;
pub const MAX_MICRO_BATCH: usize = 65_536;

impl Execution {
    /// The settings in effect, with defaults resolved for this machine.
    pub fn from_config(config: &ConfigOptions) -> Result<Self> {
        let options = config.extensions.get::<OdisOptions>().cloned().unwrap_or_default();
        Self::from_options(&options)
    }

    pub fn from_options(options: &OdisOptions) -> Result<Self> {
        let device = Device::parse(&options.device)?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let sessions = match (options.sessions, device) {
            (0, Device::Cuda(_)) => 1,
            (0, Device::Cpu) => cores,
            (n, _) => n,
        };
        let threads = match options.threads {
            0 => (cores / sessions).max(1),
            n => n,
        };
        if options.micro_batch == 0 {
            return Err(DataFusionError::Configuration(
                "odis.micro_batch must be at least 1 (rows per inference call)".into(),
            ));
        }
        // Each session holds a model copy and its own threads: beyond these
        // bounds a typo (100000 for 1000) would exhaust the machine.
        for (name, value, limit) in [
            ("sessions", sessions, MAX_SESSIONS),
            ("threads", threads, MAX_THREADS),
            ("micro_batch", options.micro_batch, MAX_MICRO_BATCH),
        ] {
            if value > limit {
                return Err(DataFusionError::Configuration(format!(
                    "odis.{name} = {value} is more than {limit}; 0 chooses automatically from the machine's {cores} cores"
                )));
            }
        }
        Ok(Self {
            device,
            sessions,
            threads,
            micro_batch: options.micro_batch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_with_clear_errors() {
        assert_eq!(Device::parse("CPU").unwrap(), Device::Cpu);
        assert_eq!(Device::parse("cuda:1").unwrap(), Device::Cuda(1));
        assert_eq!(Device::parse("cuda").unwrap(), Device::Cuda(0));
        let e = Device::parse("tpu").unwrap_err().to_string();
        assert!(e.contains("'cpu' or 'cuda:N'"), "{e}");
    }

    #[test]
    fn defaults_resolve_to_at_least_one_of_each() {
        let e = Execution::from_options(&OdisOptions::default()).unwrap();
        assert!(e.sessions >= 1 && e.threads >= 1 && e.micro_batch >= 1);
        let mut zero = OdisOptions::default();
        zero.micro_batch = 0;
        assert!(Execution::from_options(&zero).unwrap_err().to_string().contains("odis.micro_batch"));
    }

    #[test]
    fn absurd_settings_are_refused() {
        let cases: [(fn(&mut OdisOptions), &str); 3] = [
            (|o: &mut OdisOptions| o.sessions = 100_000, "odis.sessions = 100000 is more than 256"),
            (|o: &mut OdisOptions| o.threads = 5_000, "odis.threads = 5000 is more than 1024"),
            (|o: &mut OdisOptions| o.micro_batch = 1 << 20, "odis.micro_batch = 1048576 is more than 65536"),
        ];
        for (set, name) in cases {
            let mut options = OdisOptions::default();
            set(&mut options);
            let e = Execution::from_options(&options).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
    }
}
