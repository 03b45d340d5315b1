//! The `nakachain devnet …` subcommands: their arguments, help and examples, and running them.
//!
//! Owns turning a parsed command into calls on the devnet module and printing the outcome. Must
//! not hold devnet logic itself.

use super::plan::Topology;
use super::scenario::{self, ScenarioName};
use super::state::{self, DevnetState};
use super::up::{self, UpOptions};
use super::view::{self, RecentEvents};
use super::{control, down, status, txgen, watch, web, DevnetError};
use crate::observe::{Convergence, RenderOptions, Verbosity};
use crate::params::{Network, DEVNET_SPACING_SECS};
use crate::rpc;
use clap::{Args, Subcommand};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Subcommand, Debug)]
/// `nakachain devnet …`: the subcommands.
pub enum DevnetCommand {
    /// Start N node processes on this machine, wired and mining; returns once all are peered
    #[command(
        after_help = "Examples:\n  nakachain devnet up --nodes 5\n  nakachain devnet up --nodes 4 --topology ring --mine node-0,node-2 --threads 2\n  nakachain devnet up --block-time 2 --tx-rate 1 --watch\n  nakachain --network regtest devnet up --nodes 3 --mine none"
    )]
    Up {
        /// How many nodes
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// How the nodes are wired
        #[arg(long, value_enum, default_value_t = Topology::Mesh)]
        topology: Topology,
        /// Which nodes mine: all, none, or names like node-0,node-2
        #[arg(long, default_value = "all")]
        mine: String,
        /// Miner threads in total, split fairly over the mining nodes [default: one per core]
        #[arg(long)]
        threads: Option<usize>,
        /// Devnet block spacing in seconds (1 to 600) [default: 10]
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(
            i64::from(*DEVNET_SPACING_SECS.start())..=i64::from(*DEVNET_SPACING_SECS.end())))]
        block_time: Option<u32>,
        /// Added delay on every link, in milliseconds
        #[arg(long, value_name = "MS")]
        link_latency: Option<u64>,
        /// Payments a second between the nodes' wallets (once some coins are mature)
        #[arg(long, value_name = "R")]
        tx_rate: Option<f64>,
        /// First port: node i listens on P+2i (p2p) and P+2i+1 (rpc) [default: 19000 devnet,
        /// 29000 regtest]
        #[arg(long, value_name = "P")]
        base_port: Option<u16>,
        /// Stay in the foreground with the live view; Ctrl-C stops the devnet
        #[arg(long, conflicts_with = "web")]
        watch: bool,
        /// Stay in the foreground serving the web view (as `devnet web`); Ctrl-C stops the
        /// devnet
        #[arg(long)]
        web: bool,
    },
    /// Watch the devnet in a browser: the block tree, the network, the nodes and the timeline,
    /// live, with controls that do what these commands do
    #[command(
        after_help = "Examples:\n  nakachain devnet web\n  nakachain devnet web --port 8080 --open"
    )]
    Web {
        /// Port on 127.0.0.1
        #[arg(long, default_value_t = web::DEFAULT_WEB_PORT)]
        port: u16,
        /// Open the page in the desktop's browser
        #[arg(long)]
        open: bool,
    },
    /// Each node's height, tip, peers, hashrate and mempool, and whether all agree
    #[command(after_help = "Example:\n  nakachain devnet status")]
    Status,
    /// The status table, redrawn every second until Ctrl-C
    #[command(after_help = "Example:\n  nakachain devnet watch")]
    Watch,
    /// Stop every node and the transaction generator; chain data is kept unless --purge
    #[command(after_help = "Examples:\n  nakachain devnet down\n  nakachain devnet down --purge")]
    Down {
        /// Also delete the nodes' data directories and the generator log
        #[arg(long)]
        purge: bool,
    },
    /// Print a node's log (its stdout and stderr)
    #[command(
        after_help = "Examples:\n  nakachain devnet logs node-1\n  nakachain devnet logs node-0 --follow"
    )]
    Logs {
        /// The node, e.g. node-1
        node: String,
        /// Keep printing new lines until Ctrl-C
        #[arg(long, short)]
        follow: bool,
    },
    /// Split the nodes into groups that cannot reach each other
    #[command(
        after_help = "Examples:\n  nakachain devnet partition node-0,node-1/node-2,node-3\n  nakachain devnet partition node-0/node-1/node-2"
    )]
    Partition {
        /// Groups separated by '/', node names within a group by ','; every node exactly once
        groups: String,
    },
    /// Cut one node off from all others
    #[command(after_help = "Example:\n  nakachain devnet isolate node-2")]
    Isolate {
        /// The node, e.g. node-2
        node: String,
    },
    /// Undo partitions and isolation, wait until every node is on one tip, and print what the
    /// heal did: time to agree, blocks orphaned, reorgs
    #[command(
        after_help = "Examples:\n  nakachain devnet heal\n  nakachain devnet heal --wait 120\n  nakachain devnet heal --no-wait"
    )]
    Heal {
        /// How long to wait for the nodes to agree before giving up (exit status 1)
        #[arg(long, value_name = "SECONDS", default_value_t = view::DEFAULT_PATIENCE.as_secs())]
        wait: u64,
        /// Return as soon as the nodes are told, without waiting or measuring
        #[arg(long, conflicts_with = "wait")]
        no_wait: bool,
    },
    /// The block tree of all nodes merged, drawn like `git log --graph`, tips labelled with
    /// the nodes on them
    #[command(
        after_help = "Examples:\n  nakachain devnet tree\n  nakachain devnet tree --depth 100 --collapse 3\n  nakachain devnet tree --svg tree.svg"
    )]
    Tree {
        /// How many blocks below the highest tip to show
        #[arg(long, value_name = "N", default_value_t = 20)]
        depth: u32,
        /// Draw a run of more than N plain blocks as one line
        #[arg(long, value_name = "N")]
        collapse: Option<usize>,
        /// Write the tree as an SVG picture to FILE instead of drawing it as text
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// All nodes' events merged in time order: blocks mined and connected, reorgs, peers,
    /// partitions and heals
    #[command(
        after_help = "Examples:\n  nakachain devnet events\n  nakachain devnet events --follow\n  nakachain devnet events --all"
    )]
    Events {
        /// Keep printing new events until Ctrl-C
        #[arg(long, short)]
        follow: bool,
        /// Every event, including the block connects a mined or REORG line already tells
        #[arg(long)]
        all: bool,
    },
    /// Add delay to every link, or only among some nodes (0 removes it)
    #[command(
        after_help = "Examples:\n  nakachain devnet latency 200\n  nakachain devnet latency 500 --between node-0,node-3\n  nakachain devnet latency 0"
    )]
    Latency {
        /// Milliseconds of delay
        ms: u64,
        /// Only the links among these nodes, e.g. node-0,node-3
        #[arg(long, value_name = "A,B")]
        between: Option<String>,
    },
    /// Call an RPC method on one node and print the answer, like `nakachain rpc`
    #[command(
        after_help = "Examples:\n  nakachain devnet rpc node-0 getblockchaininfo\n  nakachain --network regtest devnet rpc node-2 generate 3"
    )]
    Rpc {
        /// The node to call, e.g. node-0
        node: String,
        /// The RPC method
        method: String,
        /// Parameters: JSON where they parse as JSON, strings otherwise
        args: Vec<String>,
    },
    /// Play a story of forks and reorgs on a fresh devnet, narrated, and report what changed
    #[command(
        after_help = "Examples:\n  nakachain --network regtest devnet scenario partition-heal\n  nakachain devnet scenario 51-percent --keep\n  nakachain devnet scenario chaos --seconds 300 --seed 7\n\nOn devnet blocks take about a second each (the scenario runs a 1 s devnet); on regtest\nthey are instant. Exits non-zero unless every node converged on the most-work tip."
    )]
    Scenario {
        #[arg(value_enum)]
        /// Which scenario
        name: ScenarioName,
        /// Leave the devnet up afterwards, to look around with `devnet --dir … tree` and
        /// `devnet --dir … events` (the command is printed)
        #[arg(long)]
        keep: bool,
        /// First port, as for `up`; apart from a devnet's defaults, so a scenario plays beside
        /// one [default: 19500 devnet, 29500 regtest]
        #[arg(long, value_name = "P")]
        base_port: Option<u16>,
        /// chaos: seconds of strikes before the final heal and the checks
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// chaos: the seed of every choice the nemesis makes
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The transaction generator process that `up --tx-rate` starts
    #[command(hide = true)]
    Txgen {
        #[arg(long)]
        /// Payments a second
        rate: f64,
        /// The devnet's state file; the generator exits when it is gone
        #[arg(long)]
        state: PathBuf,
    },
}

