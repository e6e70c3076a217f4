//! Credentials at rest (docs/API.md §7.3): channel and integration configurations, Potpie's
//! `auth_data` tokens and webhook task URLs are stored sealed (XChaCha20-Poly1305), with a key
//! kept outside `spar.redb`: `SPAR_SECRET_KEY`, else `<data-dir>/secret.key` (0600, made on first
//! start). A copy of the store (a backup, a stolen disk image of the file) reveals no
//! credential without the key.
//!
//! A sealed value is the text `sealed:v1:<hex of nonce, ciphertext and tag>`, so records keep
//! their JSON shape. A value without that prefix (written before sealing existed) reads as it
//! is, and is sealed when it is next written; `Store::open` seals every such value at once.
//!
//! **Invariant:** the store's key check (a sealed known text in `meta`) opens with the key in
//! use, or the server refuses to start: credentials sealed with one key are never mixed with
//! credentials sealed with another.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::StoreError;

/// Where a data dir keeps its key when `SPAR_SECRET_KEY` is not set.
pub const KEY_FILE: &str = "secret.key";
const PREFIX: &str = "sealed:v1:";
/// What the key check seals.
pub(super) const CHECK_TEXT: &str = "spar secret key check";

/// Seals and unseals credentials with the store's key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(••••)")
    }
}

impl Sealer {
    /// A key written as 64 hex digits (32 bytes).
    pub fn from_hex(hex: &str) -> Result<Self, StoreError> {
        let bytes = unhex(hex.trim())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| StoreError::Key("a secret key is 64 hex digits (32 bytes)".into()))?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| StoreError::Key("a secret key is 32 bytes".into()))?;
        Ok(Self { cipher })
    }

    /// The key of `configured` (`SPAR_SECRET_KEY`), else of the data dir's key file, made (with
    /// 32 random bytes, mode 0600) when missing.
    pub fn for_data_dir(
        data_dir: &Path,
        configured: Option<&str>,
    ) -> Result<(Self, KeyOrigin), StoreError> {
        if let Some(hex) = configured {
            return Ok((Self::from_hex(hex)?, KeyOrigin::Environment));
        }
        super::create_private_dir(data_dir)?;
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(hex) => {
                let sealer = Self::from_hex(&hex)
                    .map_err(|e| StoreError::Key(format!("{}: {e}", path.display())))?;
                Ok((sealer, KeyOrigin::File))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let hex = crate::ids::secret_hex(32)
                    .map_err(|e| StoreError::Key(format!("no randomness for a key: {e}")))?;
                write_key_file(&path, &hex)?;
                Ok((Self::from_hex(&hex)?, KeyOrigin::Made(path)))
            }
            Err(e) => Err(StoreError::Key(format!("cannot read {}: {e}", path.display()))),
        }
    }

    pub fn seal(&self, plain: &str) -> Result<String, StoreError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce)
            .map_err(|e| StoreError::Key(format!("no randomness for a nonce: {e}")))?;
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), plain.as_bytes())
            .map_err(|_| StoreError::Key("sealing failed".into()))?;
        let mut out = String::with_capacity(PREFIX.len() + 2 * (24 + sealed.len()));
        out.push_str(PREFIX);
        for b in nonce.iter().chain(sealed.iter()) {
            out.push_str(&format!("{b:02x}"));
        }
        Ok(out)
    }

    /// The plain text of a sealed value; a value that is not sealed is returned as it is.
    pub fn unseal(&self, text: &str) -> Result<String, StoreError> {
        let Some(hex) = text.strip_prefix(PREFIX) else { return Ok(text.to_owned()) };
        let wrong = || StoreError::Key("a stored credential does not open with this key".into());
        let bytes = unhex(hex).filter(|b| b.len() > 24).ok_or_else(wrong)?;
        let (nonce, sealed) = bytes.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| wrong())?;
        let plain = self.cipher.decrypt(&nonce, sealed).map_err(|_| wrong())?;
        String::from_utf8(plain).map_err(|_| wrong())
    }
}

/// Where a data dir's key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `SPAR_SECRET_KEY`.
    Environment,
    /// The data dir's key file.
    File,
    /// A key file made just now: removed again if the store turns out to have another key.
    Made(std::path::PathBuf),
}

/// Copies the key file `from` into `data_dir` (for `spar restore --key-file`), checking it
/// holds a key.
pub fn install_key_file(from: &Path, data_dir: &Path) -> Result<(), StoreError> {
    let hex = std::fs::read_to_string(from)
        .map_err(|e| StoreError::Key(format!("cannot read {}: {e}", from.display())))?;
    Sealer::from_hex(&hex).map_err(|e| StoreError::Key(format!("{}: {e}", from.display())))?;
    super::create_private_dir(data_dir)?;
    write_key_file(&data_dir.join(KEY_FILE), hex.trim())
}

/// Whether a stored value is sealed.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// Writes a new key file, readable by its owner only.
fn write_key_file(path: &Path, hex: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(hex.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_values_open_with_their_key_only() {
        let sealer = Sealer::from_hex(KEY).expect("key");
        let sealed = sealer.seal("xoxb-secret").expect("seal");
        assert!(is_sealed(&sealed) && !sealed.contains("xoxb"));
        assert_ne!(sealed, sealer.seal("xoxb-secret").expect("seal"), "a fresh nonce each time");
        assert_eq!(sealer.unseal(&sealed).expect("unseal"), "xoxb-secret");
        assert_eq!(sealer.unseal("plain").expect("legacy"), "plain");
        let other = Sealer::from_hex(&KEY.replace("00", "ff")).expect("key");
        assert!(other.unseal(&sealed).is_err());
        assert!(Sealer::from_hex("abc").is_err());
    }
}
