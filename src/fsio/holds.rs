//! Whether a file still holds what was read: the check before every
//! write, without a second copy of a large config in memory.

use std::io;
use std::path::Path;

use super::open_nonblocking;

/// Whether `target` is still a regular file holding exactly `expected`:
/// [`super::read_limited`]'s answer compared with it, read 64 KB at a time
/// instead of into a buffer of the file's size. What was opened is judged
/// (a FIFO or device swapped in since is not the file read).
pub(super) fn holds(target: &Path, expected: &[u8]) -> io::Result<bool> {
    use std::io::Read;
    let mut f = match open_nonblocking(target) {
        Ok(f) => f,
        // Gone since: changed, as `read_target` would say.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let md = f.metadata()?;
    if !md.is_file() || md.len() != expected.len() as u64 {
        return Ok(false);
    }
    let mut chunk = vec![0u8; 64 << 10];
    let mut at = 0;
    loop {
        let n = match f.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(at == expected.len());
        }
        // More than expected (it grew since the metadata), or other bytes.
        if expected.get(at..at + n) != Some(&chunk[..n]) {
            return Ok(false);
        }
        at += n;
    }
}
