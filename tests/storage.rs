//! The block log and data directory on real files: reopen, torn tails at every byte of the last
//! record, corruption in the middle, and the private files' modes, atomicity and lock.

use nakachain::codec;
use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::store::{BlockLog, DataDir, StoreError, TornTail, RECORD_HEADER_BYTES};
use nakachain::types::{Address, Block};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use tempfile::TempDir;

const BLOCKS: usize = 24;

/// `n` solved regtest blocks, each on top of the one before, starting from genesis.
fn chain(n: usize) -> Vec<Block> {
    let params = Params::regtest();
    let mut prev_hash = params.genesis_hash();
    let mut blocks = Vec::with_capacity(n);
    for height in 1..=n as u32 {
        let spec = BlockSpec {
            prev_hash,
            height,
            bits: params.pow_limit_bits,
            time: params.genesis.header.time + height,
            payout: Address([7; 20]),
            coinbase_value: params.subsidy(height),
            extra_nonce: 0,
        };
        let mut block = assemble_block(&spec, Vec::new());
        assert!(solve_block(&mut block, &AtomicBool::new(false)));
        prev_hash = block.hash();
        blocks.push(block);
    }
    blocks
}

/// Byte ranges of each block's record in a log holding `blocks`.
fn record_ranges(blocks: &[Block]) -> Vec<std::ops::Range<usize>> {
    let mut start = 0;
    blocks
        .iter()
        .map(|block| {
            let end = start + RECORD_HEADER_BYTES + codec::encode(block).len();
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

/// A log at `dir/blocks.log` holding `blocks`; returns its path and bytes.
fn write_log(dir: &Path, blocks: &[Block]) -> (PathBuf, Vec<u8>) {
    let path = dir.join("blocks.log");
    let (mut log, replay) = BlockLog::open(&path, Params::regtest().magic).unwrap();
    assert!(replay.blocks.is_empty());
    for block in blocks {
        log.append(block).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(log.len_bytes(), bytes.len() as u64);
    (path, bytes)
}

/// The chain, the bytes one-at-a-time appends store for it, and an empty log at `name` (in
/// `dir`) to store it again some other way and compare.
fn reference_and_empty_log(dir: &Path, name: &str) -> (Vec<Block>, Vec<u8>, PathBuf, BlockLog) {
    let blocks = chain(BLOCKS);
    let (_, single) = write_log(dir, &blocks);
    let path = dir.join(name);
    let (log, _) = open(&path).unwrap();
    (blocks, single, path, log)
}

fn open(path: &Path) -> Result<(BlockLog, nakachain::store::Replay), StoreError> {
    BlockLog::open(path, Params::regtest().magic)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Opening `bytes` must fail with corruption at `offset`, naming the file and the offset, and
/// leave the file exactly as it was.
fn assert_corrupt_at(dir: &Path, bytes: &[u8], offset: usize) -> String {
    let path = dir.join("damaged.log");
    std::fs::write(&path, bytes).unwrap();
    let err = open(&path).unwrap_err();
    assert_eq!(err.code(), "corrupt");
    match &err {
        StoreError::Corrupt {
            path: err_path,
            offset: err_offset,
            ..
        } => {
            assert_eq!(err_path, &path);
            assert_eq!(*err_offset, offset as u64);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("corrupt record at byte {offset}")),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the file was modified"
    );
    message
}

#[test]
fn appended_blocks_come_back_in_order() {
    let dir = TempDir::new().unwrap();
    let blocks = chain(BLOCKS);
    let (path, bytes) = write_log(dir.path(), &blocks);
    assert_eq!(bytes.len(), record_ranges(&blocks)[BLOCKS - 1].end);

    let (log, replay) = open(&path).unwrap();
    assert_eq!(replay.blocks, blocks);
    assert_eq!(replay.torn_tail, None);
    assert_eq!(log.path(), path);
    assert_eq!(log.len_bytes(), bytes.len() as u64);
}

#[test]
fn a_batch_append_stores_the_same_records_as_single_appends() {
    let dir = TempDir::new().unwrap();
    let (blocks, single, path, mut log) = reference_and_empty_log(dir.path(), "batch.log");
    log.append_all(&blocks[..1]).unwrap();
    log.append_all(&blocks[1..]).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), single);
    let (_, replay) = open(&path).unwrap();
    assert_eq!(replay.blocks, blocks);
}

#[test]
fn unsynced_appends_reach_the_file_on_sync_and_are_lost_if_the_log_is_dropped_first() {
    let dir = TempDir::new().unwrap();
    let (blocks, single, path, mut log) = reference_and_empty_log(dir.path(), "burst.log");
    for block in &blocks[..BLOCKS - 1] {
        log.append_unsynced([block]).unwrap();
    }
    assert_eq!(
        log.len_bytes(),
        record_ranges(&blocks)[BLOCKS - 2].end as u64
    );
    assert!(
        std::fs::read(&path).unwrap().is_empty(),
        "buffered until sync"
    );
    log.sync().unwrap();
    log.sync().unwrap();
    // A block of our own is durable at once, and so is everything before it.
    log.append(&blocks[BLOCKS - 1]).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), single);

    // Appended but never synced: gone, as after a crash, and the log opens clean.
    let (mut log, _) = open(&path).unwrap();
    log.append_unsynced(&blocks[..2]).unwrap();
    drop(log);
    let (_, replay) = open(&path).unwrap();
    assert_eq!(replay.blocks, blocks);
    assert_eq!(replay.torn_tail, None);
}

#[test]
fn flushed_appends_are_in_the_file_without_a_sync() {
    let dir = TempDir::new().unwrap();
    let (blocks, single, path, mut log) = reference_and_empty_log(dir.path(), "flushed.log");
    log.append_unsynced(&blocks).unwrap();
    assert!(std::fs::read(&path).unwrap().is_empty());
    log.flush().unwrap();
    // What a killed process leaves: the file as the OS has it, no sync, no orderly drop.
    assert_eq!(std::fs::read(&path).unwrap(), single);
    std::mem::forget(log);
    let (_, replay) = open(&path).unwrap();
    assert_eq!(replay.blocks, blocks);
}

#[test]
fn a_log_cut_anywhere_in_its_last_record_recovers_and_stays_usable() {
    let dir = TempDir::new().unwrap();
    let blocks = chain(BLOCKS);
    let (path, bytes) = write_log(dir.path(), &blocks);
    let last = record_ranges(&blocks)[BLOCKS - 1].clone();

    for cut in last.clone() {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (mut log, replay) = open(&path).unwrap();
        assert_eq!(replay.blocks, blocks[..BLOCKS - 1], "cut at {cut}");
        // A cut exactly at the record's start leaves only whole records: nothing is torn.
        let expected_tail = (cut > last.start).then_some(TornTail {
            offset: last.start as u64,
            bytes_dropped: (cut - last.start) as u64,
        });
        assert_eq!(replay.torn_tail, expected_tail, "cut at {cut}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), last.start as u64);
        assert_eq!(log.len_bytes(), last.start as u64);

        log.append(&blocks[BLOCKS - 1]).unwrap();
        drop(log);
        let (_, replay) = open(&path).unwrap();
        assert_eq!(replay.blocks, blocks, "cut at {cut}");
        assert_eq!(replay.torn_tail, None);
    }
}

#[test]
fn a_flipped_byte_in_a_middle_record_is_an_error_that_names_the_offset() {
    let dir = TempDir::new().unwrap();
    let blocks = chain(BLOCKS);
    let (_, bytes) = write_log(dir.path(), &blocks);
    let record = record_ranges(&blocks)[BLOCKS / 2].clone();
    let body_middle = (record.start + RECORD_HEADER_BYTES + record.end) / 2;

    let cases = [
        ("magic", record.start + 1, "bad magic"),
        ("length, low byte", record.start + 4, ""),
        (
            "length, high byte",
            record.start + 7,
            "over the block limit",
        ),
        ("crc", record.start + 9, "crc mismatch"),
        ("body", body_middle, "crc mismatch"),
    ];
    for (field, at, reason) in cases {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0xff;
        let message = assert_corrupt_at(dir.path(), &damaged, record.start);
        assert!(message.contains(reason), "{field}: {message}");
    }
}

#[test]
fn a_flipped_byte_in_the_last_record_body_is_a_torn_tail() {
    let dir = TempDir::new().unwrap();
    let blocks = chain(BLOCKS);
    let (path, mut bytes) = write_log(dir.path(), &blocks);
    let last = record_ranges(&blocks)[BLOCKS - 1].clone();
    bytes[last.end - 3] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let (_, replay) = open(&path).unwrap();
    assert_eq!(replay.blocks, blocks[..BLOCKS - 1]);
    assert_eq!(
        replay.torn_tail,
        Some(TornTail {
            offset: last.start as u64,
            bytes_dropped: last.len() as u64,
        })
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), last.start as u64);
}

#[test]
fn a_middle_length_running_past_the_end_is_an_error_not_a_truncation() {
    let dir = TempDir::new().unwrap();
    let blocks = chain(BLOCKS);
    let (_, mut bytes) = write_log(dir.path(), &blocks);
    let record = record_ranges(&blocks)[BLOCKS / 2].clone();
    let past_end = (bytes.len() - record.start) as u32;
    bytes[record.start + 4..record.start + 8].copy_from_slice(&past_end.to_le_bytes());

    let message = assert_corrupt_at(dir.path(), &bytes, record.start);
    assert!(message.contains("past the end of the file"), "{message}");
    let next = record_ranges(&blocks)[BLOCKS / 2 + 1].start;
    assert!(
        message.contains(&format!("valid record follows at byte {next}")),
        "{message}"
    );
}

#[test]
fn garbage_shorter_than_a_header_after_the_records_is_a_torn_tail() {
    let dir = TempDir::new().unwrap();
    let blocks = chain(BLOCKS);
    let (path, mut bytes) = write_log(dir.path(), &blocks);
    let good_len = bytes.len();
    bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x01]);
    std::fs::write(&path, &bytes).unwrap();

    let (_, replay) = open(&path).unwrap();
    assert_eq!(replay.blocks, blocks);
    assert_eq!(
        replay.torn_tail,
        Some(TornTail {
            offset: good_len as u64,
            bytes_dropped: 5,
        })
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len as u64);
}

