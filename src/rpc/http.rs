//! The small HTTP/1.1 layer both ends share: bounded head parsing with httparse, the statuses the
//! server answers with, and response bytes.
//!
//! Pure functions over byte buffers; the server and client own the sockets and timeouts. Must not
//! allocate from a length a peer sent before that length has been checked against a bound.

/// The request or response head (start line and headers) may not exceed this.
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// The statuses the server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    BadRequest,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    LengthRequired,
    PayloadTooLarge,
    HeaderFieldsTooLarge,
    InternalServerError,
    ServiceUnavailable,
}

impl Status {
    pub(crate) fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::LengthRequired => 411,
            Status::PayloadTooLarge => 413,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::ServiceUnavailable => 503,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::LengthRequired => "Length Required",
            Status::PayloadTooLarge => "Payload Too Large",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::ServiceUnavailable => "Service Unavailable",
        }
    }

    /// Headers a client needs to act on the status.
    fn extra_headers(self) -> &'static str {
        match self {
            Status::Unauthorized => "WWW-Authenticate: Basic realm=\"jsonrpc\"\r\n",
            Status::MethodNotAllowed => "Allow: POST\r\n",
            _ => "",
        }
    }
}

/// A request the server will not serve, and the text/plain line that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) status: Status,
    pub(crate) detail: &'static str,
}

impl Rejection {
    pub(crate) fn new(status: Status, detail: &'static str) -> Rejection {
        Rejection { status, detail }
    }

    pub(crate) fn to_response(&self) -> Vec<u8> {
        response(
            self.status,
            "text/plain",
            format!("{}\n", self.detail).as_bytes(),
        )
    }
}

/// A complete response that closes the connection (one request per connection).
pub(crate) fn response(status: Status, content_type: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
        status.code(),
        status.reason(),
        body.len(),
        status.extra_headers(),
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// What the server needs from a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub(crate) method: String,
    /// The request target: path and query.
    pub(crate) target: String,
    pub(crate) authorization: Option<Vec<u8>>,
    pub(crate) content_length: Option<u64>,
    pub(crate) has_transfer_encoding: bool,
    /// Bytes of the head; what follows in the buffer is the start of the body.
    pub(crate) len: usize,
}

/// `Ok(None)` while the head is incomplete and still within bounds.
pub(crate) fn parse_request_head(buf: &[u8]) -> Result<Option<RequestHead>, Rejection> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
            return Err(too_large_head());
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(too_large_head()),
        Err(_) => return Err(Rejection::new(Status::BadRequest, "malformed HTTP request")),
    };
    if len > MAX_HEAD_BYTES {
        return Err(too_large_head());
    }
    let content_length = content_length(request.headers)?;
    Ok(Some(RequestHead {
        method: request.method.unwrap_or_default().to_string(),
        target: request.path.unwrap_or_default().to_string(),
        authorization: header(request.headers, "authorization").map(<[u8]>::to_vec),
        content_length,
        has_transfer_encoding: header(request.headers, "transfer-encoding").is_some(),
        len,
    }))
}

fn too_large_head() -> Rejection {
    Rejection::new(
        Status::HeaderFieldsTooLarge,
        "request head over 16 KiB or 64 headers",
    )
}

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
        .map_err(|rejection| format!("bad Content-Length in response: {}", rejection.detail))?;
    Ok(Some(ResponseHead {
        status: response.code.unwrap_or_default(),
        content_length,
        len,
    }))
}

fn header<'b>(headers: &[httparse::Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// Every Content-Length header must agree, so two parsers can never see two bodies. A number
/// too big for u64 is refused as too large, not as malformed.
fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<u64>, Rejection> {
    let mut found = None;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
    {
        let value = h.value.trim_ascii();
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return Err(Rejection::new(
                Status::BadRequest,
                "malformed Content-Length",
            ));
        }
        let length = std::str::from_utf8(value)
            .ok()
            .and_then(|digits| digits.parse::<u64>().ok())
            .ok_or(Rejection::new(
                Status::PayloadTooLarge,
                "Content-Length is too large",
            ))?;
        if found.is_some_and(|previous| previous != length) {
            return Err(Rejection::new(
                Status::BadRequest,
                "conflicting Content-Length headers",
            ));
        }
        found = Some(length);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_complete_request_head_and_keeps_body_bytes() {
        let raw = b"POST / HTTP/1.1\r\nAuthorization: Basic eA==\r\ncontent-length: 2\r\n\r\n{}";
        let head = parse_request_head(raw).unwrap().unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.authorization.as_deref(), Some(&b"Basic eA=="[..]));
        assert_eq!(head.content_length, Some(2));
        assert!(!head.has_transfer_encoding);
        assert_eq!(&raw[head.len..], b"{}");
    }

    #[test]
    fn partial_head_waits_until_the_bound() {
        assert_eq!(parse_request_head(b"POST / HTTP/1.1\r\nHost: x"), Ok(None));
        let mut endless = b"POST / HTTP/1.1\r\nX-Long: ".to_vec();
        endless.resize(MAX_HEAD_BYTES, b'a');
        let rejection = parse_request_head(&endless).unwrap_err();
        assert_eq!(rejection.status, Status::HeaderFieldsTooLarge);
    }

    #[test]
    fn content_length_must_be_digits_agree_and_fit() {
        let status_of = |raw: &[u8]| parse_request_head(raw).unwrap_err().status;
        assert_eq!(
            status_of(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            Status::BadRequest
        );
        assert_eq!(
            status_of(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Status::BadRequest
        );
        assert_eq!(
            status_of(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            Status::PayloadTooLarge
        );
    }

    #[test]
    fn garbage_is_a_bad_request() {
        let rejection = parse_request_head(b"\x00\xff\xfe garbage\r\n\r\n").unwrap_err();
        assert_eq!(rejection.status, Status::BadRequest);
    }

    #[test]
    fn parses_a_response_head() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        let head = parse_response_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 401);
        assert_eq!(head.content_length, Some(0));
        assert_eq!(head.len, raw.len());
    }

    #[test]
    fn unauthorized_response_names_the_realm() {
        let bytes = Rejection::new(Status::Unauthorized, "no").to_response();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
        assert!(text.contains("WWW-Authenticate: Basic realm=\"jsonrpc\"\r\n"));
    }
}