/// `nakachain devnet [--dir DIR] …`: which devnet, and what to do with it.
#[derive(Args, Debug)]
pub struct DevnetArgs {
    /// The devnet's directory: its state file and its nodes' data directories
    /// [default: chain-data/devnet or chain-data/regtest]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: DevnetCommand,
}

/// Runs one devnet command and prints its outcome.
pub fn run(args: DevnetArgs, network: Network) -> ExitCode {
    let root = match args.dir {
        Some(dir) => Ok(dir),
        None => state::devnet_root(network),
    };
    match root.and_then(|root| execute(args.command, network, &root)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Says so when `up` is about to start nodes on the chains an earlier devnet left in `root`:
/// they resume where they were, which is not always what was meant.
fn note_leftover_chains(root: &Path, nodes: usize) {
    if state::state_path(root).exists() {
        // A devnet that is up: `up` refuses with its own message.
        return;
    }
    let left: Vec<String> = (0..nodes)
        .map(super::plan::node_name)
        .filter(|name| root.join(name).join("blocks.log").exists())
        .collect();
    let which = match left.as_slice() {
        [] => return,
        [one] => format!("{one} holds"),
        [first, .., last] => format!("{} of the nodes ({first} … {last}) hold", left.len()),
    };
    view::note(&format!(
        "{which} an earlier devnet's chain in {}, which they resume; \
         `nakachain devnet down --purge` first starts from genesis",
        state::pretty(root).display()
    ));
}

/// Tells where the web view is, once it listens.
fn announce_web(addr: std::net::SocketAddr) {
    println!("web view on http://{addr}/ (Ctrl-C stops it)");
}

fn load(root: &Path) -> Result<DevnetState, DevnetError> {
    state::load(root)
}

fn execute(command: DevnetCommand, network: Network, root: &Path) -> Result<(), DevnetError> {
    match command {
        DevnetCommand::Up {
            nodes,
            topology,
            mine,
            threads,
            block_time,
            link_latency,
            tx_rate,
            base_port,
            watch,
            web,
        } => {
            let options = UpOptions {
                network,
                nodes,
                topology,
                mine,
                threads,
                block_time,
                link_latency_ms: link_latency,
                tx_rate,
                base_port,
            };
            note_leftover_chains(root, nodes);
            let state = up::up(&options, root)?;
            print!("{}", up::node_table(&state));
            println!("all {} nodes are up and peered", state.nodes.len());
            if watch {
                let mut recent = RecentEvents::default();
                watch::live(|| live_frame(root, &mut recent))?;
                print_down(&down::down(root, false)?);
            }
            if web {
                web::serve(state, web::DEFAULT_WEB_PORT, false, announce_web)?;
                print_down(&down::down(root, false)?);
            }
            Ok(())
        }
        DevnetCommand::Web { port, open } => web::serve(load(root)?, port, open, announce_web),
        DevnetCommand::Status => {
            let state = load(root)?;
            print!("{}", status::render(&state, &status::gather(&state)));
            Ok(())
        }
        DevnetCommand::Watch => {
            load(root)?;
            let mut recent = RecentEvents::default();
            watch::live(|| live_frame(root, &mut recent)).map(drop)
        }
        DevnetCommand::Down { purge } => {
            print_down(&down::down(root, purge)?);
            Ok(())
        }
        DevnetCommand::Logs { node, follow } => {
            let log = match load(root) {
                Ok(state) => state.node(&node)?.log_path(),
                Err(not_up @ DevnetError::NotUp { .. }) => kept_log(root, &node)?.ok_or(not_up)?,
                Err(other) => return Err(other),
            };
            watch::print_log(&log, follow)
        }
        DevnetCommand::Partition { groups } => {
            let state = load(root)?;
            let groups = control::partition(&state, &groups)?;
            println!("partitioned: {}", control::describe_groups(&state, &groups));
            Ok(())
        }
        DevnetCommand::Isolate { node } => {
            control::isolate(&load(root)?, &node)?;
            println!("{node} is isolated");
            Ok(())
        }
        DevnetCommand::Heal { wait, no_wait } => {
            let state = load(root)?;
            if no_wait {
                control::heal(&state)?;
                println!("healed: every node may reach its neighbours again");
                return Ok(());
            }
            let patience = Duration::from_secs(wait);
            print_heal(&view::heal_and_measure(&state, patience)?, patience)
        }
        DevnetCommand::Tree {
            depth,
            collapse,
            svg,
        } => {
            let tree = view::fetch_tree(&load(root)?, depth)?;
            let options = RenderOptions {
                color: svg.is_none() && std::io::stdout().is_terminal(),
                collapse_linear_after: collapse,
            };
            match svg {
                Some(path) => {
                    std::fs::write(&path, tree.render_svg(&options))
                        .map_err(DevnetError::io(&path))?;
                    println!("wrote {}", path.display());
                }
                None => print!("{}", tree.render(&options)),
            }
            Ok(())
        }
        DevnetCommand::Events { follow, all } => {
            let verbosity = if all {
                Verbosity::Everything
            } else {
                Verbosity::Concise
            };
            view::follow_events(&load(root)?, verbosity, follow)
        }
        DevnetCommand::Latency { ms, between } => {
            control::latency(&load(root)?, ms, between.as_deref())?;
            match between {
                Some(nodes) => println!("{ms} ms added on the links among {nodes}"),
                None => println!("{ms} ms added on every link"),
            }
            Ok(())
        }
        DevnetCommand::Txgen { rate, state } => txgen::run(&state, rate),
        DevnetCommand::Rpc { node, method, args } => {
            let params = args
                .iter()
                .map(|arg| rpc::cli::param_from_arg(arg))
                .collect();
            let answer = load(root)?.node(&node)?.call(&method, params)?;
            if let Some(text) = rpc::cli::answer_text(&answer) {
                println!("{text}");
            }
            Ok(())
        }
        DevnetCommand::Scenario {
            name,
            keep,
            base_port,
            seconds,
            seed,
        } => {
            let chaos = scenario::ChaosOptions { seconds, seed };
            let verdict = scenario::run(name, network, root, keep, base_port, chaos)?;
            if verdict.passed() {
                Ok(())
            } else {
                Err(DevnetError::Scenario(
                    "the nodes did not all converge on the most-work tip as the story expects"
                        .to_string(),
                ))
            }
        }
    }
}

/// The log a stopped devnet left behind for `node`, so a crash can still be read after `down`.
fn kept_log(root: &Path, node: &str) -> Result<Option<PathBuf>, DevnetError> {
    let is_node_name = node
        .strip_prefix("node-")
        .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()));
    let log = root.join(node).join(super::node::NODE_LOG_FILE);
    Ok((is_node_name && log.is_file()).then_some(log))
}

