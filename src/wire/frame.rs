//! Frames on a byte stream: `magic [4] | payload length u32 LE | checksum [4] | payload`, the
//! checksum being the first four bytes of SHA-256d(payload).
//!
//! Owns encoding one frame and the incremental decoder a connection feeds with whatever bytes
//! its socket delivered. The decoder holds at most one header and one payload (plus, if asked to
//! keep large frames, the last one that decoded, until it is taken), checks a header before it
//! takes a single payload byte, and grows its buffer by doubling, so decoding stays linear
//! however the bytes are cut. Must not interpret messages beyond `Message::decode_payload`.

use super::{Message, WireError, FRAME_HEADER_BYTES, MAX_MESSAGE_BYTES};
use crate::codec;
use crate::types::sha256d;
use std::fmt;

fn checksum(payload: &[u8]) -> [u8; 4] {
    let [a, b, c, d, ..] = sha256d(payload).0;
    [a, b, c, d]
}

/// The frame carrying `message` on the network with `magic`.
///
/// Refuses what the receiver would refuse (a list over its limit, a payload over
/// `MAX_MESSAGE_BYTES`), so a bug that builds such a message shows up here rather than as a
/// disconnect by the peer.
pub fn encode_frame(magic: [u8; 4], message: &Message) -> Result<Vec<u8>, WireError> {
    let mut frame = Vec::new();
    encode_frame_into(magic, message, &mut frame)?;
    Ok(frame)
}

/// Appends the frame carrying `message` to `out`, encoding the payload in place: a writer that
/// batches frames pays no copy and no allocation per frame. Refuses what `encode_frame` refuses,
/// leaving `out` as it was.
pub fn encode_frame_into(
    magic: [u8; 4],
    message: &Message,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    message.check_limits()?;
    let start = out.len();
    let payload_start = start + FRAME_HEADER_BYTES;
    out.extend_from_slice(&magic);
    // The length and checksum, filled in once the payload is there.
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES - 4]);
    codec::encode_append(message, out);
    let len = out.len() - payload_start;
    if len > MAX_MESSAGE_BYTES {
        out.truncate(start);
        return Err(WireError::OversizedFrame {
            len,
            max: MAX_MESSAGE_BYTES,
        });
    }
    let sum = checksum(&out[payload_start..]);
    // Cannot truncate: len <= MAX_MESSAGE_BYTES, which fits in a u32 (asserted in `wire`).
    out[start + 4..start + 8].copy_from_slice(&(len as u32).to_le_bytes());
    out[start + 8..payload_start].copy_from_slice(&sum);
    Ok(())
}

enum State {
    /// Collecting a header; the first `filled` bytes of `header` have arrived.
    Header {
        header: [u8; FRAME_HEADER_BYTES],
        filled: usize,
    },
    /// Collecting the payload a checked header announced; complete at `len` bytes.
    Payload {
        checksum: [u8; 4],
        len: usize,
        payload: Vec<u8>,
    },
    /// The peer broke the protocol: nothing after this point of the stream can be trusted.
    Failed(WireError),
}

impl State {
    fn new_header() -> State {
        State::Header {
            header: [0; FRAME_HEADER_BYTES],
            filled: 0,
        }
    }
}

/// Turns a byte stream into messages, one frame at a time.
///
/// Drive it with `feed` (an iterator over the frames in a chunk of bytes), or by hand: `push`
/// takes what the current frame still needs and says how much it took; `next_frame` then
/// yields the frame once it is whole. `push` takes nothing only while a frame or an error waits
/// for `next_frame`, so alternating the two always makes progress.
///
/// A bad checksum drops that frame and decoding goes on with the next. Any other error is
/// final: `next_frame` keeps returning it and `push` takes nothing more.
pub struct FrameDecoder {
    magic: [u8; 4],
    state: State,
    /// Payloads of at least this many bytes that decode are kept as whole frames.
    keep_from: usize,
    kept: Option<Vec<u8>>,
}

impl fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("magic", &self.magic)
            .field("buffered_len", &self.buffered_len())
            .finish_non_exhaustive()
    }
}

impl FrameDecoder {
    /// A decoder for the network whose frames start with `magic`.
    pub fn new(magic: [u8; 4]) -> FrameDecoder {
        FrameDecoder {
            magic,
            state: State::new_header(),
            keep_from: usize::MAX,
            kept: None,
        }
    }

    /// Keeps the bytes of every frame whose payload is `bytes` long or more and decodes, for
    /// `take_kept_frame`: a relaying node can send a large block on in the frame it came in.
    pub(crate) fn keep_frames_from(&mut self, bytes: usize) {
        self.keep_from = bytes;
    }

    /// The whole frame (header and payload) of the message just returned, if it was kept.
    pub fn take_kept_frame(&mut self) -> Option<Vec<u8>> {
        self.kept.take()
    }

    /// Checks and decodes a whole payload, keeping its frame if it is large enough.
    fn decode(&mut self, claimed: [u8; 4], payload: &[u8]) -> Result<Message, WireError> {
        self.kept = None;
        let message = decode_frame_payload(claimed, payload)?;
        if payload.len() >= self.keep_from {
            let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
            frame.extend_from_slice(&self.magic);
            // Cannot truncate: a payload over MAX_MESSAGE_BYTES never gets this far.
            frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            frame.extend_from_slice(&claimed);
            frame.extend_from_slice(payload);
            self.kept = Some(frame);
        }
        Ok(message)
    }