#[test]
fn a_block_over_the_size_limit_is_refused_and_the_log_stays_intact() {
    let dir = TempDir::new().unwrap();
    let blocks = chain(3);
    let (path, bytes) = write_log(dir.path(), &blocks[..2]);
    let mut huge = blocks[2].clone();
    let output = huge.transactions[0].outputs[0];
    huge.transactions[0].outputs = vec![output; 40_000];
    assert!(codec::encode(&huge).len() > nakachain::params::MAX_BLOCK_BYTES);

    let (mut log, _) = open(&path).unwrap();
    let err = log.append(&huge).unwrap_err();
    assert_eq!(err.code(), "too-large");
    log.append(&blocks[2]).unwrap();
    drop(log);
    let (_, replay) = open(&path).unwrap();
    assert_eq!(replay.blocks, blocks);
    assert!(std::fs::read(&path).unwrap().starts_with(&bytes));
}

#[test]
fn the_cookie_is_private_replaced_and_removed() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("regtest").join("node-a");
    let datadir = DataDir::open(&root).unwrap();
    assert_eq!(datadir.root(), root);
    assert_eq!(datadir.block_log_path(), root.join("blocks.log"));
    let cookie = DataDir::cookie_path(&root);
    assert_eq!(cookie, root.join(".cookie"));

    // An old cookie left readable by everyone must not stay that way.
    std::fs::write(&cookie, "old").unwrap();
    std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o644)).unwrap();
    datadir.write_cookie("__cookie__:secret").unwrap();
    assert_eq!(mode(&cookie), 0o600);
    assert_eq!(DataDir::read_cookie(&root).unwrap(), "__cookie__:secret");

    datadir.remove_cookie();
    assert!(!cookie.exists());
    let err = DataDir::read_cookie(&root).unwrap_err();
    assert_eq!(err.code(), "missing-cookie");
    let message = err.to_string();
    assert!(message.contains(&cookie.display().to_string()), "{message}");
    assert!(message.contains("is the node running?"), "{message}");
}

