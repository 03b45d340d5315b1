//! Peer connections over TCP: the listener, outbound dials, and one reader and one writer task
//! per connection, with a bounded send queue and an added send delay (`setlinklatency`) that
//! can change while the connection is up.
//!
//! Owns sockets and their tasks. Must not interpret messages: the reader hands the node task
//! whole frames (or the framing error), the writer sends what the node task queues. A peer whose
//! queue is full is too slow to keep and is dropped by the caller.

use super::command::{Command, FromPeer, PeerNotice};
use crate::protocol::{PeerId, Received};
use crate::types::{BlockHeader, Hash256};
use crate::wire::{BlockFrames, InvItem, Message, PeerAddress, WireError};
use std::collections::HashMap;
use std::mem::size_of;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Messages queued for one peer before it counts as too slow: four times the most blocks a
/// node of ours asks of one peer at once, so a peer that asked for all of them is not dropped
/// for the pings and announcements queued among them.
pub(super) const PEER_SEND_QUEUE: usize = 16_384;
/// Bytes of its own that what is queued for one peer may hold before the peer counts as too
/// slow: about one mempool's worth, so no peer's requests make us hold more than that in copies.
/// Blocks are shared with the chain and count nothing; a peer asking for headers over and over
/// without reading is stopped here long before 16,384 headers messages (2.6 GB).
pub(super) const PEER_SEND_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// How long an outbound dial may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closed connection's writer may take to send what is queued before it is cut.
const WRITER_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Queued frames written together up to about this many bytes.
const WRITE_BATCH_BYTES: usize = 256 * 1024;
/// Bytes read from a socket at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// A message, when it was queued (the writer holds it for the link's latency) and what it
/// counts against `PEER_SEND_QUEUE_BYTES` until it is encoded.
struct Queued {
    at: Instant,
    held_bytes: usize,
    message: Message,
}

struct Connection {
    outbox: mpsc::Sender<Queued>,
    /// `held_bytes` of everything in `outbox` and not yet encoded by the writer.
    queued_bytes: Arc<AtomicUsize>,
    /// Milliseconds every frame is held after it was queued.
    latency_ms: watch::Sender<u64>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// Every open connection, and the writers of closed ones still sending what was queued.
pub(super) struct Connections {
    open: HashMap<PeerId, Connection>,
    /// Writers of closed connections draining their queues (each bounded by
    /// `WRITER_DRAIN_TIMEOUT`), awaited at shutdown.
    closing: Vec<JoinHandle<()>>,
    next_id: PeerId,
    magic: [u8; 4],
    commands: mpsc::UnboundedSender<Command>,
    notices: mpsc::Sender<FromPeer>,
    /// Large blocks' frames as they arrived, to relay them without encoding them again.
    block_frames: BlockFrames,
}

impl Connections {
    /// Connections whose dials and accepts are reported on `commands`, and whose readers and
    /// writers report on `notices`.
    pub(super) fn new(
        magic: [u8; 4],
        commands: mpsc::UnboundedSender<Command>,
        notices: mpsc::Sender<FromPeer>,
    ) -> Connections {
        Connections {
            open: HashMap::new(),
            closing: Vec::new(),
            next_id: 1,
            magic,
            commands,
            notices,
            block_frames: BlockFrames::default(),
        }
    }

    /// Accepts connections on `listener` until the node task goes away.
    pub(super) fn listen(&self, listener: TcpListener) -> JoinHandle<()> {
        let commands = self.commands.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, addr)) => {
                        if commands.send(Command::Accepted { stream, addr }).is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "accepting a peer failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        })
    }

    /// Dials `addr` in the background; the result comes back as `Command::Dialed`.
    pub(super) fn dial(&self, addr: SocketAddr) {
        let commands = self.commands.clone();
        tokio::spawn(async move {
            let result = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await
            {
                Ok(Ok(stream)) => Ok(stream),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("timed out".to_string()),
            };
            let _ = commands.send(Command::Dialed { addr, result });
        });
    }

    /// Starts the reader and writer of a new connection, sending with `latency_ms` of added
    /// delay, and returns its id.
    pub(super) fn adopt(&mut self, stream: TcpStream, latency_ms: u64) -> PeerId {
        let id = self.next_id;
        self.next_id += 1;
        let _ = stream.set_nodelay(true);
        let (read_half, write_half) = stream.into_split();
        let (outbox, queued) = mpsc::channel::<Queued>(PEER_SEND_QUEUE);
        let (latency_tx, latency) = watch::channel(latency_ms);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let reader = tokio::spawn(read_frames(
            id,
            read_half,
            self.magic,
            self.block_frames.clone(),
            self.notices.clone(),
        ));
        let writer = tokio::spawn(write_frames(
            id,
            write_half,
            Outbox {
                queued,
                latency,
                queued_bytes: Arc::clone(&queued_bytes),
            },
            self.magic,
            self.block_frames.clone(),
            self.notices.clone(),
        ));
        self.open.insert(
            id,
            Connection {
                outbox,
                queued_bytes,
                latency_ms: latency_tx,
                reader,
                writer,
            },
        );
        id
    }

