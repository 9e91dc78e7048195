//! Long-term identities (X25519 key pairs) and the pinned fingerprints of peers.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use curve25519_dalek::montgomery::MontgomeryPoint;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::NetError;

/// File name of the secret half of an identity inside its directory.
pub(crate) const SECRET_FILE: &str = "identity.key";
/// File name of the public half (public key and fingerprint) inside its directory.
pub(crate) const PUBLIC_FILE: &str = "identity.pub";

/// Longest name a peer may be pinned under.
const MAX_NAME: usize = 64;

/// A party's long-term X25519 key pair, the static key of its Noise handshakes.
///
/// # Security
/// The secret key zeroizes on drop, is neither `Clone` nor printed by `Debug`, and is only
/// used in constant-time curve25519-dalek operations.
pub struct Identity {
    secret: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({}, secret redacted)", self.fingerprint())
    }
}

impl Identity {
    /// A fresh identity from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(secret.as_mut());
        Self::from_secret(secret)
    }

    /// An identity from fixed bytes, for the fuzz targets only.
    pub(crate) fn from_seed_for_fuzzing(secret: [u8; 32]) -> Self {
        Self::from_secret(Zeroizing::new(secret))
    }

    fn from_secret(secret: Zeroizing<[u8; 32]>) -> Self {
        // X25519 clamps the scalar; the public key is the clamped scalar times the base.
        let public = MontgomeryPoint::mul_base_clamped(*secret).to_bytes();
        Self { secret, public }
    }

    /// The public key that peers see in the handshake.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The fingerprint peers pin.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.public)
    }

    pub(crate) fn secret_bytes(&self) -> &[u8; 32] {
        &self.secret
    }

    /// Writes the identity into `dir` (created if needed): the secret key to
    /// `identity.key`, readable by the owner only, and the public key with its fingerprint
    /// to `identity.pub`. An existing identity is never overwritten.
    ///
    /// # Errors
    /// [`NetError::Config`] if `dir` already holds an identity or cannot be written.
    pub fn save(&self, dir: &Path) -> Result<(), NetError> {
        let cfg = |what: &str, e: std::io::Error| NetError::Config(format!("{what}: {e}"));
        std::fs::create_dir_all(dir).map_err(|e| cfg(&dir.display().to_string(), e))?;
        let secret_path = dir.join(SECRET_FILE);
        let mut text = Zeroizing::new(String::new());
        text.push_str("# shroud identity: X25519 key for Noise channels. Keep this file secret.\n");
        text.push_str("version 1\nsecret ");
        text.push_str(&Zeroizing::new(hex::encode(*self.secret)));
        text.push_str("\npublic ");
        text.push_str(&hex::encode(self.public));
        text.push('\n');
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&secret_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                NetError::Config(format!(
                    "{} already exists; refusing to overwrite an identity",
                    secret_path.display()
                ))
            } else {
                cfg(&secret_path.display().to_string(), e)
            }
        })?;
        std::io::Write::write_all(&mut f, text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| cfg(&secret_path.display().to_string(), e))?;
        let public_path = dir.join(PUBLIC_FILE);
        let public_text = format!(
            "public {}\nfingerprint {}\n",
            hex::encode(self.public),
            self.fingerprint()
        );
        std::fs::write(&public_path, public_text)
            .map_err(|e| cfg(&public_path.display().to_string(), e))
    }

    /// Reads the identity that [`Identity::save`] wrote into `dir`.
    ///
    /// # Errors
    /// [`NetError::Config`] if the file is missing, readable by others than its owner,
    /// malformed, or its public key does not match its secret key.
    ///
    /// # Security
    /// The file's text and the decoded key are wiped after use; the consistency check
    /// compares public values only.
    pub fn load(dir: &Path) -> Result<Self, NetError> {
        let path = dir.join(SECRET_FILE);
        let shown = path.display().to_string();
        let bad = |why: &str| NetError::Config(format!("{shown}: {why}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(&path).map_err(|e| bad(&e.to_string()))?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(bad(
                    "readable by other users; run chmod 600 on it (a leaked identity lets anyone act as this party)",
                ));
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| bad(&e.to_string()))?);
        let mut secret = Zeroizing::new([0u8; 32]);
        let (mut version, mut have_secret, mut public) = (None, false, None);
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "version" => version = Some(value.trim().to_string()),
                "secret" => {
                    hex::decode_to_slice(value.trim(), secret.as_mut())
                        .map_err(|_| bad("the secret key is not 64 hex digits"))?;
                    have_secret = true;
                }
                "public" => {
                    let mut p = [0u8; 32];
                    hex::decode_to_slice(value.trim(), &mut p)
                        .map_err(|_| bad("the public key is not 64 hex digits"))?;
                    public = Some(p);
                }
                _ => return Err(bad("not a shroud identity file (unknown line)")),
            }
        }
        if version.as_deref() != Some("1") {
            return Err(bad("not a shroud identity file of version 1"));
        }
        let (true, Some(public)) = (have_secret, public) else {
            return Err(bad("the secret or the public key is missing"));
        };
        let id = Self::from_secret(secret);
        if id.public != public {
            return Err(bad(
                "its public key does not match its secret key (the file is corrupt)",
            ));
        }
        Ok(id)
    }
}

