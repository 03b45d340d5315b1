//! `partition-heal`: four nodes split two against two, each side confirms its own version of a
//! double spend, the heavier side wins when the network heals, and the lighter side's
//! confirmation is undone.
//!
//! Owns this one script. Must not judge convergence itself (`observe::Convergence` does).

use super::story::Story;
use super::Verdict;
use crate::devnet::control;
use crate::devnet::status::short_hash as short;
use crate::devnet::DevnetError;

const ALL: [&str; 4] = ["node-0", "node-1", "node-2", "node-3"];
const MINORITY: [&str; 2] = ["node-0", "node-1"];
const MAJORITY: [&str; 2] = ["node-2", "node-3"];
const MINORITY_BLOCKS: u32 = 2;
const MAJORITY_BLOCKS: u32 = 3;
/// Coins node-0 and node-1 need to pay what they pay below, fees included.
const NODE_0_SPENDS: f64 = 6.0;
const NODE_1_SPENDS: f64 = 4.0;

pub(super) const NODES: usize = ALL.len();

pub(super) fn play(story: &mut Story) -> Result<Verdict, DevnetError> {
    // On a devnet that has been mining (the web view's), both may have coins already.
    if story.spendable("node-0")? < NODE_0_SPENDS || story.spendable("node-1")? < NODE_1_SPENDS {
        let maturity = story.params().coinbase_maturity;
        story.step(&format!(
            "node-1 mines a block and node-0 {maturity} more, so each has one coinbase it can \
             spend; all four nodes follow"
        ));
        let first = story.generate("node-1", 1)?;
        story.wait_for_tip(&ALL, &first)?;
        let tip = story.generate("node-0", maturity)?;
        story.wait_for_tip(&ALL, &tip)?;
        story.skip_events()?;
        story.say(&format!("every node is at {}", short(&tip)));
    }

    story.step("node-0 signs two payments of the same coin: P1 to node-1 and P2 to node-2");
    let [p1, p2] = story.sign_double_spend("node-0", ["P1", "P2"], ["node-1", "node-2"], "5")?;

    story.step("The network splits: node-0, node-1 | node-2, node-3");
    control::partition(&story.state, "node-0,node-1/node-2,node-3")?;
    story.wait_for_split(&[&MINORITY, &MAJORITY])?;
    story.tell_events()?;

    story.step(&format!(
        "Minority side: P1 is broadcast, node-1 pays node-0 3 coins of its own (P3, no conflict), \
         and node-1 mines {MINORITY_BLOCKS} blocks on them"
    ));
    // P3 first: once P1 is in node-1's mempool, its wallet would pay from P1's output to it,
    // and P3 would fall with P1.
    let p3 = story.pay("node-1", "node-0", "3")?;
    story.broadcast("node-0", &p1)?;
    story.wait_for_mempool(&["node-1"], &p1.txid)?;
    let minority_tip = story.generate("node-1", MINORITY_BLOCKS)?;
    story.wait_for_tip(&MINORITY, &minority_tip)?;
    let p1_height = story.confirmed_at("node-0", &p1.txid, MINORITY_BLOCKS)?;
    story.say(&format!(
        "node-0 and node-1 see P1 and P3 {} confirmed (block {}), {MINORITY_BLOCKS} confirmations",
        short(&p3),
        p1_height.map_or("?".to_string(), |h| h.to_string())
    ));
    story.tell_events()?;

    story.step(&format!(
        "Majority side, with more hashrate: P2 is broadcast and node-3 mines {MAJORITY_BLOCKS} blocks on it"
    ));
    story.broadcast("node-2", &p2)?;
    story.wait_for_mempool(&["node-3"], &p2.txid)?;
    let majority_tip = story.generate("node-3", MAJORITY_BLOCKS)?;
    story.wait_for_tip(&MAJORITY, &majority_tip)?;
    story.say(&format!(
        "node-2 and node-3 see P2 confirmed, {MAJORITY_BLOCKS} confirmations"
    ));
    story.tell_events()?;
    story.show_fork()?;

    story.step("The partition heals");
    let convergence = story.heal()?;
    let agreed = convergence.agreed_tip.map(|tip| tip.to_hex());

    let p1_confirmed = story
        .confirmed_at("node-0", &p1.txid, MAJORITY_BLOCKS)?
        .is_some();
    let p1_pending =
        story.in_mempool("node-0", &p1.txid)? || story.in_mempool("node-1", &p1.txid)?;
    let p3_pending = story.in_mempool("node-0", &p3)? && story.in_mempool("node-1", &p3)?;
    let checks = vec![
        (
            agreed.as_deref() == Some(majority_tip.as_str()),
            format!("every node ended on the majority's tip {}", short(&majority_tip)),
        ),
        (
            story.confirmed_at("node-0", &p2.txid, MAJORITY_BLOCKS)?.is_some(),
            "P2 (majority side) is confirmed on the agreed chain".to_string(),
        ),
        (
            !p1_confirmed && !p1_pending,
            "P1's confirmation on the minority side is undone, and P1 is gone: it conflicts with P2"
                .to_string(),
        ),
        (
            p3_pending,
            "P3's confirmation is undone too, but it conflicts with nothing: it is back in the \
             minority's mempools, waiting for a block"
                .to_string(),
        ),
    ];
    Ok(Verdict {
        convergence,
        checks,
    })
}
