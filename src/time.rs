//! Timestamps as rekey stores and shows them: RFC 3339 in UTC, ages in days or hours.

use std::time::{Duration, SystemTime};

use ::time::format_description::well_known::Rfc3339 as Format;
use ::time::OffsetDateTime;

/// Now, by this machine's clock: what rekey's dates and due times are reckoned from
/// (process deadlines use the monotonic clock instead).
///
/// Built with the `test-clock` feature (tests only, never a release), the environment
/// variable `REKEY_TEST_CLOCK_OFFSET` (seconds) moves it forward, and AWS's clock with
/// it (see `aws::ServerClock`), as if that much time had passed everywhere: the tests
/// of grace and overlap periods run without waiting them out.
pub(crate) fn now() -> SystemTime {
    SystemTime::now() + test_offset()
}

/// How far the test clock is moved (always zero without the `test-clock` feature).
#[cfg(feature = "test-clock")]
pub(crate) fn test_offset() -> Duration {
    static OFFSET: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| {
        let secs = std::env::var("REKEY_TEST_CLOCK_OFFSET").ok();
        Duration::from_secs(secs.and_then(|s| s.parse().ok()).unwrap_or(0))
    })
}

/// How far the test clock is moved (always zero without the `test-clock` feature).
#[cfg(not(feature = "test-clock"))]
pub(crate) fn test_offset() -> Duration {
    Duration::ZERO
}

/// `2026-11-25T19:24:57Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    format(t, 1_000_000_000)
}

/// `2026-11-25T19:24:57.250001Z`: with the fraction of a second (to the microsecond, as
/// AWS's own times are kept), for times compared with IAM's (the state files, the shared
/// records in IAM tags).
pub(crate) fn rfc3339_exact(t: SystemTime) -> String {
    format(t, 1_000)
}

/// `t` in RFC 3339, UTC, cut to a multiple of `unit` nanoseconds.
fn format(t: SystemTime, unit: i128) -> String {
    let nanos = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    };
    let cut = nanos.div_euclid(unit) * unit;
    OffsetDateTime::from_unix_timestamp_nanos(cut)
        .ok()
        .and_then(|t| t.format(&Format).ok())
        .unwrap_or_else(|| format!("@{}", cut.div_euclid(1_000_000_000)))
}

/// Reads an RFC 3339 time (`2026-11-25T19:24:57Z`, with a fraction, or with an offset
/// such as the credential report's `+00:00`).
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text, &Format)
        .ok()
        .map(SystemTime::from)
}

/// `2026-11-25`.
pub(crate) fn date(t: SystemTime) -> String {
    rfc3339(t)[..10].to_owned()
}

/// A short age: `3d`, `5h`, `12m`, `40s`.
pub(crate) fn age(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// How long ago `t` was (zero if it is in the future, e.g. clock skew).
pub(crate) fn since(t: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(t).unwrap_or_default()
}

/// A time in the JSON output, for its JSON Schemas: an RFC 3339 string in UTC (what
/// [`serde_rfc3339`] writes).
pub(crate) struct Rfc3339;

impl schemars::JsonSchema for Rfc3339 {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Time".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An RFC 3339 time in UTC, such as 2026-11-25T19:24:57.25Z.",
            "type": "string",
            "format": "date-time"
        })
    }
}

/// Serde for `SystemTime` as an RFC 3339 string, used in the state directory's JSON.
pub(crate) mod serde_rfc3339 {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `t` as RFC 3339 with its fraction of a second: prune compares stored times
    /// with IAM's last-used dates, so precision must not be lost.
    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339_exact(*t))
    }

    /// Reads an RFC 3339 timestamp.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp `{text}`")))
    }
}

/// [`serde_rfc3339`] for an optional time.
pub(crate) mod serde_rfc3339_option {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some(t)` as RFC 3339 (a `None` is skipped by the field's attributes).
    pub(crate) fn serialize<S: Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => serde_rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional RFC 3339 timestamp.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "serde_rfc3339")] SystemTime);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(t)| t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_reads_back() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_764_098_697_250_001);
        assert_eq!(rfc3339(t), "2025-11-25T19:24:57Z");
        assert_eq!(date(t), "2025-11-25");
        let json = serde_json::to_string(&Wrapper(t)).unwrap();
        assert_eq!(serde_json::from_str::<Wrapper>(&json).unwrap().0, t);
        assert_eq!(age(Duration::from_secs(3 * 86_400 + 5)), "3d");
        assert_eq!(age(Duration::from_secs(7200)), "2h");
        assert_eq!(age(Duration::from_secs(59)), "59s");
    }

    #[test]
    fn the_fraction_is_kept_to_the_microsecond_and_trimmed() {
        let at = |micros| SystemTime::UNIX_EPOCH + Duration::from_micros(micros);
        for (t, shown) in [
            (at(1_764_098_697_250_001), "2025-11-25T19:24:57.250001Z"),
            (at(1_764_098_697_250_000), "2025-11-25T19:24:57.25Z"),
            (at(1_764_098_697_000_000), "2025-11-25T19:24:57Z"),
        ] {
            assert_eq!(rfc3339_exact(t), shown);
            assert_eq!(parse_rfc3339(shown), Some(t));
        }
        let with_nanos = at(1_764_098_697_250_001) + Duration::from_nanos(999);
        assert_eq!(rfc3339_exact(with_nanos), "2025-11-25T19:24:57.250001Z");
        assert_eq!(
            parse_rfc3339("2025-11-25T19:24:57+00:00"),
            Some(at(1_764_098_697_000_000))
        );
        assert_eq!(parse_rfc3339("N/A"), None);
        assert_eq!(parse_rfc3339("2025-11-25"), None);
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Wrapper(#[serde(with = "serde_rfc3339")] SystemTime);
}
