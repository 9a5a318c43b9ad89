//! Quiet hours: a daily window, in the user's local time, in which nothing is
//! pushed. Notifications that fall inside it are dropped, not deferred: what
//! happened is still in Mesh (unread counts, history) when the user looks,
//! and a burst of stale pushes at the end of the night helps no one.

/// Minutes after local midnight, and the local offset from UTC in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietWindow {
    pub start: i64,
    pub end: i64,
    pub utc_offset: i64,
}

const MINUTES_PER_DAY: i64 = 24 * 60;
/// Offsets in use run from UTC−12:00 to UTC+14:00.
const OFFSET_RANGE: std::ops::RangeInclusive<i64> = -12 * 60..=14 * 60;

impl QuietWindow {
    /// From the wire form; `None` with the reason when a part is not valid.
    pub fn parse(start: &str, end: &str, utc_offset: i64) -> Result<QuietWindow, String> {
        let start = parse_clock(start)
            .ok_or_else(|| format!("Quiet hours start `{start}` is not a time like 22:00."))?;
        let end = parse_clock(end)
            .ok_or_else(|| format!("Quiet hours end `{end}` is not a time like 07:00."))?;
        if start == end {
            return Err("Quiet hours must start and end at different times.".into());
        }
        if !OFFSET_RANGE.contains(&utc_offset) {
            return Err("utc_offset_minutes must be between -720 and 840.".into());
        }
        Ok(QuietWindow {
            start,
            end,
            utc_offset,
        })
    }

    /// Whether `now_ms` (Unix milliseconds) falls inside the window.
    pub fn contains(&self, now_ms: i64) -> bool {
        let local = (now_ms.div_euclid(60_000) + self.utc_offset).rem_euclid(MINUTES_PER_DAY);
        if self.start < self.end {
            (self.start..self.end).contains(&local)
        } else {
            local >= self.start || local < self.end
        }
    }
}

/// `HH:MM` → minutes after midnight.
fn parse_clock(text: &str) -> Option<i64> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: i64 = hours.parse().ok()?;
    let minutes: i64 = minutes.parse().ok()?;
    ((0..24).contains(&hours) && (0..60).contains(&minutes)).then_some(hours * 60 + minutes)
}

/// Minutes after midnight → `HH:MM`.
pub fn format_clock(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_window_across_midnight_covers_the_night_in_local_time() {
        // 22:00–07:00 at UTC+1.
        let window = QuietWindow::parse("22:00", "07:00", 60).unwrap();
        assert!(window.contains(21 * HOUR), "22:00 local");
        assert!(window.contains(5 * HOUR), "06:00 local");
        assert!(!window.contains(6 * HOUR), "07:00 local");
        assert!(!window.contains(12 * HOUR), "13:00 local");
    }

    #[test]
    fn a_daytime_window_is_half_open() {
        let window = QuietWindow::parse("09:30", "17:00", 0).unwrap();
        assert!(window.contains(10 * HOUR));
        assert!(!window.contains(17 * HOUR));
        assert!(!window.contains(9 * HOUR));
    }

    #[test]
    fn bad_times_and_offsets_are_refused() {
        assert!(QuietWindow::parse("24:00", "07:00", 0).is_err());
        assert!(QuietWindow::parse("7:00", "08:00", 0).is_err());
        assert!(QuietWindow::parse("07:00", "07:00", 0).is_err());
        assert!(QuietWindow::parse("22:00", "07:00", 900).is_err());
        assert_eq!(format_clock(22 * 60 + 5), "22:05");
    }
}
