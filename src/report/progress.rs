//! Live progress on a terminal: a line per running rotation with its stage and elapsed
//! time (indicatif). Off a terminal, or with `--output json` or `-q`, it shows nothing
//! and results are printed as plain lines.
//!
//! Colour comes from the `console` crate, which indicatif uses too: it is on only for a
//! terminal, and off when `NO_COLOR` is set or `TERM=dumb`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::rotation::Stage;

/// The progress display of one `apply` run.
pub(crate) struct Progress {
    bars: Option<MultiProgress>,
    /// The line saying rekey is pacing to a throttled rate, while it is.
    pacing: std::sync::Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// Live progress on stderr when `wanted` and stderr is a terminal; otherwise none.
    pub(crate) fn new(wanted: bool) -> Self {
        let live = wanted && std::io::stderr().is_terminal();
        Self {
            bars: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            pacing: std::sync::Mutex::default(),
        }
    }

    /// Shows `status` ("IAM is throttling: 12 calls/s") on a line of its own, or
    /// removes that line when `None`.
    pub(crate) fn pacing(&self, status: Option<String>) {
        let Some(bars) = &self.bars else { return };
        let mut line = self.pacing.lock().unwrap_or_else(|e| e.into_inner());
        match (status, line.as_ref()) {
            (Some(status), Some(bar)) => bar.set_message(status),
            (Some(status), None) => {
                let style = ProgressStyle::with_template("{wide_msg:.yellow}")
                    .expect("the template is valid");
                let bar = bars.insert(0, ProgressBar::new_spinner().with_style(style));
                bar.set_message(status);
                *line = Some(bar);
            }
            (None, Some(bar)) => {
                bar.finish_and_clear();
                *line = None;
            }
            (None, None) => {}
        }
    }

    /// A line for a rotation that starts now.
    pub(crate) fn start(&self, label: &str) -> Task {
        let bar = self.bars.as_ref().map(|bars| {
            let style = ProgressStyle::with_template(
                "{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:>4.dim}",
            )
            .expect("the template is valid");
            let bar = bars.add(ProgressBar::new_spinner().with_style(style));
            bar.set_prefix(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Task { bar }
    }

    /// Prints `text` on stdout without tearing the progress lines.
    pub(crate) fn print(&self, text: &str) {
        let write = || {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        };
        match &self.bars {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }

    /// Removes the progress lines (before the final report).
    pub(crate) fn clear(&self) {
        if let Some(bars) = &self.bars {
            let _ = bars.clear();
        }
    }
}

/// The progress line of one rotation.
pub(crate) struct Task {
    bar: Option<ProgressBar>,
}

impl Task {
    /// Shows the rotation's current stage.
    pub(crate) fn stage(&self, stage: &Stage) {
        if let Some(bar) = &self.bar {
            bar.set_message(stage.to_string());
        }
    }

    /// Removes the line (the result is printed instead).
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
