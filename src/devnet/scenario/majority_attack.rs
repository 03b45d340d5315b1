//! `51-percent`: a miner with most of the hashrate pays a merchant, lets the payment confirm
//! on the honest chain, meanwhile mines a longer chain in secret that pays the same coin back to
//! itself, and releases it: the honest nodes reorg and the merchant's confirmed payment is gone.
//!
//! Owns this one script. Must not judge convergence itself (`observe::Convergence` does).

use super::story::Story;
use super::Verdict;
use crate::devnet::control;
use crate::devnet::status::short_hash as short;
use crate::devnet::DevnetError;

const HONEST: [&str; 3] = ["node-0", "node-1", "node-2"];
const ALL: [&str; 4] = ["node-0", "node-1", "node-2", "node-3"];
const ATTACKER: &str = "node-3";
const MERCHANT: &str = "node-0";
/// Confirmations the merchant waits for before handing over the goods.
const MERCHANT_CONFIRMATIONS: u32 = 2;
const SECRET_BLOCKS: u32 = 3;
/// Coins the attacker needs to pay the merchant, fee included.
const ATTACKER_SPENDS: f64 = 11.0;

pub(super) const NODES: usize = ALL.len();

pub(super) fn play(story: &mut Story) -> Result<Verdict, DevnetError> {
    // On a devnet that has been mining (the web view's), the attacker may have coins already.
    if story.spendable(ATTACKER)? < ATTACKER_SPENDS {
        let mature = story.params().coinbase_maturity + 1;
        story.step(&format!(
            "{ATTACKER} (the attacker, with most of the hashrate) mines {mature} blocks to have \
             coins to spend"
        ));
        let tip = story.generate(ATTACKER, mature)?;
        story.wait_for_tip(&ALL, &tip)?;
        story.skip_events()?;
        story.say(&format!("every node is at {}", short(&tip)));
    }

    story.step(&format!(
        "{ATTACKER} signs two payments of the same coin: PAY to the merchant {MERCHANT}, and BACK to itself"
    ));
    let [pay, back] =
        story.sign_double_spend(ATTACKER, ["PAY", "BACK"], [MERCHANT, ATTACKER], "10")?;

    story.step(&format!(
        "{ATTACKER} quietly cuts itself off to mine in secret"
    ));
    control::isolate(&story.state, ATTACKER)?;
    story.wait_for_split(&[&HONEST, &[ATTACKER]])?;
    story.tell_events()?;

    story.step(&format!(
        "The merchant receives PAY; the honest miners give it {MERCHANT_CONFIRMATIONS} confirmations"
    ));
    story.broadcast(MERCHANT, &pay)?;
    story.wait_for_mempool(&["node-1"], &pay.txid)?;
    let honest_tip = story.generate("node-1", MERCHANT_CONFIRMATIONS)?;
    story.wait_for_tip(&HONEST, &honest_tip)?;
    let paid_at = story.confirmed_at(MERCHANT, &pay.txid, MERCHANT_CONFIRMATIONS)?;
    story.say(&format!(
        "{MERCHANT} sees PAY confirmed in block {} with {MERCHANT_CONFIRMATIONS} confirmations and ships the goods",
        paid_at.map_or("?".to_string(), |h| h.to_string())
    ));
    story.tell_events()?;

    story.step(&format!(
        "Meanwhile {ATTACKER} confirms BACK on its secret chain: {SECRET_BLOCKS} blocks"
    ));
    story.broadcast(ATTACKER, &back)?;
    let secret_tip = story.generate(ATTACKER, SECRET_BLOCKS)?;
    story.wait_for_tip(&[ATTACKER], &secret_tip)?;
    story.tell_events()?;
    story.show_fork()?;

    story.step(&format!(
        "{ATTACKER} reconnects and releases its longer chain"
    ));
    let convergence = story.heal()?;
    let agreed = convergence.agreed_tip.map(|tip| tip.to_hex());

    let depth = SECRET_BLOCKS + 1;
    let pay_confirmed = story.confirmed_at(MERCHANT, &pay.txid, depth)?.is_some();
    let pay_pending = story.in_mempool(MERCHANT, &pay.txid)?;
    let checks = vec![
        (
            agreed.as_deref() == Some(secret_tip.as_str()),
            format!("every node follows the attacker's heavier chain {}", short(&secret_tip)),
        ),
        (
            story.confirmed_at(MERCHANT, &back.txid, depth)?.is_some(),
            "BACK, paying the attacker, is confirmed on the agreed chain".to_string(),
        ),
        (
            !pay_confirmed && !pay_pending,
            "PAY, the merchant's payment, is no longer confirmed, nor pending: the double spend succeeded"
                .to_string(),
        ),
    ];
    Ok(Verdict {
        convergence,
        checks,
    })
}