/// One frame of the live view (`watch`, `up --watch`): the status table, then the latest
/// events. `None` once the devnet is gone.
fn live_frame(root: &Path, recent: &mut RecentEvents) -> Option<String> {
    let state = load(root).ok()?;
    let mut frame = status::render(&state, &status::gather(&state));
    frame.push_str(&recent.update(&state));
    Some(frame)
}

/// The heal's headline and the rest of `Convergence::report` (its first two lines say what the
/// headline says); an error when the nodes did not agree in time.
fn print_heal(figures: &Convergence, patience: Duration) -> Result<(), DevnetError> {
    println!("{}", view::heal_headline(figures));
    for line in figures.report().lines().skip(2) {
        println!("{line}");
    }
    if figures.converged {
        return Ok(());
    }
    let tips: HashSet<_> = figures.final_tips.iter().map(|tip| tip.tip).collect();
    Err(DevnetError::NotConverged {
        nodes: figures.final_tips.len(),
        tips: tips.len(),
        waited: patience,
    })
}

fn print_down(report: &down::DownReport) {
    if let Some(problem) = &report.state_problem {
        eprintln!("warning: {problem}");
    }
    if !report.had_state && report.found == 0 {
        println!("no devnet was up");
    } else {
        let noun = if report.found == 1 {
            "process"
        } else {
            "processes"
        };
        let killed = if report.killed > 0 {
            format!(" ({} had to be killed)", report.killed)
        } else {
            String::new()
        };
        println!("devnet down: stopped {} {noun}{killed}", report.found);
    }
    for path in &report.purged {
        println!("removed {}", path.display());
    }
}
