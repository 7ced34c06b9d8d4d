//! What a process writes: bytes, not text. A program may write anything
//! (`cat /bin/ls`, `head -c 1M /dev/zero`), and `anchorage logs` and
//! `anchorage exec` give back exactly those bytes.
//!
//! On the wire a [`Chunk`] is a JSON string when it is UTF-8 that JSON
//! carries cheaply (most output is), and `{"base64": "..."}` otherwise:
//! JSON spells each control byte in six (`\u0000`), base64 spends a third
//! more than the bytes themselves, whatever they are.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes a process wrote to a stream or a terminal.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Chunk(pub Vec<u8>);

impl Chunk {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes as text, invalid UTF-8 replaced (for logs and screens).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// Whether it ends a line.
    pub fn ends_line(&self) -> bool {
        self.0.last() == Some(&b'\n')
    }

    /// The bytes JSON needs for it as a string, or `None` when it is not
    /// UTF-8.
    fn json_string_len(&self) -> Option<usize> {
        let text = std::str::from_utf8(&self.0).ok()?;
        Some(
            text.bytes()
                .map(|b| match b {
                    b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
                    0..=0x1f => 6,
                    _ => 1,
                })
                .sum(),
        )
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chunk({:?})", self.text())
    }
}

impl From<String> for Chunk {
    fn from(text: String) -> Chunk {
        Chunk(text.into_bytes())
    }
}

impl From<&str> for Chunk {
    fn from(text: &str) -> Chunk {
        Chunk(text.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Chunk {
    fn from(bytes: Vec<u8>) -> Chunk {
        Chunk(bytes)
    }
}

impl From<&[u8]> for Chunk {
    fn from(bytes: &[u8]) -> Chunk {
        Chunk(bytes.to_vec())
    }
}

impl Serialize for Chunk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let base64_len = self.0.len().div_ceil(3) * 4 + 12;
        match self.json_string_len() {
            Some(len) if len <= base64_len => {
                serializer.serialize_str(std::str::from_utf8(&self.0).expect("checked to be UTF-8"))
            }
            _ => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("base64", &STANDARD.encode(&self.0))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Chunk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Chunk, D::Error> {
        struct ChunkVisitor;

        impl<'de> Visitor<'de> for ChunkVisitor {
            type Value = Chunk;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, or {\"base64\": \"...\"}")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Chunk, E> {
                Ok(Chunk::from(text))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Chunk, E> {
                Ok(Chunk::from(text))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Chunk, A::Error> {
                let mut bytes = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "base64" {
                        return Err(de::Error::unknown_field(&key, &["base64"]));
                    }
                    let text: String = map.next_value()?;
                    bytes =
                        Some(STANDARD.decode(text.as_bytes()).map_err(|e| {
                            de::Error::custom(format!("`base64` is not base64: {e}"))
                        })?);
                }
                bytes
                    .map(Chunk)
                    .ok_or_else(|| de::Error::missing_field("base64"))
            }
        }

        deserializer.deserialize_any(ChunkVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(chunk: &Chunk) -> String {
        let json = serde_json::to_string(chunk).unwrap();
        let back: Chunk = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, chunk, "{json}");
        json
    }

    #[test]
    fn text_travels_as_a_string() {
        assert_eq!(round_trip(&Chunk::from("hello\n")), "\"hello\\n\"");
        assert_eq!(
            round_trip(&Chunk::from(
                "\u{1b}[1mbold\u{1b}[0m and a long line of text"
            )),
            "\"\\u001b[1mbold\\u001b[0m and a long line of text\""
        );
    }

    #[test]
    fn binary_travels_as_base64_at_four_bytes_per_three() {
        let zeros = Chunk(vec![0; 3000]);
        let json = round_trip(&zeros);
        assert!(json.starts_with("{\"base64\":\"AAAA"), "{json}");
        assert!(json.len() <= 4000 + 20, "{} bytes", json.len());
        let invalid = Chunk(vec![0xff, 0xfe, b'a']);
        assert!(round_trip(&invalid).contains("base64"));
        assert_eq!(invalid.text(), "\u{fffd}\u{fffd}a");
    }

    #[test]
    fn bad_base64_is_named() {
        let err = serde_json::from_str::<Chunk>("{\"base64\":\"***\"}").unwrap_err();
        assert!(err.to_string().contains("not base64"), "{err}");
        assert!(serde_json::from_str::<Chunk>("{\"hex\":\"00\"}").is_err());
    }
}