#[test]
fn the_wallet_is_private_and_replaced_atomically() {
    let dir = TempDir::new().unwrap();
    let datadir = DataDir::open(dir.path()).unwrap();
    let wallet = dir.path().join("wallet.dat");
    assert_eq!(datadir.load_wallet().unwrap(), None);

    datadir.save_wallet(b"first wallet").unwrap();
    assert_eq!(mode(&wallet), 0o600);
    assert_eq!(
        datadir.load_wallet().unwrap().as_deref(),
        Some(&b"first wallet"[..])
    );

    // A hard link keeps the old file alive: if the save rewrote it in place, the link would see
    // the new bytes; a rename leaves it untouched.
    let old = dir.path().join("old-wallet");
    std::fs::hard_link(&wallet, &old).unwrap();
    datadir.save_wallet(b"second").unwrap();
    assert_eq!(std::fs::read(&old).unwrap(), b"first wallet");
    assert_eq!(
        datadir.load_wallet().unwrap().as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(mode(&wallet), 0o600);
    assert!(!dir.path().join("wallet.dat.tmp").exists());
}

#[test]
fn an_oversized_wallet_is_refused() {
    let dir = TempDir::new().unwrap();
    let datadir = DataDir::open(dir.path()).unwrap();
    let too_big = vec![0u8; nakachain::store::MAX_WALLET_BYTES as usize + 1];
    assert_eq!(
        datadir.save_wallet(&too_big).unwrap_err().code(),
        "too-large"
    );
    std::fs::write(dir.path().join("wallet.dat"), &too_big).unwrap();
    assert_eq!(datadir.load_wallet().unwrap_err().code(), "too-large");
}

#[test]
fn a_locked_data_directory_cannot_be_opened_twice() {
    let dir = TempDir::new().unwrap();
    let first = DataDir::open(dir.path()).unwrap();
    let err = DataDir::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), "locked");
    assert!(matches!(&err, StoreError::Locked { path } if path == dir.path()));
    assert!(err.to_string().contains("in use by another node"), "{err}");
    drop(first);
    assert!(DataDir::open(dir.path()).is_ok());
}

