//! Typed scalar values of the scenario format, each parsed from its human notation with a
//! message that says what was expected: durations (`"30s"`), rates (`"20/s"`), probabilities
//! (`0.001`, `"0.1%"`, `"1/1000"`), signed durations (`"-2m"` for clock skew) and byte rates.

use crate::sim::{Ratio, SimDuration};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A non-negative duration written as a string: `"30s"`, `"5m"`, `"250ms"`, `"2m30s"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub SimDuration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"30s\", \"5m\" or \"250ms\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                SimDuration::parse(s).map(Dur).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                if v < 0 {
                    Err(E::custom(format!(
                        "expected a non-negative duration, found {v}"
                    )))
                } else if v == 0 {
                    Ok(Dur(SimDuration::ZERO))
                } else {
                    Err(E::custom(format!(
                        "expected a duration with a unit such as \"{v}s\" or \"{v}ms\", found the bare number {v}"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// A signed duration (`"-30s"`, `"10m"`), used for clock skew. Nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SignedDur(pub i64);

impl<'de> Deserialize<'de> for SignedDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let (neg, body) = match s.trim().strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.trim()),
        };
        let dur = SimDuration::parse(body).map_err(de::Error::custom)?;
        let ns = i64::try_from(dur.0)
            .map_err(|_| de::Error::custom(format!("duration \"{s}\" is too large")))?;
        Ok(SignedDur(if neg { -ns } else { ns }))
    }
}

impl Serialize for SignedDur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = SimDuration(self.0.unsigned_abs());
        if self.0 < 0 {
            s.serialize_str(&format!("-{d}"))
        } else {
            s.serialize_str(&d.to_string())
        }
    }
}

/// A rate such as `"20/s"`, `"300/m"` or `"5/100ms"`: `count` events per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub per: SimDuration,
}

impl Rate {
    /// Mean interval between two events; `None` for a zero rate.
    pub fn interval(self) -> Option<SimDuration> {
        self.per.0.checked_div(self.count).map(SimDuration)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let expected = || format!("expected a rate such as \"20/s\" or \"300/m\", found \"{s}\"");
        let (count, per) = s
            .split_once('/')
            .ok_or_else(|| de::Error::custom(expected()))?;
        let count: u64 = count
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(expected()))?;
        let per = per.trim();
        let per = if per.starts_with(|c: char| c.is_ascii_digit()) {
            per.to_string()
        } else {
            format!("1{per}")
        };
        let per = SimDuration::parse(&per).map_err(|_| de::Error::custom(expected()))?;
        if per.is_zero() {
            return Err(de::Error::custom(format!(
                "a rate needs a non-zero period, found \"{s}\""
            )));
        }
        if count > 0 && per.0 / count == 0 {
            return Err(de::Error::custom(format!(
                "rate \"{s}\" is faster than one event per nanosecond"
            )));
        }
        Ok(Rate { count, per })
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}/{}", self.count, self.per))
    }
}

/// A probability in `[0, 1]`: a float (`0.001`), a percentage (`"0.1%"`) or a ratio (`"1/1000"`).
/// Converted once, here, into an integer [`Ratio`] in parts per million.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Probability(pub Ratio);

fn ppm_from_f64(v: f64) -> Option<Ratio> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Some(Ratio::ppm((v * 1e6).round() as u64))
    } else {
        None
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Probability;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a probability between 0 and 1 (0.001, \"0.1%\" or \"1/1000\")")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Probability, E> {
                ppm_from_f64(v).map(Probability).ok_or_else(|| {
                    E::custom(format!("expected a probability between 0 and 1, found {v}"))
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Probability, E> {
                match v {
                    0 => Ok(Probability(Ratio::ZERO)),
                    1 => Ok(Probability(Ratio::ONE)),
                    _ => Err(E::custom(format!(
                        "expected a probability between 0 and 1, found {v}"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Probability, E> {
                let bad = || {
                    E::custom(format!(
                        "expected a probability such as \"0.1%\" or \"1/1000\", found \"{s}\""
                    ))
                };
                let t = s.trim();
                if let Some(pct) = t.strip_suffix('%') {
                    let v: f64 = pct.trim().parse().map_err(|_| bad())?;
                    return ppm_from_f64(v / 100.0).map(Probability).ok_or_else(bad);
                }
                if let Some((n, dd)) = t.split_once('/') {
                    let n: u64 = n.trim().parse().map_err(|_| bad())?;
                    let dd: u64 = dd.trim().parse().map_err(|_| bad())?;
                    if dd == 0 || n > dd {
                        return Err(bad());
                    }
                    return Ok(Probability(Ratio::new(n, dd)));
                }
                let v: f64 = t.parse().map_err(|_| bad())?;
                ppm_from_f64(v).map(Probability).ok_or_else(bad)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Probability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}/{}", self.0.num, self.0.den))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct T {
        d: Option<Dur>,
        r: Option<Rate>,
        p: Option<Probability>,
        s: Option<SignedDur>,
    }

    fn parse(text: &str) -> Result<T, String> {
        toml::from_str::<T>(text).map_err(|e| e.message().to_string())
    }

    #[test]
    fn values_parse_with_helpful_errors() {
        assert_eq!(
            parse("d = \"90s\"").unwrap().d,
            Some(Dur(SimDuration::from_secs(90)))
        );
        assert!(parse("d = \"-5s\"").unwrap_err().contains("non-negative"));
        assert!(parse("d = 5").unwrap_err().contains("\"5s\""));
        let r = parse("r = \"20/s\"").unwrap().r.unwrap();
        assert_eq!(r.interval(), Some(SimDuration::from_millis(50)));
        assert_eq!(
            parse("r = \"6/m\"").unwrap().r.unwrap().interval(),
            Some(SimDuration::from_secs(10))
        );
        assert!(parse("r = \"fast\"").unwrap_err().contains("rate"));
        assert_eq!(
            parse("p = 0.001").unwrap().p,
            Some(Probability(Ratio::ppm(1000)))
        );
        assert_eq!(
            parse("p = \"0.1%\"").unwrap().p,
            Some(Probability(Ratio::ppm(1000)))
        );
        assert_eq!(
            parse("p = \"1/4\"").unwrap().p,
            Some(Probability(Ratio::new(1, 4)))
        );
        assert!(parse("p = 1.5").unwrap_err().contains("between 0 and 1"));
        assert_eq!(
            parse("s = \"-2m\"").unwrap().s,
            Some(SignedDur(-120_000_000_000))
        );
    }
}
