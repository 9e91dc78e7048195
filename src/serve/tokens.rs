//! API tokens: who a request comes from when public keys are too cheap to be identities.
//!
//! The token file (`--api-tokens`) holds one client per line, `NAME SHA256-HEX`: the
//! SHA-256 of the token, never the token, so a copy of the file (a backup, a log of the
//! deployment) gives no one a token. `#` starts a comment. Make an entry with
//! `printf %s "$TOKEN" | sha256sum` or [`hash_token`]. A client sends
//! `Authorization: Bearer TOKEN`; the service hashes it and compares the hash with every
//! entry in constant time (`subtle`), without stopping at a match.
//!
//! Tokens should be long random strings (32 bytes from a CSPRNG, hex or base64): the file
//! holds unsalted hashes, which protect a random token but not a guessable password.

use subtle::{ConditionallySelectable, ConstantTimeEq};

use sha2::{Digest, Sha256};

use super::ServeError;

/// Largest token file read.
const MAX_FILE_BYTES: u64 = 16 << 20;
/// Longest token accepted in a request.
pub const MAX_TOKEN_BYTES: usize = 512;

/// Who a request is charged to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A client identified by its Paillier public key.
    Key(crate::paillier::KeyId),
    /// A client identified by its API token (the entry's name).
    Token(String),
}

impl Principal {
    /// The key of this client in the query ledger: the key id in hex, or `token:NAME`.
    pub fn ledger_key(&self) -> String {
        match self {
            Principal::Key(id) => hex::encode(id.as_bytes()),
            Principal::Token(name) => format!("token:{name}"),
        }
    }
}

/// The SHA-256 of a token, in hex: what the token file holds.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The known tokens: names and hashes.
pub struct ApiTokens {
    entries: Vec<(String, [u8; 32])>,
}

impl core::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ApiTokens")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl ApiTokens {
    /// Parses a token file's text.
    ///
    /// # Errors
    /// [`ServeError::Model`] (a start-up error) naming the line that is not `NAME HEX64`,
    /// a duplicate name or hash, or a file without entries.
    pub fn parse(text: &str) -> Result<Self, ServeError> {
        let mut entries: Vec<(String, [u8; 32])> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |m: &str| ServeError::Model(format!("API tokens, line {}: {m}", i + 1));
            let mut parts = line.split_whitespace();
            let (Some(name), Some(h), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad("expected NAME SHA256-HEX"));
            };
            if name.len() > 128 || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad("a name is 1 to 128 printable ASCII characters"));
            }
            let mut hash = [0u8; 32];
            hex::decode_to_slice(h, &mut hash)
                .map_err(|_| bad("the hash must be 64 hex digits (SHA-256 of the token)"))?;
            if entries.iter().any(|(n, x)| n == name || *x == hash) {
                return Err(bad("duplicate name or token hash"));
            }
            entries.push((name.to_string(), hash));
        }
        if entries.is_empty() {
            return Err(ServeError::Model(
                "API tokens: the file has no entry".into(),
            ));
        }
        Ok(ApiTokens { entries })
    }

    /// Reads a token file.
    ///
    /// # Errors
    /// As [`ApiTokens::parse`], and for an unreadable or oversized file.
    pub fn load(path: &std::path::Path) -> Result<Self, ServeError> {
        let err = |m: String| ServeError::Model(format!("API tokens {}: {m}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(err("larger than 16 MiB".into()));
        }
        Self::parse(&std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tokens (never true for a parsed file).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name of the entry whose hash is SHA-256(`token`), if any.
    ///
    /// # Security
    /// The token's hash is compared with every entry in constant time and the loop never
    /// stops early, so the time taken says nothing about which entry (if any) matched or how
    /// many leading bytes agreed.
    pub fn lookup(&self, token: &[u8]) -> Option<&str> {
        let h: [u8; 32] = Sha256::digest(token).into();
        let mut found = subtle::Choice::from(0u8);
        let mut index = 0u64;
        for (i, (_, hash)) in self.entries.iter().enumerate() {
            let eq = h[..].ct_eq(&hash[..]);
            index.conditional_assign(&(i as u64), eq);
            found |= eq;
        }
        if bool::from(found) {
            // index < entries.len() when found.
            self.entries.get(index as usize).map(|(n, _)| n.as_str())
        } else {
            None
        }
    }

    /// The principal of a request from its `Authorization` header value (`Bearer TOKEN`).
    ///
    /// # Errors
    /// [`ServeError::Unauthorized`] for another scheme, an oversized or unknown token.
    pub fn authenticate(&self, authorization: &[u8]) -> Result<Principal, ServeError> {
        let text = std::str::from_utf8(authorization)
            .map_err(|_| ServeError::Unauthorized("the Authorization header is not text".into()))?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| ServeError::Unauthorized("use Authorization: Bearer TOKEN".into()))?;
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(ServeError::Unauthorized(format!(
                "a token has 1 to {MAX_TOKEN_BYTES} bytes"
            )));
        }
        self.lookup(token.as_bytes())
            .map(|n| Principal::Token(n.to_string()))
            .ok_or_else(|| ServeError::Unauthorized("unknown API token".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_by_hash_only() {
        let text = format!(
            "# clients\nhospital-a {}\nhospital-b {}  # second\n",
            hash_token("alpha-token"),
            hash_token("beta-token")
        );
        let t = ApiTokens::parse(&text).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(b"alpha-token"), Some("hospital-a"));
        assert_eq!(t.lookup(b"beta-token"), Some("hospital-b"));
        assert_eq!(t.lookup(b"gamma"), None);
        assert!(!text.contains("alpha-token"));
        assert_eq!(
            t.authenticate(b"Bearer beta-token").unwrap(),
            Principal::Token("hospital-b".into())
        );
        for bad in [&b"Basic abc"[..], b"Bearer ", b"Bearer nope", b"\xff"] {
            assert_eq!(t.authenticate(bad).unwrap_err().code(), "unauthorized");
        }
    }

    #[test]
    fn bad_token_files_are_refused() {
        let h = hash_token("x");
        for text in [
            String::new(),
            "a".into(),
            "a 1234".into(),
            format!("a {h}\nb {h}"),
            format!("a {h}\na {}", hash_token("y")),
            format!("a {h} extra"),
        ] {
            assert!(ApiTokens::parse(&text).is_err(), "{text}");
        }
    }
}
