//! `partition-heal`: four nodes split two against two, each side confirms its own version of a
//! double spend, the heavier side wins when the network heals, and the lighter side's
//! confirmation is undone.
//!
//! Owns this one script. Must not judge convergence itself (`observe::Convergence` does).

use super::story::{coins, short, Story};
use super::Verdict;
use crate::devnet::control;
use crate::devnet::DevnetError;
use crate::observe::Convergence;

const ALL: [&str; 4] = ["node-0", "node-1", "node-2", "node-3"];
const MINORITY: [&str; 2] = ["node-0", "node-1"];
const MAJORITY: [&str; 2] = ["node-2", "node-3"];
const MINORITY_BLOCKS: u32 = 2;
const MAJORITY_BLOCKS: u32 = 3;

pub(super) const NODES: usize = ALL.len();

pub(super) fn play(story: &mut Story) -> Result<Verdict, DevnetError> {
    let mature = story.params().coinbase_maturity + 1;
    story.step(&format!(
        "node-0 mines {mature} blocks, so its first coinbase can be spent; all four nodes follow"
    ));
    let tip = story.generate("node-0", mature)?;
    story.wait_for_tip(&ALL, &tip)?;
    story.skip_events()?;
    story.say(&format!("every node is at {}", short(&tip)));

    story.step("node-0 signs two payments of the same coin: P1 to node-1 and P2 to node-2");
    let p1 = story.sign_payment("node-0", "node-1", "5")?;
    let p2 = story.sign_payment("node-0", "node-2", "5")?;
    if p1.inputs != p2.inputs {
        return Err(DevnetError::Scenario(format!(
            "P1 and P2 should spend the same coin, but spend {} and {}",
            p1.inputs, p2.inputs
        )));
    }
    story.say(&format!(
        "P1 {}  P2 {}  both spend coin {}",
        short(&p1.txid),
        short(&p2.txid),
        coins(&p1.inputs)
    ));

    story.step("The network splits: node-0, node-1 | node-2, node-3");
    control::partition(&story.state, "node-0,node-1/node-2,node-3")?;
    story.wait_for_split(&[&MINORITY, &MAJORITY])?;
    story.tell_events()?;

    story.step(&format!(
        "Minority side: P1 is broadcast and node-1 mines {MINORITY_BLOCKS} blocks on it"
    ));
    story.broadcast("node-0", &p1)?;
    let minority_tip = story.generate("node-1", MINORITY_BLOCKS)?;
    story.wait_for_tip(&MINORITY, &minority_tip)?;
    let p1_height = story.confirmed_at("node-0", &p1.txid, MINORITY_BLOCKS)?;
    story.say(&format!(
        "node-0 and node-1 see P1 confirmed (block {}), {MINORITY_BLOCKS} confirmations",
        p1_height.map_or("?".to_string(), |h| h.to_string())
    ));
    story.tell_events()?;

    story.step(&format!(
        "Majority side, with more hashrate: P2 is broadcast and node-3 mines {MAJORITY_BLOCKS} blocks on it"
    ));
    story.broadcast("node-2", &p2)?;
    let majority_tip = story.generate("node-3", MAJORITY_BLOCKS)?;
    story.wait_for_tip(&MAJORITY, &majority_tip)?;
    story.say(&format!(
        "node-2 and node-3 see P2 confirmed, {MAJORITY_BLOCKS} confirmations"
    ));
    story.tell_events()?;
    let before_heal = story.tips()?;
    story.show_fork()?;

    story.step("The partition heals");
    let heal_ms = Story::now_ms();
    control::heal(&story.state)?;
    let agreed = story.wait_for_agreement()?;
    story.tell_events()?;
    let after_heal = story.tips()?;
    let convergence = Convergence::measure(heal_ms, &story.events, &after_heal, &before_heal);

    let mut checks = Vec::new();
    checks.push(check(
        agreed == majority_tip,
        format!(
            "every node ended on the majority's tip {}",
            short(&majority_tip)
        ),
    ));
    checks.push(check(
        story
            .confirmed_at("node-0", &p2.txid, MAJORITY_BLOCKS)?
            .is_some(),
        "P2 (majority side) is confirmed on the agreed chain".to_string(),
    ));
    let p1_anywhere = story
        .confirmed_at("node-0", &p1.txid, MAJORITY_BLOCKS)?
        .is_some()
        || MINORITY.iter().try_fold(false, |any, name| {
            Ok::<_, DevnetError>(any || story.in_mempool(name, &p1.txid)?)
        })?;
    checks.push(check(
        !p1_anywhere,
        "P1's confirmation on the minority side is undone, and P1 is gone: it conflicts with P2"
            .to_string(),
    ));
    Ok(Verdict {
        convergence,
        checks,
    })
}

fn check(passed: bool, what: String) -> (bool, String) {
    (passed, what)
}
