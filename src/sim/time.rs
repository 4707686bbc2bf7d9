//! Virtual time. `SimTime` is an instant, `SimDuration` a span, both in nanoseconds from the start
//! of the run. Nothing in the simulation reads the wall clock; the kernel is the only owner of
//! "now" and hands it to components inside their `Ctx`.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of virtual time, in nanoseconds since the run started.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct SimTime(pub u64);

/// A span of virtual time, in nanoseconds.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Debug,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn as_nanos(self) -> u64 {
        self.0
    }
    /// Time elapsed since `earlier`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Milliseconds since the start of the run (used in trace output).
    pub fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
    pub const fn from_mins(m: u64) -> Self {
        SimDuration(m * 60_000_000_000)
    }
    pub fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn saturating_mul(self, k: u64) -> Self {
        SimDuration(self.0.saturating_mul(k))
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a duration written as in the scenario files: one or more `<number><unit>` groups,
    /// units `h`, `m`, `s`, `ms`, `us`, `ns`; a number may have a fractional part (`1.5s`).
    /// `"0"` alone is accepted. Negative durations are rejected with a message saying so.
    pub fn parse(text: &str) -> Result<SimDuration, String> {
        let s = text.trim();
        if s.is_empty() {
            return Err(
                "expected a duration such as \"30s\" or \"5m\", found an empty string".into(),
            );
        }
        if s.starts_with('-') {
            return Err(format!(
                "expected a non-negative duration, found \"{text}\""
            ));
        }
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut total: u128 = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let number = &s[start..i];
            let unit_start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &s[unit_start..i];
            if number.is_empty() || unit.is_empty() {
                return Err(format!(
                    "expected a duration such as \"30s\", \"250ms\" or \"2m30s\", found \"{text}\""
                ));
            }
            let scale: u128 = match unit {
                "h" => 3_600_000_000_000,
                "m" => 60_000_000_000,
                "s" => 1_000_000_000,
                "ms" => 1_000_000,
                "us" | "µs" => 1_000,
                "ns" => 1,
                other => {
                    return Err(format!(
                        "unknown duration unit \"{other}\" in \"{text}\" (expected h, m, s, ms, us or ns)"
                    ));
                }
            };
            let (int_part, frac_part) = match number.split_once('.') {
                Some((a, b)) => (a, b),
                None => (number, ""),
            };
            if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
                return Err(format!(
                    "malformed number \"{number}\" in duration \"{text}\""
                ));
            }
            let int_value: u128 = if int_part.is_empty() {
                0
            } else {
                int_part
                    .parse()
                    .map_err(|_| format!("number too large in duration \"{text}\""))?
            };
            let mut nanos = int_value
                .checked_mul(scale)
                .ok_or_else(|| format!("duration \"{text}\" is too large"))?;
            let mut frac_scale = scale;
            for digit in frac_part.bytes() {
                frac_scale /= 10;
                nanos += u128::from(digit - b'0') * frac_scale;
            }
            total = total
                .checked_add(nanos)
                .ok_or_else(|| format!("duration \"{text}\" is too large"))?;
        }
        u64::try_from(total)
            .map(SimDuration)
            .map_err(|_| format!("duration \"{text}\" is too large"))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.saturating_since(earlier)
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}
impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(d.0))
    }
}

fn write_compact(f: &mut fmt::Formatter<'_>, ns: u64) -> fmt::Result {
    if ns == 0 {
        return f.write_str("0s");
    }
    let mut rest = ns;
    let h = rest / 3_600_000_000_000;
    rest %= 3_600_000_000_000;
    let m = rest / 60_000_000_000;
    rest %= 60_000_000_000;
    let s = rest / 1_000_000_000;
    rest %= 1_000_000_000;
    if h > 0 {
        write!(f, "{h}h")?;
    }
    if m > 0 {
        write!(f, "{m}m")?;
    }
    if s > 0 || (rest > 0 && (h > 0 || m > 0)) {
        if rest == 0 {
            write!(f, "{s}s")?;
        } else if rest.is_multiple_of(1_000_000) {
            write!(f, "{s}.{:03}s", rest / 1_000_000)?;
        } else {
            write!(f, "{s}.{rest:09}s")?;
        }
    } else if rest > 0 {
        if rest.is_multiple_of(1_000_000) {
            write!(f, "{}ms", rest / 1_000_000)?;
        } else if rest.is_multiple_of(1_000) {
            write!(f, "{}us", rest / 1_000)?;
        } else {
            write!(f, "{rest}ns")?;
        }
    }
    Ok(())
}

/// `1m30s`, `250ms`, `2.500s`: the same notation the scenario files use.
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_compact(f, self.0)
    }
}

/// Instants print as seconds with millisecond precision (`t=12.345s`), fixed width in traces.
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 / 1_000_000;
        write!(f, "{}.{:03}s", ms / 1000, ms % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scenario_durations() {
        assert_eq!(SimDuration::parse("30s"), Ok(SimDuration::from_secs(30)));
        assert_eq!(SimDuration::parse("5m"), Ok(SimDuration::from_mins(5)));
        assert_eq!(
            SimDuration::parse("250ms"),
            Ok(SimDuration::from_millis(250))
        );
        assert_eq!(SimDuration::parse("2m30s"), Ok(SimDuration::from_secs(150)));
        assert_eq!(
            SimDuration::parse("1.5s"),
            Ok(SimDuration::from_millis(1500))
        );
        assert_eq!(SimDuration::parse("0"), Ok(SimDuration::ZERO));
        assert_eq!(SimDuration::parse("1h"), Ok(SimDuration::from_mins(60)));
        assert!(
            SimDuration::parse("-5s")
                .unwrap_err()
                .contains("non-negative")
        );
        assert!(SimDuration::parse("5").is_err());
        assert!(SimDuration::parse("5 parsecs").is_err());
        assert!(SimDuration::parse("1.2.3s").is_err());
        assert!(SimDuration::parse("99999999999999999999h").is_err());
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "0s", "250ms", "30s", "1m30s", "2h", "1.500s", "5us", "7ns", "1m0.250s",
        ] {
            let d = SimDuration::parse(text).unwrap();
            assert_eq!(SimDuration::parse(&d.to_string()), Ok(d), "{text} -> {d}");
        }
        assert_eq!(SimDuration::from_secs(90).to_string(), "1m30s");
        assert_eq!(SimTime(1_234_000_000).to_string(), "1.234s");
    }
}
