//! Durations as the manifest and the command line write them: `30s`, `15m`, `12h`, `7d`, `0`.
//!
//! Hand-written rather than `humantime`: the accepted grammar is exactly the documented
//! one (one number, one unit), so `1M` (month or minute?) or `1h30m` cannot be misread,
//! and a bare `0` is allowed because "no grace" needs no unit.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A duration written as `<number><unit>` with unit `s`, `m`, `h` or `d`, or `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

/// A duration that does not follow the `<number><unit>` form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{0}`: write a whole number and a unit (s, m, h, d), e.g. 30s, 15m, 12h, 7d, or 0")]
pub struct InvalidDuration(String);

impl FromStr for HumanDuration {
    type Err = InvalidDuration;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidDuration(text.to_owned());
        let text = text.trim();
        if text == "0" {
            return Ok(Self(Duration::ZERO));
        }
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let (number, unit) = text.split_at(split);
        let number: u64 = number.parse().map_err(|_| invalid())?;
        let seconds_per_unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(invalid()),
        };
        number
            .checked_mul(seconds_per_unit)
            .map(|s| Self(Duration::from_secs(s)))
            .ok_or_else(invalid)
    }
}

impl fmt::Display for HumanDuration {
    /// The largest unit that divides the duration exactly: `7d`, `90m`, `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        if secs == 0 {
            return f.write_str("0");
        }
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
            if secs.is_multiple_of(size) {
                return write!(f, "{}{unit}", secs / size);
            }
        }
        write!(f, "{secs}s")
    }
}

/// In the manifest's schema: a string such as `30s` or `7d`, or `0`.
impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A whole number and a unit (s, m, h, d), such as 30s, 15m, 12h, 7d; or 0.",
            "oneOf": [
                { "type": "string", "pattern": "^(0|[0-9]+[smhd])$" },
                { "const": 0 }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration: a whole number and a unit (s, m, h, d) such as 30s, 15m, 12h, 7d, or 0")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                // `invalid_value` (unlike `custom`) gets a line and column from serde-saphyr.
                v.parse()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        for (text, secs) in [
            ("30s", 30),
            ("15m", 900),
            ("12h", 43_200),
            ("7d", 604_800),
            ("0", 0),
        ] {
            assert_eq!(
                text.parse::<HumanDuration>().unwrap().0.as_secs(),
                secs,
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            "",
            "7",
            "d",
            "7w",
            "1h30m",
            "-1s",
            "1.5h",
            "7 d",
            "99999999999999999999d",
        ] {
            assert!(text.parse::<HumanDuration>().is_err(), "{text:?}");
        }
    }

    #[test]
    fn displays_in_the_largest_exact_unit() {
        for text in ["7d", "90m", "45s", "0", "36h"] {
            assert_eq!(text.parse::<HumanDuration>().unwrap().to_string(), text);
        }
    }
}
