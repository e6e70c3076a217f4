//! Webhook signatures: lower-case hex HMAC-SHA256 (HMAC-SHA1 for Vercel, docs/API.md §3.5) of
//! the exact raw body, compared in constant time (`Mac::verify_slice`). Never over a
//! re-serialisation of the parsed JSON.

use hmac::{KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;
type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// `hex(HMAC-SHA256(secret, body))`, as senders put it in their signature headers.
pub fn sign_hex(secret: &[u8], body: &[u8]) -> String {
    mac(secret, body).map(|m| hex(&m.finalize().into_bytes())).unwrap_or_default()
}

/// The SHA-256 of `body`, as lowercase hex: how a delivery is recognised when replayed.
pub fn digest_hex(body: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(body))
}

/// Whether `presented_hex` is the HMAC of `body` under `secret`. Malformed hex is a mismatch.
pub fn verify_hex(secret: &[u8], body: &[u8], presented_hex: &str) -> bool {
    let Some(presented) = unhex(presented_hex.trim()) else {
        return false;
    };
    mac(secret, body).is_some_and(|m| m.verify_slice(&presented).is_ok())
}

/// `hex(HMAC-SHA1(secret, body))`: Vercel's `x-vercel-signature`.
pub fn sign_hex_sha1(secret: &[u8], body: &[u8]) -> String {
    match <HmacSha1 as KeyInit>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(body);
            hex(&m.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Whether `presented_hex` is the HMAC-SHA1 of `body` under `secret` (Vercel's scheme).
/// Malformed hex is a mismatch.
pub fn verify_hex_sha1(secret: &[u8], body: &[u8], presented_hex: &str) -> bool {
    let Some(presented) = unhex(presented_hex.trim()) else {
        return false;
    };
    let Ok(mut m) = <HmacSha1 as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    m.update(body);
    m.verify_slice(&presented).is_ok()
}

/// The MAC over `body`. HMAC takes keys of any length, so this is always `Some`.
fn mac(secret: &[u8], body: &[u8]) -> Option<HmacSha256> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).ok()?;
    mac.update(body);
    Some(mac)
}

/// Lower-case hex, without a `String` per byte (this runs twice per webhook delivery).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented test vector, and a second one.
    #[test]
    fn known_vectors() {
        assert_eq!(
            sign_hex(b"It's a Secret to Everybody", b"Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert_eq!(
            sign_hex(b"test-secret", b"{\"ok\":true}"),
            "97b4f11584439784b801821ece72af4e29c19573aacf94bcc0533c09086b3643"
        );
        assert_eq!(
            sign_hex(b"test-secret", b""),
            "a41bc6d81d6413576ae0994995e0ad89a416ec97389515c3604f47722122eeeb"
        );
    }

    /// RFC 2202's HMAC-SHA1 test cases 1 and 2, and a body signed the way Vercel signs one.
    #[test]
    fn sha1_vectors() {
        assert_eq!(
            sign_hex_sha1(&[0x0b; 20], b"Hi There"),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        assert_eq!(
            sign_hex_sha1(b"Jefe", b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        let sig = sign_hex_sha1(b"vercel", b"{\"id\":\"evt\"}");
        assert_eq!(sig.len(), 40);
        assert!(verify_hex_sha1(b"vercel", b"{\"id\":\"evt\"}", &sig));
        assert!(verify_hex_sha1(b"vercel", b"{\"id\":\"evt\"}", &sig.to_uppercase()));
        assert!(!verify_hex_sha1(b"vercel", b"{\"id\":\"evT\"}", &sig));
        assert!(!verify_hex_sha1(b"other", b"{\"id\":\"evt\"}", &sig));
        // A SHA-256 signature of the same body is not a SHA-1 one.
        assert!(!verify_hex_sha1(b"vercel", b"x", &sign_hex(b"vercel", b"x")));
        assert!(!verify_hex_sha1(b"vercel", b"x", ""));
    }

    #[test]
    fn verification() {
        let sig = sign_hex(b"s", b"body");
        assert!(verify_hex(b"s", b"body", &sig));
        assert!(verify_hex(b"s", b"body", &sig.to_uppercase()));
        assert!(!verify_hex(b"s", b"bodY", &sig));
        assert!(!verify_hex(b"t", b"body", &sig));
        assert!(!verify_hex(b"s", b"body", &sig[..62]));
        assert!(!verify_hex(b"s", b"body", "zz"));
        assert!(!verify_hex(b"s", b"body", "é"));
        assert!(!verify_hex(b"s", b"body", ""));
    }
}
