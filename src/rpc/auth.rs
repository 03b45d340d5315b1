//! Cookie credentials: the user `__cookie__` and a 64-hex-digit password from a 32-byte secret.
//!
//! Owns producing, parsing and checking the credentials. Must not read or write the `.cookie`
//! file (that is `store`'s) nor draw the secret (the caller passes OS randomness), and must never
//! print the password: `Debug` is redacted and errors do not quote it.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use std::fmt;

/// The user name of cookie credentials, as in Bitcoin Core.
pub const COOKIE_USER: &str = "__cookie__";
const PASSWORD_HEX_LEN: usize = 64;

/// The credentials a node accepts for this run.
#[derive(Clone)]
pub struct Cookie {
    password: String,
}

/// Why `.cookie` contents were refused. The message never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    #[error("malformed cookie: expected \"{COOKIE_USER}:\" followed by 64 hex digits ({reason})")]
    /// The cookie file's contents are not `__cookie__:SECRET`.
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
}

impl CookieError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            CookieError::Malformed { .. } => "cookie-malformed",
        }
    }
}

impl Cookie {
    /// The cookie for a 32-byte secret.
    pub fn from_secret(secret: [u8; 32]) -> Cookie {
        Cookie {
            password: hex::encode(secret),
        }
    }

    /// What `store` writes to `.cookie`: `__cookie__:<hex>`, no newline.
    pub(crate) fn file_contents(&self) -> String {
        format!("{COOKIE_USER}:{}", self.password)
    }

    /// Reads `.cookie` contents back; a trailing newline (an editor's) is tolerated.
    pub fn parse(file_contents: &str) -> Result<Cookie, CookieError> {
        let line = file_contents.trim_end_matches(['\r', '\n']);
        let (user, password) = line.split_once(':').ok_or(CookieError::Malformed {
            reason: "no ':' separator",
        })?;
        if user != COOKIE_USER {
            return Err(CookieError::Malformed {
                reason: "wrong user name",
            });
        }
        if password.len() != PASSWORD_HEX_LEN || !password.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CookieError::Malformed {
                reason: "the password is not 64 hex digits",
            });
        }
        Ok(Cookie {
            password: password.to_string(),
        })
    }

    /// The value of an HTTP `Authorization` header carrying these credentials.
    pub fn authorization_header(&self) -> String {
        format!("Basic {}", BASE64.encode(self.file_contents()))
    }

    /// Whether an `Authorization` header value carries exactly these credentials. The decoded
    /// credentials are compared in constant time, so response timing does not reveal how many
    /// leading bytes of a guess were right.
    pub fn check(&self, authorization_header_value: &str) -> bool {
        let Some((scheme, encoded)) = authorization_header_value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = BASE64.decode(encoded.trim()) else {
            return false;
        };
        constant_time_eq(&decoded, self.file_contents().as_bytes())
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cookie({COOKIE_USER}:<redacted>)")
    }
}

/// Compares every byte whatever the mismatches; only the length (public: always 75) can leak.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie() -> Cookie {
        Cookie::from_secret([0xab; 32])
    }

    #[test]
    fn file_contents_round_trip() {
        let original = cookie();
        let contents = original.file_contents();
        assert_eq!(contents, format!("__cookie__:{}", "ab".repeat(32)));
        let parsed = Cookie::parse(&contents).unwrap();
        assert_eq!(parsed.file_contents(), contents);
        let with_newline = Cookie::parse(&format!("{contents}\n")).unwrap();
        assert_eq!(with_newline.file_contents(), contents);
        assert!(parsed.check(&original.authorization_header()));
    }

    #[test]
    fn parse_rejects_malformed_contents() {
        let good_password = "ab".repeat(32);
        for bad in [
            String::new(),
            good_password.clone(),
            format!("alice:{good_password}"),
            format!("{COOKIE_USER}:{}", "ab".repeat(31)),
            format!("{COOKIE_USER}:{}zz", "ab".repeat(31)),
            format!("{COOKIE_USER}:{good_password}:extra"),
        ] {
            let error = Cookie::parse(&bad).unwrap_err();
            assert_eq!(error.code(), "cookie-malformed");
            assert!(!error.to_string().contains(&good_password));
        }
    }

    #[test]
    fn check_accepts_own_header_case_insensitive_scheme() {
        let cookie = cookie();
        let header = cookie.authorization_header();
        assert!(header.starts_with("Basic "));
        assert!(cookie.check(&header));
        assert!(cookie.check(&header.replacen("Basic", "basic", 1)));
    }

    #[test]
    fn check_rejects_wrong_password_and_malformed_headers() {
        let cookie = cookie();
        let other = Cookie::from_secret([0xac; 32]);
        assert!(!cookie.check(&other.authorization_header()));

        let encode = |s: &str| format!("Basic {}", BASE64.encode(s));
        let password = "ab".repeat(32);
        for bad in [
            String::new(),
            "Basic".to_string(),
            "Basic !!!not-base64!!!".to_string(),
            format!("Bearer {}", BASE64.encode(cookie.file_contents())),
            encode(&format!("alice:{password}")),
            encode(&format!("{COOKIE_USER}:{}", &password[..63])),
            encode(&format!("{COOKIE_USER}:{password}x")),
            encode(COOKIE_USER),
        ] {
            assert!(!cookie.check(&bad), "{bad:?} must be refused");
        }
    }

    #[test]
    fn debug_does_not_show_the_password() {
        let shown = format!("{:?}", cookie());
        assert!(!shown.contains("abab"));
    }
}
