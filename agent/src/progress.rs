//! Progress of a transfer, shared by the task moving the bytes and whoever
//! shows it: bytes done of the total, speed and time left.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Progress {
    total: AtomicU64,
    done: AtomicU64,
    started: Mutex<Instant>,
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress {
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            started: Mutex::new(Instant::now()),
        })
    }

    /// Sets what this attempt has to move (excluding what a resume skips)
    /// and starts the clock: speed and time left count from here, not from
    /// the hashing and handshakes before.
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    pub fn add(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn elapsed(&self) -> Duration {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Bytes per second since the start.
    pub fn speed(&self) -> f64 {
        self.done() as f64 / self.elapsed().as_secs_f64().max(1e-3)
    }

    /// Time left at the average speed so far.
    pub fn eta(&self) -> Option<Duration> {
        let speed = self.speed();
        let left = self.total().saturating_sub(self.done());
        (speed > 0.0).then(|| Duration::from_secs_f64(left as f64 / speed))
    }

    /// `42% 108.0 MiB of 256.0 MiB, 310.2 MiB/s, 0:01 left`
    pub fn line(&self) -> String {
        let (done, total) = (self.done(), self.total());
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        let eta = self
            .eta()
            .map(|eta| format!("{}:{:02} left", eta.as_secs() / 60, eta.as_secs() % 60))
            .unwrap_or_else(|| "--:-- left".into());
        format!(
            "{percent:>3}% {} of {}, {}/s, {eta}",
            size(done),
            size(total),
            size(self.speed() as u64)
        )
    }
}

/// A byte count for people: `256.0 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size(12), "12 B");
        assert_eq!(size(256 * 1024 * 1024), "256.0 MiB");
        assert_eq!(size(1536), "1.5 KiB");
    }

    #[test]
    fn the_line_shows_share_speed_and_time_left() {
        let progress = Progress::new();
        progress.set_total(100);
        progress.add(50);
        let line = progress.line();
        assert!(line.starts_with(" 50% 50 B of 100 B"), "{line}");
        assert!(line.contains("left"));
    }
}
