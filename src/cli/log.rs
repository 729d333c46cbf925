//! Logs on stderr: `warning: …` lines for a person by default, timestamped records with
//! `-v` (rekey's own work) and `-vv` (rekey's debug lines and the AWS SDK's).
//!
//! Every line passes through [`Redacting`] on its way out, whatever its source: a secret
//! rekey has seen is replaced, and so is anything shaped like a secret access key that
//! rekey has not seen yet (the SDK logs while a call is under way, before rekey holds
//! the answer that a new key's secret arrives in).

use std::io::{self, Write};

/// The filter for a verbosity. Other crates log only errors, except at `-vv`, where
/// the SDK's orchestration and credential loading add their debug lines: attempts,
/// retries and their delays, timeouts, endpoints, which credential provider answered.
/// Never at trace level (requests and responses whole, bodies included) and never the
/// HTTP client's or the signer's lines.
fn filter(quiet: bool, verbose: u8) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "error,rekey=warn,rekey_sinks=warn",
        (false, 1) => "error,rekey=info,rekey_sinks=info",
        (false, _) => {
            "error,rekey=debug,rekey_sinks=debug,aws_smithy_runtime=debug,aws_config=debug"
        }
    }
}

pub(super) fn init(quiet: bool, verbose: u8) {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter(quiet, verbose)))
        // On a terminal, unless NO_COLOR is set (the rule `console` applies to stdout).
        .with_ansi(console::colors_enabled_stderr())
        .with_writer(Redacting::default)
        .event_format(Line { verbose })
        .init();
}

/// A log line. Without `-v`, as a person reads it: `warning: message` (or `error: `),
/// the same prefix as the error rekey ends with. With `-v`, a record: time, level and
/// message; `-vv` adds where it comes from. Never the SDK's span context (its whole
/// configuration, repeated on every line).
struct Line {
    verbose: u8,
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Line
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use tracing_subscriber::fmt::time::FormatTime;
        let metadata = event.metadata();
        if self.verbose == 0 {
            let prefix = match *metadata.level() {
                tracing::Level::ERROR => console::style("error:").red(),
                tracing::Level::WARN => console::style("warning:").yellow(),
                _ => console::style("note:").dim(),
            };
            let prefix = prefix.bold().force_styling(writer.has_ansi_escapes());
            write!(writer, "{prefix} ")?;
        } else {
            tracing_subscriber::fmt::time::SystemTime.format_time(&mut writer)?;
            write!(writer, " {:>5} ", metadata.level())?;
            if self.verbose > 1 {
                write!(writer, "{}: ", metadata.target())?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// One log record, held until it is whole (the formatter writes a record in one piece,
/// but a writer may not rely on that), then redacted and written to stderr.
#[derive(Default)]
struct Redacting {
    record: zeroize::Zeroizing<Vec<u8>>,
}

impl Write for Redacting {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.record.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Redacting {
    fn drop(&mut self) {
        if self.record.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.record);
        let shown = mask_secret_shapes(&rekey_sinks::child::redact(&text));
        // A log line that cannot be written has nowhere else to go.
        let _ = io::stderr().write_all(shown.as_bytes());
    }
}

/// AWS secret access keys are 40 characters of base64's alphabet.
const SECRET_LEN: usize = 40;

/// `text` with every run of exactly [`SECRET_LEN`] base64 characters replaced by
/// `[REDACTED]`. Longer runs (a SHA-256 in hex, a base64 document) and shorter ones (a
/// key id, a request id's parts) are kept; a 40-digit hex digest is hidden too, which
/// costs a debug line nothing.
fn mask_secret_shapes(text: &str) -> String {
    let in_alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let mut shown = String::with_capacity(text.len());
    let mut kept_to = 0; // text[..kept_to] is in `shown`
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if !in_alphabet(bytes[at]) {
            at += 1;
            continue;
        }
        let run_start = at;
        while at < bytes.len() && in_alphabet(bytes[at]) {
            at += 1;
        }
        if at - run_start == SECRET_LEN {
            shown.push_str(&text[kept_to..run_start]);
            shown.push_str("[REDACTED]");
            kept_to = at;
        }
    }
    shown.push_str(&text[kept_to..]);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn a_secret_shape_is_masked_wherever_it_stands() {
        assert_eq!(SECRET.len(), SECRET_LEN);
        for (line, shown) in [
            (format!("secret={SECRET}"), "secret=[REDACTED]".to_owned()),
            (format!("\"{SECRET}\","), "\"[REDACTED]\",".to_owned()),
            (SECRET.to_owned(), "[REDACTED]".to_owned()),
            (
                format!("<SecretAccessKey>{SECRET}</SecretAccessKey>"),
                "<SecretAccessKey>[REDACTED]</SecretAccessKey>".to_owned(),
            ),
        ] {
            assert_eq!(mask_secret_shapes(&line), shown);
        }
    }

    #[test]
    fn what_is_not_a_secret_shape_is_kept() {
        for line in [
            "beginning attempt #1",
            "AKIAIOSFODNN7EXAMPLE signed iam:ListAccessKeys",
            // 39 and 41 characters, and a SHA-256 in hex.
            &SECRET[1..],
            &format!("{SECRET}x"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "request id 3e1f2a6b-9c1d-4e1f-8a2b-0c1d2e3f4a5b",
        ] {
            assert_eq!(mask_secret_shapes(line), line);
        }
    }

    #[test]
    fn the_sdk_speaks_only_at_the_most_verbose_level() {
        for verbose in 0..2 {
            assert!(!filter(false, verbose).contains("aws_smithy_runtime"));
        }
        assert!(!filter(true, 2).contains("aws_"));
        assert!(filter(false, 2).contains("aws_smithy_runtime=debug"));
        assert!(!filter(false, 2).contains("trace"));
    }
}
