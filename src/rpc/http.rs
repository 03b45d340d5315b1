//! The client's HTTP/1.1 response parsing: a bounded response head read with httparse (the server
//! side is hyper's, in `server`).
//!
//! Pure functions over byte buffers; the client owns the socket and timeouts. Must not allocate
//! from a length a peer sent before that length has been checked against a bound.

/// The request or response head (start line and headers) may not exceed this.
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// What the client needs from a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    pub(crate) content_length: Option<u64>,
    pub(crate) len: usize,
}

/// `Ok(None)` while the head is incomplete and still within bounds.
pub(crate) fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD_BYTES => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => return Ok(None),
        Ok(_) | Err(httparse::Error::TooManyHeaders) => {
            return Err("response head over 16 KiB or 64 headers".to_string())
        }
        Err(e) => return Err(format!("malformed HTTP response: {e}")),
    };
    let content_length = content_length(response.headers)
        .map_err(|detail| format!("bad Content-Length in response: {detail}"))?;
    Ok(Some(ResponseHead {
        status: response.code.unwrap_or_default(),
        content_length,
        len,
    }))
}

/// Every Content-Length header must agree, so two parsers can never see two bodies.
fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<u64>, &'static str> {
    let mut found = None;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
    {
        let value = h.value.trim_ascii();
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return Err("malformed Content-Length");
        }
        let length = std::str::from_utf8(value)
            .ok()
            .and_then(|digits| digits.parse::<u64>().ok())
            .ok_or("Content-Length is too large")?;
        if found.is_some_and(|previous| previous != length) {
            return Err("conflicting Content-Length headers");
        }
        found = Some(length);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response_head() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        let head = parse_response_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 401);
        assert_eq!(head.content_length, Some(0));
        assert_eq!(head.len, raw.len());
    }

    #[test]
    fn a_partial_head_waits_and_a_bad_length_is_refused() {
        assert_eq!(parse_response_head(b"HTTP/1.1 200 OK\r\nX: y"), Ok(None));
        let conflicting = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert!(parse_response_head(conflicting).is_err());
        let negative = b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n";
        assert!(parse_response_head(negative).is_err());
        let mut endless = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
        endless.resize(MAX_HEAD_BYTES, b'a');
        assert!(parse_response_head(&endless).is_err());
    }
}