#[test]
fn invalidated_blocks_round_trip_and_a_bad_line_is_named_by_offset() {
    let dir = TempDir::new().unwrap();
    let datadir = DataDir::open(dir.path()).unwrap();
    assert_eq!(datadir.load_invalidated().unwrap(), Vec::new());
    let hashes: Vec<_> = chain(2).iter().map(Block::hash).collect();
    datadir.save_invalidated(&hashes).unwrap();
    assert_eq!(datadir.load_invalidated().unwrap(), hashes);

    let path = dir.path().join("invalidated.txt");
    let good_line = format!("{}\n", hashes[0]);
    std::fs::write(&path, format!("{good_line}not-a-hash\n")).unwrap();
    let err = datadir.load_invalidated().unwrap_err();
    assert_eq!(err.code(), "corrupt");
    let message = err.to_string();
    assert!(message.contains("invalidated.txt"), "{message}");
    assert!(
        message.contains(&format!("corrupt record at byte {}", good_line.len())),
        "{message}"
    );
}

#[test]
fn a_data_directory_belongs_to_the_network_that_first_opened_it() {
    let dir = TempDir::new().unwrap();
    let devnet = Params::devnet().network_id();
    let faster = Params::devnet_with_spacing(5).network_id();
    {
        let datadir = DataDir::open(dir.path()).unwrap();
        datadir.claim_network(devnet).unwrap();
        datadir.claim_network(devnet).unwrap();
    }
    let datadir = DataDir::open(dir.path()).unwrap();
    let err = datadir.claim_network(faster).unwrap_err();
    assert_eq!(err.code(), "other-network");
    let message = err.to_string();
    assert!(message.contains(&devnet.to_string()), "{message}");
    assert!(message.contains(&faster.to_string()), "{message}");
    assert!(message.contains("--block-time"), "{message}");
    datadir.claim_network(devnet).unwrap();
}