/// SHA-256 of a party's public key under a shroud label: what a peers file pins.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of an X25519 public key.
    pub fn of(public_key: &[u8; 32]) -> Self {
        let mut h = Sha256::new();
        h.update(b"shroud identity v1\0");
        h.update(public_key);
        Self(h.finalize().into())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self, NetError> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut b).map_err(|_| {
            NetError::Config(format!(
                "a fingerprint is 64 hex digits (as `shroud identity new` prints), got {:?}",
                crate::util::printable(s, 80)
            ))
        })?;
        Ok(Self(b))
    }
}

/// The peers a party will talk to: a name (a party index such as `0`, or a role such as
/// `server`) for each pinned [`Fingerprint`].
///
/// The text form, one peer per line, `#` starting a comment:
///
/// ```text
/// # name  fingerprint
/// 0       3f2a...  (64 hex digits)
/// 1       9bc1...
/// ```
#[derive(Clone, Default, Debug)]
pub struct Peers {
    entries: Vec<(String, Fingerprint)>,
}

impl Peers {
    /// Pins `fingerprint` under `name`.
    ///
    /// # Errors
    /// [`NetError::Config`] if the name is empty, longer than 64 bytes or has characters
    /// other than letters, digits, `-`, `_` and `.`, or if the name or the fingerprint is
    /// already pinned (one key must map to one party).
    pub fn insert(&mut self, name: &str, fingerprint: Fingerprint) -> Result<(), NetError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid {
            return Err(NetError::Config(format!(
                "peer name {:?}: use 1-64 letters, digits, '-', '_' or '.'",
                crate::util::printable(name, 80)
            )));
        }
        if self.get(name).is_some() {
            return Err(NetError::Config(format!("peer {name:?} is pinned twice")));
        }
        if let Some(other) = self.name_of(&fingerprint) {
            return Err(NetError::Config(format!(
                "peers {other:?} and {name:?} have the same fingerprint; one key must belong to one party"
            )));
        }
        self.entries.push((name.to_string(), fingerprint));
        Ok(())
    }

    /// Parses the text form.
    ///
    /// # Errors
    /// [`NetError::Config`] naming the line of the first malformed entry.
    pub fn parse(text: &str) -> Result<Self, NetError> {
        let mut peers = Self::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut fields = line.split_whitespace();
            let (Some(name), Some(fp), None) = (fields.next(), fields.next(), fields.next()) else {
                return Err(NetError::Config(format!(
                    "line {}: expected `NAME FINGERPRINT`",
                    i + 1
                )));
            };
            let fp: Fingerprint = fp
                .parse()
                .map_err(|e| NetError::Config(format!("line {}: {e}", i + 1)))?;
            peers
                .insert(name, fp)
                .map_err(|e| NetError::Config(format!("line {}: {e}", i + 1)))?;
        }
        Ok(peers)
    }

    /// Reads a peers file.
    ///
    /// # Errors
    /// [`NetError::Config`] if it cannot be read or is malformed (the message names the
    /// file and the line).
    pub fn load(path: &Path) -> Result<Self, NetError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NetError::Config(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| NetError::Config(format!("{}: {e}", path.display())))
    }

    /// The fingerprint pinned under `name`.
    pub fn get(&self, name: &str) -> Option<&Fingerprint> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }

    /// The name `fingerprint` is pinned under.
    pub fn name_of(&self, fingerprint: &Fingerprint) -> Option<&str> {
        // Fingerprints are public, but compare without early exit anyway.
        self.entries
            .iter()
            .find(|(_, f)| bool::from(f.0.ct_eq(&fingerprint.0)))
            .map(|(n, _)| n.as_str())
    }

    /// A lookup from fingerprint to name that owns its data (for handshake callbacks).
    pub(crate) fn name_of_owned(&self) -> impl Fn(&Fingerprint) -> Option<String> + use<> {
        let peers = self.clone();
        move |fp| peers.name_of(fp).map(str::to_string)
    }

    /// Every pinned name, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        self.entries
            .iter()
            .map(|(n, f)| format!("{n} {f}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_through_their_files() {
        let dir = std::env::temp_dir().join(format!("shroud-id-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let id = Identity::generate(&mut crate::rng::seeded(1));
        id.save(&dir).unwrap();
        let back = Identity::load(&dir).unwrap();
        assert_eq!(back.public_key(), id.public_key());
        assert!(
            id.save(&dir).is_err(),
            "an identity must not be overwritten"
        );
        let text = std::fs::read_to_string(dir.join(SECRET_FILE)).unwrap();
        // Change the last digit of the public key: the load must notice.
        let public_line = text.lines().find(|l| l.starts_with("public ")).unwrap();
        let last = if public_line.ends_with('0') { "1" } else { "0" };
        let tampered = text.replace(
            public_line,
            &format!("{}{last}", &public_line[..public_line.len() - 1]),
        );
        std::fs::remove_file(dir.join(SECRET_FILE)).unwrap();
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        std::io::Write::write_all(
            &mut o.open(dir.join(SECRET_FILE)).unwrap(),
            tampered.as_bytes(),
        )
        .unwrap();
        let e = Identity::load(&dir).unwrap_err().to_string();
        assert!(e.contains("does not match"), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.join(SECRET_FILE),
                std::fs::Permissions::from_mode(0o644),
            )
            .unwrap();
            let e = Identity::load(&dir).unwrap_err().to_string();
            assert!(e.contains("readable by other users"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn peers_files_are_checked_line_by_line() {
        let a = Identity::generate(&mut crate::rng::seeded(2)).fingerprint();
        let b = Identity::generate(&mut crate::rng::seeded(3)).fingerprint();
        let good = format!("# parties\n0 {a}\n1 {b}  # the other one\n");
        let peers = Peers::parse(&good).unwrap();
        assert_eq!(peers.name_of(&b), Some("1"));
        assert_eq!(peers.get("0"), Some(&a));
        assert_eq!(Peers::parse(&peers.to_text()).unwrap().names().count(), 2);
        for (text, want) in [
            (
                format!("0 {a}\n0 {b}\n"),
                "line 2: peer \"0\" is pinned twice",
            ),
            (
                format!("0 {a}\n1 {a}\n"),
                "line 2: peers \"0\" and \"1\" have the same",
            ),
            (
                "0 abc\n".to_string(),
                "line 1: a fingerprint is 64 hex digits",
            ),
            (format!("0 {a} extra\n"), "line 1: expected"),
            (format!("bad/name {a}\n"), "line 1: peer name"),
        ] {
            let e = Peers::parse(&text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
    }
}
