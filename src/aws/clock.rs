//! AWS's "now", read from the `Date` header of its answers.
//!
//! Times that decide whether a key may be deactivated or deleted (is the overlap over,
//! was the key used after rekey retired it, is a record written in the future) must not
//! rest on this machine's clock alone: a machine two hours ahead would write times that
//! hide every later use (issue 17, defect 2). Every IAM and STS client rekey builds
//! carries [`ServerClock`] as an interceptor, which notes how far the local clock is
//! from AWS's at each answer; [`ServerClock::now`] is the local clock corrected by that.
//!
//! The header has whole seconds, so the offset is known to within about a second. The
//! estimate is the lower bound (the header's second as if it began at receipt): a mark
//! read as "after this, a use counts" then falls early rather than late, so a use just
//! after it is never missed, and a due date is judged late rather than early. An offset
//! under [`AGREEMENT`] is taken as none (the clocks agree).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::date_time::{DateTime, Format};

/// The largest difference between the local clock and AWS's `Date` that counts as
/// agreement (the header's one-second resolution, plus the answer's transit).
const AGREEMENT: Duration = Duration::from_secs(2);

/// How far this machine's clock is from AWS's, as last seen in an answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerClock {
    /// AWS's time minus the local time, in milliseconds; `None` before any answer.
    offset_ms: Arc<Mutex<Option<i64>>>,
}

impl ServerClock {
    /// AWS's current time: the local clock, corrected by the last offset seen.
    pub(crate) fn now(&self) -> SystemTime {
        let local = crate::time::now();
        match *self.offset_ms.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(ms) if ms > 0 => local + Duration::from_millis(ms.unsigned_abs()),
            Some(ms) => local - Duration::from_millis(ms.unsigned_abs()),
            None => local,
        }
    }

    /// Notes an answer's `Date` received at local time `received`.
    fn observe(&self, date: SystemTime, received: SystemTime) {
        // The header truncates to the second: AWS's time at receipt is at least `date`.
        let ms = match date.duration_since(received) {
            Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
            Err(behind) => -i64::try_from(behind.duration().as_millis()).unwrap_or(i64::MAX),
        };
        let offset = (ms.unsigned_abs() > AGREEMENT.as_millis() as u64).then_some(ms);
        *self.offset_ms.lock().unwrap_or_else(|e| e.into_inner()) = Some(offset.unwrap_or(0));
    }
}

impl Intercept for ServerClock {
    fn name(&self) -> &'static str {
        "rekey::ServerClock"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let received = crate::time::now();
        let date = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| DateTime::from_str(d, Format::HttpDate).ok())
            .and_then(|d| SystemTime::try_from(d).ok());
        if let Some(date) = date {
            // A moved test clock moves AWS's too (see `crate::time::now`).
            self.observe(date + crate::time::test_offset(), received);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rekey's times (`crate::time`) read as the SDK's DateTime writes them and back:
    /// the times stored before rekey formatted its own keep their meaning.
    #[test]
    fn rekeys_times_and_the_sdks_agree() {
        for micros in [
            0,
            1_764_098_697_250_001,
            1_764_098_697_250_000,
            1_764_098_697_000_000,
        ] {
            let t = SystemTime::UNIX_EPOCH + Duration::from_micros(micros);
            let sdk = DateTime::from(t).fmt(Format::DateTime).unwrap();
            assert_eq!(crate::time::rfc3339_exact(t), sdk);
            assert_eq!(crate::time::parse_rfc3339(&sdk), Some(t));
        }
    }

    #[test]
    fn agreeing_clocks_are_left_alone_and_a_skewed_one_is_corrected() {
        let clock = ServerClock::default();
        let local = SystemTime::now();
        clock.observe(local, local);
        assert_eq!(*clock.offset_ms.lock().unwrap(), Some(0));

        // This machine is two hours ahead of AWS.
        let two_hours = Duration::from_secs(7200);
        clock.observe(local - two_hours, local);
        let now = clock.now();
        let expected = SystemTime::now() - two_hours;
        let off = now
            .duration_since(expected)
            .unwrap_or_else(|e| e.duration());
        assert!(off < Duration::from_secs(2), "{off:?}");
    }
}
