//! Content addresses checked while the bytes stream past.
//!
//! An image names every blob by the SHA-256 of its bytes, and every layer
//! by the SHA-256 of its uncompressed tar (the config's `diff_ids`). A
//! [`Verified`] reader hashes what it hands on and, when its source ends,
//! compares: a mismatch becomes a read error, so whoever reads the stream
//! (the unpacker) fails on the layer it was reading.

use std::fmt;
use std::io::{self, Read};

use anchorage_shared::tarball::Digest;
use sha2::{Digest as _, Sha256};

/// A blob whose bytes are not what its name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What was read, such as "blob sha256:ab12…" or "layer 2's tar".
    pub what: String,
    pub expected: Digest,
    pub actual: Digest,
    /// When the size was declared too, and differs.
    pub size: Option<(u64, u64)>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.size {
            Some((expected, actual)) => write!(
                f,
                "{} should be {expected} bytes but is {actual}: the archive is damaged or was altered, so it is refused",
                self.what
            ),
            None => write!(
                f,
                "{} does not match its digest: expected {}, its bytes hash to {}: the archive is damaged or was altered, so it is refused",
                self.what, self.expected, self.actual
            ),
        }
    }
}

impl std::error::Error for Mismatch {}

/// The SHA-256 of a hasher's input, as a digest.
pub fn finish(hasher: Sha256) -> Digest {
    let hash = hasher.finalize();
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for byte in hash {
        text.push_str(&format!("{byte:02x}"));
    }
    Digest(text)
}

/// Whether a digest is one this store can check: `sha256:` and 64
/// lowercase hex digits.
pub fn is_sha256(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A reader that hashes what passes through and checks it at the end.
pub struct Verified<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    what: String,
    expected: Option<Digest>,
    expected_size: Option<u64>,
    /// The digest, once the end was reached.
    actual: Option<Digest>,
}

impl<R: Read> Verified<R> {
    /// Checks the stream against `expected` (and `size`, when given) when
    /// it ends; with no `expected` it only computes the digest.
    pub fn new(
        inner: R,
        what: impl Into<String>,
        expected: Option<Digest>,
        size: Option<u64>,
    ) -> Self {
        Verified {
            inner,
            hasher: Sha256::new(),
            read: 0,
            what: what.into(),
            expected,
            expected_size: size,
            actual: None,
        }
    }

    /// The digest of everything read, once the stream has ended.
    pub fn digest(&self) -> Option<&Digest> {
        self.actual.as_ref()
    }

    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.read
    }

    pub fn is_empty(&self) -> bool {
        self.read == 0
    }

    fn check(&self, actual: &Digest) -> Result<(), Mismatch> {
        let Some(expected) = &self.expected else {
            return Ok(());
        };
        let size = self.expected_size.filter(|&size| size != self.read);
        if size.is_some() || expected != actual {
            return Err(Mismatch {
                what: self.what.clone(),
                expected: expected.clone(),
                actual: actual.clone(),
                size: size.map(|expected| (expected, self.read)),
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(actual) = &self.actual {
            // Past the end: stay at the end (with the same verdict).
            return match self.check(actual) {
                Ok(()) => Ok(0),
                Err(mismatch) => Err(io::Error::new(io::ErrorKind::InvalidData, mismatch)),
            };
        }
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.hasher.update(&buf[..n]);
            self.read += n as u64;
            if let Some(size) = self.expected_size.filter(|&size| self.read > size)
                && self.expected.is_some()
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    Mismatch {
                        what: self.what.clone(),
                        expected: self.expected.clone().unwrap_or(Digest(String::new())),
                        actual: Digest(String::new()),
                        size: Some((size, self.read)),
                    },
                ));
            }
            return Ok(n);
        }
        let actual = finish(std::mem::take(&mut self.hasher));
        let verdict = self.check(&actual);
        self.actual = Some(actual);
        match verdict {
            Ok(()) => Ok(0),
            Err(mismatch) => Err(io::Error::new(io::ErrorKind::InvalidData, mismatch)),
        }
    }
}

/// The mismatch behind an I/O error, if a [`Verified`] reader raised it.
pub fn mismatch_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Mismatch> {
    let mut source = Some(err);
    while let Some(err) = source {
        if let Some(mismatch) = err.downcast_ref::<Mismatch>() {
            return Some(mismatch);
        }
        if let Some(io) = err.downcast_ref::<io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(mismatch) = inner.downcast_ref::<Mismatch>()
        {
            return Some(mismatch);
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn drain(reader: &mut impl Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn matching_bytes_pass_and_report_their_digest() {
        let mut r = Verified::new(&b""[..], "blob", Some(Digest(EMPTY.into())), Some(0));
        assert_eq!(drain(&mut r).unwrap(), b"");
        assert_eq!(r.digest().unwrap().0, EMPTY);
        let mut r = Verified::new(&b"hello"[..], "blob", None, None);
        drain(&mut r).unwrap();
        assert_eq!(r.digest().unwrap(), &Digest::sha256(b"hello"));
        assert_eq!(r.len(), 5);
    }

    #[test]
    fn altered_bytes_fail_at_the_end_naming_the_blob() {
        let expected = Digest::sha256(b"hello");
        let mut r = Verified::new(
            &b"hellO"[..],
            "blob sha256:2cf2",
            Some(expected.clone()),
            None,
        );
        let err = drain(&mut r).unwrap_err();
        let mismatch = mismatch_in(&err).unwrap();
        assert_eq!(mismatch.expected, expected);
        assert_eq!(mismatch.actual, Digest::sha256(b"hellO"));
        assert!(
            err.to_string()
                .contains("blob sha256:2cf2 does not match its digest")
        );
        // And it stays failed.
        assert!(r.read(&mut [0; 4]).is_err());
    }

    #[test]
    fn a_wrong_size_fails_even_before_the_end() {
        let expected = Digest::sha256(b"hello");
        let mut r = Verified::new(&b"hello, world"[..], "blob", Some(expected), Some(5));
        let err = drain(&mut r).unwrap_err();
        assert!(err.to_string().contains("should be 5 bytes"), "{err}");
        let mut r = Verified::new(&b"hell"[..], "blob", Some(Digest::sha256(b"hell")), Some(5));
        let err = drain(&mut r).unwrap_err();
        assert!(
            err.to_string().contains("should be 5 bytes but is 4"),
            "{err}"
        );
    }

    #[test]
    fn only_sha256_digests_are_accepted() {
        assert!(is_sha256(EMPTY));
        assert!(!is_sha256("sha512:abcd"));
        assert!(!is_sha256("sha256:../../etc/passwd"));
        assert!(!is_sha256(&EMPTY.to_uppercase()));
    }
}
