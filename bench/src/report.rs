//! The report every scenario produces: a table for people, JSON for tools.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub machine: Machine,
    pub started_at: String,
    pub params: Value,
    pub systems: Vec<SystemFigures>,
    /// Targets from the issue, each marked met or not.
    pub targets: Vec<Target>,
    /// What was pinned where, and anything a reader must know.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
}

#[derive(Debug, Serialize)]
pub struct SystemFigures {
    pub name: &'static str,
    /// Named figures (`fanout_p99_ms`, `cpu_s`, ...), in insertion order.
    #[serde(flatten)]
    pub figures: Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub what: String,
    pub met: bool,
}

impl SystemFigures {
    pub fn new(name: &'static str) -> Self {
        SystemFigures {
            name,
            figures: Map::new(),
        }
    }

    pub fn set(&mut self, key: &str, value: f64) {
        let rounded = (value * 1000.0).round() / 1000.0;
        self.figures.insert(key.to_owned(), Value::from(rounded));
    }

    /// A figure of every run or round, in the order they ran, to the unit.
    pub fn set_each(&mut self, key: &str, values: impl IntoIterator<Item = f64>) {
        let rounded: Vec<f64> = values.into_iter().map(f64::round).collect();
        self.figures.insert(key.to_owned(), Value::from(rounded));
    }
}

impl Machine {
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| {
                line.strip_prefix("model name")
                    .and_then(|rest| rest.split(':').nth(1))
            })
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Machine { cpu, cores }
    }
}

impl Report {
    pub fn new(scenario: &'static str, params: Value) -> Report {
        Report {
            scenario,
            machine: Machine::this(),
            started_at: utc_now(),
            params,
            systems: Vec::new(),
            targets: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn target(&mut self, what: impl Into<String>, met: bool) {
        self.targets.push(Target {
            what: what.into(),
            met,
        });
    }

    pub fn print(&self) {
        println!(
            "\nscenario {} on {} ({} cores), {}",
            self.scenario, self.machine.cpu, self.machine.cores, self.started_at
        );
        println!("params {}", self.params);
        for system in &self.systems {
            println!("\n  {}", system.name);
            for (key, value) in &system.figures {
                println!("    {key:<28} {value}");
            }
        }
        if !self.targets.is_empty() {
            println!("\n  targets");
            for target in &self.targets {
                println!(
                    "    [{}] {}",
                    if target.met { "met" } else { "NOT met" },
                    target.what
                );
            }
        }
        for note in &self.notes {
            println!("  note: {note}");
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")?;
        Ok(())
    }
}

/// RFC 3339 UTC time without pulling in a date crate.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The value at quantile `q` (0..=1) of sorted samples.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_pick_from_sorted_samples() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&samples, 0.5), 51.0);
        assert_eq!(quantile(&samples, 0.99), 99.0);
        assert_eq!(quantile(&samples, 1.0), 100.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn utc_time_is_rfc3339() {
        let now = utc_now();
        assert_eq!(now.len(), 20);
        assert!(now.starts_with("20") && now.ends_with('Z'));
    }
}