    /// Queues `message` for `peer`; false if the peer is gone or its queue is full (in
    /// messages, or in the bytes they hold).
    pub(super) fn send(&mut self, peer: PeerId, message: Message) -> bool {
        let Some(connection) = self.open.get(&peer) else {
            return false;
        };
        let weight = held_bytes(&message);
        let queued = &connection.queued_bytes;
        if queued.load(Ordering::Relaxed) + weight > PEER_SEND_QUEUE_BYTES {
            return false;
        }
        queued.fetch_add(weight, Ordering::Relaxed);
        let entry = Queued {
            at: Instant::now(),
            held_bytes: weight,
            message,
        };
        if connection.outbox.try_send(entry).is_err() {
            queued.fetch_sub(weight, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Sets the delay of frames to `peer`, including those already queued.
    pub(super) fn set_latency(&mut self, peer: PeerId, latency_ms: u64) {
        if let Some(connection) = self.open.get(&peer) {
            connection.latency_ms.send_replace(latency_ms);
        }
    }

    /// The delay of frames to `peer`, if it is open.
    pub(super) fn latency(&self, peer: PeerId) -> Option<u64> {
        self.open
            .get(&peer)
            .map(|connection| *connection.latency_ms.borrow())
    }

    /// Whether `peer` is still open here (it may have closed while its notices were queued).
    pub(super) fn is_open(&self, peer: PeerId) -> bool {
        self.open.contains_key(&peer)
    }

    /// Closes a connection: queued messages are still written, then the socket shuts down.
    pub(super) fn close(&mut self, peer: PeerId) {
        let Some(connection) = self.open.remove(&peer) else {
            return;
        };
        connection.reader.abort();
        drop(connection.outbox);
        // The writer ends once its queue is empty; a stuck peer cannot hold it for long.
        let mut writer = connection.writer;
        self.closing.retain(|drain| !drain.is_finished());
        self.closing.push(tokio::spawn(async move {
            if tokio::time::timeout(WRITER_DRAIN_TIMEOUT, &mut writer)
                .await
                .is_err()
            {
                writer.abort();
            }
        }));
    }

    /// Closes every connection and waits until each writer has sent what was queued (or ran
    /// out of `WRITER_DRAIN_TIMEOUT`), so a peer hears the last messages before the node exits.
    pub(super) async fn close_all(&mut self) {
        let ids: Vec<PeerId> = self.open.keys().copied().collect();
        for peer in ids {
            self.close(peer);
        }
        for drain in self.closing.drain(..) {
            let _ = drain.await;
        }
    }
}

/// A connection's reader: decodes frames as they arrive and hands the node task the frames of
/// each read in one notice (each block or headers hashed here, off the node task), until the
/// socket closes or a frame ends the connection. Waits when the node task is behind.
async fn read_frames(
    id: PeerId,
    mut socket: OwnedReadHalf,
    magic: [u8; 4],
    block_frames: BlockFrames,
    notices: mpsc::Sender<FromPeer>,
) {
    let mut decoder = block_frames.decoder(magic);
    let mut buffer = vec![0u8; READ_CHUNK_BYTES];
    loop {
        let read = match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let mut frames = decoder.feed(&buffer[..read]);
        let mut batch = Vec::new();
        let mut fatal = false;
        while let Some(frame) = frames.next() {
            if let Ok(message) = &frame {
                block_frames.keep(message, frames.take_kept_frame());
            }
            fatal = frame.as_ref().is_err_and(WireError::disconnects);
            batch.push(frame.map(Received::from));
            if fatal {
                break;
            }
        }
        if !batch.is_empty() && notices.send((id, PeerNotice::Frames(batch))).await.is_err() {
            return;
        }
        if fatal {
            return;
        }
    }
    let _ = notices.send((id, PeerNotice::Closed)).await;
}

/// A connection's queue as its writer sees it.
struct Outbox {
    queued: mpsc::Receiver<Queued>,
    latency: watch::Receiver<u64>,
    /// Shared with `Connection::queued_bytes`: the writer takes off what it encoded.
    queued_bytes: Arc<AtomicUsize>,
}

/// A connection's writer: sends what the node task queues, each frame once the link's latency
/// has passed since it was queued, coalescing what is due into one write; shuts the socket down
/// once the queue is closed and empty. A failed write is reported as the connection closing.
async fn write_frames(
    id: PeerId,
    mut socket: OwnedWriteHalf,
    mut outbox: Outbox,
    magic: [u8; 4],
    block_frames: BlockFrames,
    notices: mpsc::Sender<FromPeer>,
) {
    let mut batch = Vec::new();
    // A message taken off the queue that was not due yet: it goes first next time.
    let mut held: Option<Queued> = None;
    loop {
        let first = match held.take() {
            Some(queued) => queued,
            None => match outbox.queued.recv().await {
                Some(queued) => queued,
                None => break,
            },
        };
        hold(first.at, &mut outbox.latency).await;
        // Everything already queued and due goes out in one write: a burst of blocks answering
        // one getdata should not cost a system call each.
        batch.clear();
        let mut next = Some(first);
        while let Some(Queued {
            held_bytes,
            message,
            ..
        }) = next
        {
            if let Err(error) = block_frames.encode_into(magic, &message, &mut batch) {
                tracing::error!(%error, command = message.command(), "refusing to send an oversized message");
            }
            outbox.queued_bytes.fetch_sub(held_bytes, Ordering::Relaxed);
            next = None;
            if batch.len() < WRITE_BATCH_BYTES {
                if let Ok(queued) = outbox.queued.try_recv() {
                    if is_due(queued.at, *outbox.latency.borrow()) {
                        next = Some(queued);
                    } else {
                        held = Some(queued);
                    }
                }
            }
        }
        if socket.write_all(&batch).await.is_err() {
            // Not waiting for room: a full queue means the node task is busy or stopping (and
            // awaiting this writer), and the reader sees the broken connection too.
            let _ = notices.try_send((id, PeerNotice::Closed));
            return;
        }
    }
    let _ = socket.shutdown().await;
}

/// Roughly what a queued message holds in memory of its own.
fn held_bytes(message: &Message) -> usize {
    size_of::<Message>()
        + match message {
            // The chain's own block, shared: queueing it copies nothing.
            Message::Block(_) => 0,
            Message::Tx(tx) => tx.encoded_len(),
            Message::Headers(headers) => headers.len() * size_of::<BlockHeader>(),
            Message::Inv(items) | Message::GetData(items) | Message::NotFound(items) => {
                items.len() * size_of::<InvItem>()
            }
            Message::Addr(addrs) => addrs.len() * size_of::<PeerAddress>(),
            Message::GetHeaders { locator, .. } => locator.len() * size_of::<Hash256>(),
            Message::Version { user_agent, .. } => user_agent.len(),
            Message::Verack | Message::Ping(_) | Message::Pong(_) | Message::GetAddr => 0,
        }
}

fn is_due(queued_at: Instant, latency_ms: u64) -> bool {
    // Without added latency everything queued is due: no clock read per frame.
    latency_ms == 0 || queued_at + Duration::from_millis(latency_ms) <= Instant::now()
}

/// Waits until the link's latency has passed since `queued_at`, following changes of the
/// setting so that lowering it releases frames already waiting.
async fn hold(queued_at: Instant, latency: &mut watch::Receiver<u64>) {
    loop {
        let due = queued_at + Duration::from_millis(*latency.borrow_and_update());
        if due <= Instant::now() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due) => return,
            changed = latency.changed() => {
                // The connection is closing: its setting can no longer change.
                if changed.is_err() {
                    tokio::time::sleep_until(due).await;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FrameDecoder;

    /// Bounds a wait so a broken writer fails the test instead of hanging it (not a speed
    /// assertion).
    const PATIENCE: Duration = Duration::from_secs(30);
    const MAGIC: [u8; 4] = *b"test";

    /// A connection adopted on one end of a loopback socket, and the other end.
    async fn linked(latency_ms: u64) -> (Connections, PeerId, TcpStream) {
        let (connections, peer, remote, _) = linked_with_notices(latency_ms).await;
        (connections, peer, remote)
    }

    /// `linked`, with what the connection's tasks tell the node task.
    async fn linked_with_notices(
        latency_ms: u64,
    ) -> (Connections, PeerId, TcpStream, mpsc::Receiver<FromPeer>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (commands, _) = mpsc::unbounded_channel();
        let (notices_tx, notices) = mpsc::channel(16);
        let mut connections = Connections::new(MAGIC, commands, notices_tx);
        let peer = connections.adopt(dialed.expect("dial"), latency_ms);
        (connections, peer, accepted.expect("accept").0, notices)
    }

    async fn read_messages(stream: &mut TcpStream, count: usize) -> Vec<Message> {
        let mut decoder = FrameDecoder::new(MAGIC);
        let mut messages = Vec::new();
        let mut buffer = vec![0u8; READ_CHUNK_BYTES];
        while messages.len() < count {
            let read = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
                .await
                .expect("frames within the patience bound")
                .expect("read");
            assert!(read > 0, "closed after {messages:?}");
            messages.extend(
                decoder
                    .feed(&buffer[..read])
                    .map(|frame| frame.expect("frame")),
            );
        }
        messages
    }

    #[tokio::test]
    async fn a_peer_that_does_not_read_is_refused_once_its_queue_holds_too_many_bytes() {
        let (mut connections, peer, _unread) = linked(0).await;
        let header = BlockHeader {
            version: 1,
            prev_hash: Hash256::ZERO,
            merkle_root: Hash256::ZERO,
            time: 0,
            bits: 0,
            nonce: 0,
        };
        let headers = Message::Headers(vec![header; crate::wire::MAX_HEADERS]);
        let weight = held_bytes(&headers);
        // Far more than the byte bound, far fewer messages than the message bound.
        let tries = 3 * PEER_SEND_QUEUE_BYTES / weight;
        assert!(tries < PEER_SEND_QUEUE);
        let refused_at = (0..tries).find(|_| !connections.send(peer, headers.clone()));
        let refused_at = refused_at.expect("a queue that never fills");
        // What the socket's buffers took does not count, so at least the bound went in.
        assert!(
            refused_at >= PEER_SEND_QUEUE_BYTES / weight,
            "refused at {refused_at}"
        );
        assert!(
            connections.send(peer, Message::Ping(1)),
            "a small message still fits"
        );
    }

    #[tokio::test]
    async fn frames_are_held_for_the_latency_and_keep_their_order() {
        let (mut connections, peer, mut remote) = linked(60_000).await;
        assert_eq!(connections.latency(peer), Some(60_000));
        for nonce in 1..=3 {
            assert!(connections.send(peer, Message::Ping(nonce)));
        }
        // A minute's latency against a fifth of a second's look: nothing may have gone out.
        let mut byte = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(200), remote.read(&mut byte)).await;
        assert!(
            early.is_err(),
            "a frame went out before its latency: {early:?}"
        );
        connections.set_latency(peer, 0);
        let messages = read_messages(&mut remote, 3).await;
        assert_eq!(
            messages,
            vec![Message::Ping(1), Message::Ping(2), Message::Ping(3)]
        );
    }

    #[tokio::test]
    async fn lowering_the_latency_releases_frames_already_waiting() {
        let (mut connections, peer, mut remote) = linked(60_000).await;
        assert!(connections.send(peer, Message::Ping(1)));
        assert!(connections.send(peer, Message::Ping(2)));
        // Lets the writer take the first frame and start holding it.
        tokio::time::sleep(Duration::from_millis(20)).await;
        connections.set_latency(peer, 0);
        assert_eq!(connections.latency(peer), Some(0));
        let messages = read_messages(&mut remote, 2).await;
        assert_eq!(messages, vec![Message::Ping(1), Message::Ping(2)]);
    }

    #[tokio::test]
    async fn the_frames_of_a_read_arrive_together_and_end_at_one_that_ends_the_connection() {
        let (_connections, _peer, mut remote, mut notices) = linked_with_notices(0).await;
        let mut bytes = Vec::new();
        for message in [Message::Ping(1), Message::Verack] {
            bytes.extend(crate::wire::encode_frame(MAGIC, &message).expect("frame"));
        }
        bytes.extend(crate::wire::encode_frame(*b"else", &Message::GetAddr).expect("frame"));
        bytes.extend(crate::wire::encode_frame(MAGIC, &Message::GetAddr).expect("frame"));
        remote.write_all(&bytes).await.expect("write");

        // One write may still come in more than one read: gather until the bad frame.
        let mut seen = Vec::new();
        while !seen
            .iter()
            .any(|frame: &Result<&str, String>| frame.is_err())
        {
            let notice = tokio::time::timeout(PATIENCE, notices.recv())
                .await
                .expect("notices within the patience bound")
                .expect("the channel stays open");
            let (_, PeerNotice::Frames(frames)) = notice else {
                panic!("frames first, got another notice");
            };
            seen.extend(frames.into_iter().map(|frame| match frame {
                Ok(received) => Ok(received.command()),
                Err(error) => Err(error.code().to_string()),
            }));
        }
        assert_eq!(
            seen,
            vec![Ok("ping"), Ok("verack"), Err("bad-magic".to_string())]
        );
        // The reader stopped at the frame that ends the connection: the one after it never
        // comes. A fifth of a second's look, as above.
        let later = tokio::time::timeout(Duration::from_millis(200), notices.recv()).await;
        assert!(later.is_err(), "nothing after the bad frame");
    }
}
