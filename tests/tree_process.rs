//! Real-process test of the block tree: a regtest node mines, a block is invalidated by hand,
//! the node mines a replacement branch, and both `getblocktree` and `nakachain tree` show the
//! old blocks as reorged beside the new active ones, also after a restart.

#[path = "support/process.rs"]
mod process;

use nakachain::rpc::ClientError;
use process::{free_port, NodeProcess};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Command;

fn hashes(value: &Value) -> Vec<Value> {
    value.as_array().expect("array of hashes").clone()
}

#[test]
fn invalidated_blocks_show_as_reorged_beside_the_new_branch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let port = free_port();
    let node = NodeProcess::start(&datadir, port);

    let old = hashes(&node.call("generate", vec![json!(3)]));
    node.call("invalidateblock", vec![old[1].clone()]);
    // Paying another address makes the replacement differ from the invalidated block, which
    // the same template in the same second would otherwise reproduce exactly.
    let address = node.call("getnewaddress", vec![]);
    let new = hashes(&node.call("generatetoaddress", vec![json!(3), address]));
    let tip = new[2].clone();

    let tree = node.call("getblocktree", vec![]);
    assert_eq!(tree["tip"], tip);
    assert_eq!(tree["height"], json!(4));
    let blocks: HashMap<String, &Value> = tree["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .map(|block| (block["hash"].as_str().expect("hash").to_string(), block))
        .collect();
    // Genesis, the three old blocks and the three new ones: all within the default depth.
    assert_eq!(blocks.len(), 7);
    let of = |hash: &Value| blocks[hash.as_str().expect("hash")];
    assert_eq!(of(&old[0])["status"], json!("active"));
    assert_eq!(of(&old[0])["reorged"], json!(false));
    for gone in &old[1..] {
        assert_eq!(of(gone)["status"], json!("invalid"));
        assert_eq!(of(gone)["reorged"], json!(true));
    }
    assert_eq!(of(&old[2])["prev"], old[1]);
    for active in &new {
        assert_eq!(of(active)["status"], json!("active"));
        assert_eq!(of(active)["reorged"], json!(false));
    }
    assert_eq!(of(&new[0])["prev"], old[0]);
    assert_eq!(of(&new[0])["height"], json!(2));
    let header = node.call("getblockheader", vec![tip.clone()]);
    assert_eq!(of(&tip)["chainwork"], header["chainwork"]);

    // Depth counts heights below the tip: 1 keeps heights 3 and 4 of both branches.
    let shallow = node.call("getblocktree", vec![json!(1)]);
    assert_eq!(shallow["blocks"].as_array().map(Vec::len), Some(3));
    for bad in [json!(-1), json!(10_001), json!("ten"), json!(1.5)] {
        match node.client().call("getblocktree", vec![bad.clone()]) {
            Err(ClientError::Rpc(error)) => {
                assert_eq!(error.code, -8, "{bad}: {}", error.message);
                assert!(error.message.contains("depth"), "{}", error.message);
            }
            other => panic!("getblocktree {bad} was not refused: {other:?}"),
        }
    }

    let output = Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .args(["--network", "regtest", "--datadir"])
        .arg(&datadir)
        .args(["--rpc-port", &port.to_string(), "tree"])
        .output()
        .expect("run nakachain tree");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let short = |hash: &Value| {
        let hex = hash.as_str().expect("hash");
        format!("{}…{}", &hex[..4], &hex[56..])
    };
    assert!(lines[0].contains(&short(&tip)), "{text}");
    assert!(
        lines[0].contains("h=4") && lines[0].contains("[this node]"),
        "{text}"
    );
    assert_eq!(text.matches("(reorged)").count(), 2, "{text}");
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    let fork = lines
        .iter()
        .find(|line| line.contains(&short(&old[0])))
        .expect("fork point shown");
    assert!(fork.contains("(fork)"), "{text}");

    // The same tree as a picture: every block drawn, the reorged ones marked.
    let picture = dir.path().join("tree.svg");
    let output = Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .args(["--network", "regtest", "--datadir"])
        .arg(&datadir)
        .args(["--rpc-port", &port.to_string(), "tree", "--svg"])
        .arg(&picture)
        .output()
        .expect("run nakachain tree --svg");
    assert!(output.status.success(), "{output:?}");
    let svg = std::fs::read_to_string(&picture).expect("the picture was written");
    let drawn = tree["blocks"].as_array().map_or(0, Vec::len);
    assert_eq!(svg.matches("<g class=\"block").count(), drawn, "{svg}");
    let marked = svg
        .split("<g class=\"")
        .filter(|group| {
            group
                .split('"')
                .next()
                .is_some_and(|classes| classes.contains("reorged"))
        })
        .count();
    assert_eq!(marked, 2, "{svg}");
    assert!(svg.contains(&format!("data-hash=\"{}\"", tip.as_str().expect("hash"))));
    node.stop();

    // The replay at start-up takes the same decisions, so the marks come back.
    let node = NodeProcess::start(&datadir, port);
    assert_eq!(node.call("getblocktree", vec![]), tree);
    node.stop();
}
