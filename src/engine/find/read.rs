//! Reading a file whole for the search, into one buffer per walker thread.
//!
//! Three things measured on `./scripts/bench --find` (50,000 files of about 20 KB, read
//! warm) decide how:
//! - the buffer is reused from file to file (as ripgrep's is): an allocation per file
//!   cost as much as the search;
//! - plain `read` calls until one returns nothing: `read_to_end` first asks the file's
//!   size and position, two system calls per file, as many as reading a small file
//!   takes. Only a file that has filled 1 MiB is asked its size (to give up on one over
//!   [`MAX_FILE`] early);
//! - where the buffer starts: the kernel copied page-cache pages (which start on a page
//!   boundary) 1.8 times slower to an address 16 bytes past a page boundary, where glibc
//!   puts a large allocation, than to one 64 bytes past it (the copy's stores alias its
//!   loads in the low 12 address bits). The bytes start 64 bytes past a page boundary.
//!
//! A file with a match may hold a secret, so its bytes are wiped once searched; so is
//! whatever was read of a file given up on. The other files hold none of the secrets
//! looked for.

use std::io::Read as _;
use std::path::Path;

use zeroize::Zeroize;

/// Files larger than this are not searched.
pub(crate) const MAX_FILE: u64 = 16 * 1024 * 1024;

const PAGE: usize = 4096;
/// Where in a page the bytes start (see the module's documentation).
const START_IN_PAGE: usize = 64;
/// How much a walker thread's buffer holds at first (it doubles when a file fills it).
const FIRST_LEN: usize = 128 * 1024;
/// From how many bytes read a file is asked its size.
const ASK_SIZE_FROM: usize = 1024 * 1024;

thread_local! {
    /// The walker thread's buffer.
    static BUFFER: std::cell::RefCell<Buffer> = const { std::cell::RefCell::new(Buffer::new()) };
}

/// Reads `path` whole and hands its bytes to `search`; `None` when it holds more than
/// [`MAX_FILE`]. The bytes are wiped afterwards when `held` says the result found
/// something in them.
pub(crate) fn search_file<T>(
    path: &Path,
    search: impl FnOnce(&[u8]) -> T,
    held: impl FnOnce(&T) -> bool,
) -> std::io::Result<Option<T>> {
    let mut file = std::fs::File::open(path)?;
    BUFFER.with_borrow_mut(|buffer| {
        let filled = match read_whole(&mut file, buffer) {
            Ok(Some(filled)) => filled,
            read => {
                buffer.wipe();
                return read.map(|_| None);
            }
        };
        let found = search(&buffer.bytes()[..filled]);
        if held(&found) {
            buffer.bytes()[..filled].zeroize();
        }
        Ok(Some(found))
    })
}

/// Reads all of `file` into the front of `buffer`: how many bytes, or `None` past
/// [`MAX_FILE`].
fn read_whole(file: &mut std::fs::File, buffer: &mut Buffer) -> std::io::Result<Option<usize>> {
    let limit = usize::try_from(MAX_FILE).unwrap_or(usize::MAX);
    let (mut filled, mut size_asked) = (0, false);
    loop {
        if filled > limit {
            return Ok(None);
        }
        if filled >= ASK_SIZE_FROM && !size_asked {
            size_asked = true;
            if file.metadata()?.len() > MAX_FILE {
                return Ok(None);
            }
        }
        if filled == buffer.bytes().len() {
            let len = (filled * 2).clamp(FIRST_LEN, limit + 1);
            buffer.grow(len, filled);
        }
        match file.read(&mut buffer.bytes()[filled..]) {
            Ok(0) => return Ok(Some(filled)),
            Ok(read) => filled += read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Bytes that start [`START_IN_PAGE`] bytes past a page boundary.
struct Buffer {
    storage: Vec<u8>,
    start: usize,
}

impl Buffer {
    const fn new() -> Self {
        Self {
            storage: Vec::new(),
            start: 0,
        }
    }

    fn bytes(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..]
    }

    /// Room for `len` bytes, the first `kept` of them kept.
    fn grow(&mut self, len: usize, kept: usize) {
        let mut storage = vec![0; len + PAGE + START_IN_PAGE];
        let to_page = storage.as_ptr().align_offset(PAGE);
        let start = if to_page < PAGE { to_page } else { 0 } + START_IN_PAGE;
        storage[start..start + kept].copy_from_slice(&self.bytes()[..kept]);
        self.wipe();
        *self = Self { storage, start };
    }

    /// Zeroes every byte, read or not.
    fn wipe(&mut self) {
        self.storage.as_mut_slice().zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> Option<Vec<u8>> {
        search_file(path, <[u8]>::to_vec, |_| false).unwrap()
    }

    #[test]
    fn reads_files_of_every_size_whole_and_refuses_larger_than_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let limit = usize::try_from(MAX_FILE).unwrap();
        for len in [
            0,
            1,
            FIRST_LEN - 1,
            FIRST_LEN,
            FIRST_LEN + 1,
            3 * ASK_SIZE_FROM,
            limit,
        ] {
            let path = dir.path().join(format!("f{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(read(&path).as_deref(), Some(&bytes[..]), "{len} bytes");
        }
        let path = dir.path().join("large");
        std::fs::write(&path, vec![b'x'; limit + 1]).unwrap();
        assert_eq!(read(&path), None);
    }

    #[test]
    fn the_bytes_start_past_a_page_boundary_and_are_wiped_when_they_held_something() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, b"a secret").unwrap();
        let found = search_file(&path, |bytes| bytes.as_ptr().align_offset(PAGE), |_| true);
        assert_eq!(found.unwrap(), Some(PAGE - START_IN_PAGE));
        BUFFER.with_borrow_mut(|buffer| assert!(buffer.bytes()[..8].iter().all(|b| *b == 0)));
    }
}