    /// Takes bytes from the front of `bytes` up to the end of the current frame and returns how
    /// many it took. The rest belongs to later frames: push it after `next_frame`.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let mut taken = 0;
        loop {
            let rest = &bytes[taken..];
            match &mut self.state {
                State::Failed(_) => return taken,
                State::Header { header, filled } => {
                    let n = rest.len().min(FRAME_HEADER_BYTES - *filled);
                    header[*filled..*filled + n].copy_from_slice(&rest[..n]);
                    *filled += n;
                    taken += n;
                    if *filled < FRAME_HEADER_BYTES {
                        return taken;
                    }
                    self.state = check_header(self.magic, *header);
                }
                State::Payload { len, payload, .. } => {
                    let n = rest.len().min(*len - payload.len());
                    if n == 0 {
                        return taken;
                    }
                    reserve_bounded(payload, n, *len);
                    payload.extend_from_slice(&rest[..n]);
                    taken += n;
                }
            }
        }
    }

    /// The next whole frame's message or error, or `None` until more bytes are pushed.
    pub fn next_frame(&mut self) -> Option<Result<Message, WireError>> {
        match std::mem::replace(&mut self.state, State::new_header()) {
            State::Failed(error) => {
                self.state = State::Failed(error.clone());
                Some(Err(error))
            }
            State::Payload {
                checksum: claimed,
                len,
                payload,
            } if payload.len() == len => {
                let result = self.decode(claimed, &payload);
                if let Err(error) = &result {
                    if error.disconnects() {
                        self.state = State::Failed(error.clone());
                    }
                }
                Some(result)
            }
            waiting => {
                self.state = waiting;
                None
            }
        }
    }

    /// Decodes the current frame straight from the front of `bytes` when its whole payload is
    /// there and none of it was buffered (a read that holds whole frames, the common case), so
    /// the payload is not copied. Returns the message or error and the bytes it took.
    fn decode_in_place(&mut self, bytes: &[u8]) -> Option<(Result<Message, WireError>, usize)> {
        let State::Payload {
            checksum,
            len,
            payload,
        } = &self.state
        else {
            return None;
        };
        let (claimed, len) = (*checksum, *len);
        let whole = bytes.get(..len).filter(|_| payload.is_empty())?;
        let result = self.decode(claimed, whole);
        self.state = match &result {
            Err(error) if error.disconnects() => State::Failed(error.clone()),
            _ => State::new_header(),
        };
        Some((result, len))
    }

    /// Every frame completed by `bytes`, in order. Stops after an error that disconnects; bytes
    /// after the last whole frame stay buffered for the next call.
    pub fn feed<'a>(&'a mut self, bytes: &'a [u8]) -> Frames<'a> {
        Frames {
            decoder: self,
            input: bytes,
            done: false,
        }
    }

    /// Bytes of the current frame held (header and payload), at most
    /// `FRAME_HEADER_BYTES + MAX_MESSAGE_BYTES`.
    pub fn buffered_len(&self) -> usize {
        match &self.state {
            State::Header { filled, .. } => *filled,
            State::Payload { payload, .. } => FRAME_HEADER_BYTES + payload.len(),
            State::Failed(_) => 0,
        }
    }

    #[cfg(test)]
    pub(super) fn payload_capacity(&self) -> usize {
        match &self.state {
            State::Payload { payload, .. } => payload.capacity(),
            State::Header { .. } | State::Failed(_) => 0,
        }
    }
}

fn check_header(magic: [u8; 4], header: [u8; FRAME_HEADER_BYTES]) -> State {
    let [m0, m1, m2, m3, l0, l1, l2, l3, c0, c1, c2, c3] = header;
    let got = [m0, m1, m2, m3];
    if got != magic {
        return State::Failed(WireError::BadMagic {
            expected: magic,
            got,
        });
    }
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if len > MAX_MESSAGE_BYTES {
        return State::Failed(WireError::OversizedFrame {
            len,
            max: MAX_MESSAGE_BYTES,
        });
    }
    State::Payload {
        checksum: [c0, c1, c2, c3],
        len,
        payload: Vec::new(),
    }
}

/// Makes room for `additional` more bytes of a `len`-byte payload. Doubling keeps the copying
/// linear; growing only as bytes arrive, never past `len`, means a peer that announces 4 MB and
/// sends one byte costs one byte, not 4 MB.
fn reserve_bounded(payload: &mut Vec<u8>, additional: usize, len: usize) {
    let needed = payload.len() + additional;
    if needed > payload.capacity() {
        let target = needed.max(payload.capacity() * 2).min(len);
        payload.reserve_exact(target - payload.len());
    }
}

fn decode_frame_payload(claimed: [u8; 4], payload: &[u8]) -> Result<Message, WireError> {
    let expected = checksum(payload);
    if claimed != expected {
        return Err(WireError::BadChecksum {
            expected,
            got: claimed,
        });
    }
    Message::decode_payload(payload)
}

/// The frames completed by one chunk of bytes; see `FrameDecoder::feed`.
#[derive(Debug)]
pub struct Frames<'a> {
    decoder: &'a mut FrameDecoder,
    input: &'a [u8],
    done: bool,
}

impl Frames<'_> {
    /// `FrameDecoder::take_kept_frame`, while iterating.
    pub fn take_kept_frame(&mut self) -> Option<Vec<u8>> {
        self.decoder.take_kept_frame()
    }
}

impl Iterator for Frames<'_> {
    type Item = Result<Message, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            if let Some(result) = self.decoder.next_frame() {
                self.done = matches!(&result, Err(error) if error.disconnects());
                return Some(result);
            }
            if let Some((result, taken)) = self.decoder.decode_in_place(self.input) {
                self.input = &self.input[taken..];
                self.done = matches!(&result, Err(error) if error.disconnects());
                return Some(result);
            }
            let taken = self.decoder.push(self.input);
            if taken == 0 {
                return None;
            }
            self.input = &self.input[taken..];
        }
    }
}
