//! Blocking work (file I/O with its fsyncs, the keyring's D-Bus calls, waiting for a
//! lock) run on tokio's blocking pool, so one rotation waiting for its disk does not
//! hold up the others sharing the async workers. One helper for every such place.

/// Runs `work` on the blocking pool and returns its result; a panic in it is resumed
/// here, as if `work` had run inline.
pub async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}
