//! Throttling of failed sign-ins, per login name and per client address.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginThrottle {
    windows: Mutex<HashMap<String, Window>>,
    window: Duration,
}

struct Window {
    started: Instant,
    failures: u32,
}

/// Failures allowed per login name, and per address, in one window.
const PER_LOGIN: u32 = 5;
const PER_ADDRESS: u32 = 20;
/// Beyond this many tracked keys, expired windows are swept.
const SWEEP_ABOVE: usize = 10_000;

impl LoginThrottle {
    pub fn new(window: Duration) -> Self {
        LoginThrottle {
            windows: Mutex::new(HashMap::new()),
            window,
        }
    }

    fn keys(login: &str, address: &str) -> [(String, u32); 2] {
        [
            (format!("login:{}", login.to_lowercase()), PER_LOGIN),
            (format!("addr:{address}"), PER_ADDRESS),
        ]
    }

    /// `Err(seconds)` when this login or address must wait before trying again.
    pub fn check(&self, login: &str, address: &str, now: Instant) -> Result<(), u64> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for (key, limit) in Self::keys(login, address) {
            if let Some(window) = windows.get(&key) {
                let age = now.saturating_duration_since(window.started);
                if age < self.window && window.failures >= limit {
                    return Err((self.window - age).as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, login: &str, address: &str, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, w| now.saturating_duration_since(w.started) < self.window);
        }
        for (key, _) in Self::keys(login, address) {
            let window = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.saturating_duration_since(window.started) >= self.window {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures += 1;
        }
    }

    pub fn record_success(&self, login: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.remove(&format!("login:{}", login.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_a_login_after_five_failures_until_the_window_passes() {
        let throttle = LoginThrottle::new(Duration::from_secs(900));
        let start = Instant::now();
        for _ in 0..PER_LOGIN {
            assert!(throttle.check("Alice", "1.2.3.4", start).is_ok());
            throttle.record_failure("Alice", "1.2.3.4", start);
        }
        assert!(throttle.check("alice", "5.6.7.8", start).is_err());
        assert!(throttle.check("bob", "1.2.3.4", start).is_ok());
        assert!(throttle
            .check("alice", "1.2.3.4", start + Duration::from_secs(901))
            .is_ok());
    }

    #[test]
    fn blocks_an_address_trying_many_logins() {
        let throttle = LoginThrottle::new(Duration::from_secs(900));
        let now = Instant::now();
        for i in 0..PER_ADDRESS {
            throttle.record_failure(&format!("user{i}"), "9.9.9.9", now);
        }
        assert!(throttle.check("someone-else", "9.9.9.9", now).is_err());
    }
}
