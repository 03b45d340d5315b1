//! The `nakachain` command line: parses arguments and calls the library. No logic lives here
//! beyond turning RPC answers into readable lines.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use clap::{Args, Parser, Subcommand};
use nakachain::devnet::cli::DevnetArgs;
use nakachain::node::{self, KernelChoice, MinerOptions, NodeConfig, Priority};
use nakachain::observe::tree::{RenderOptions, TreeView};
use nakachain::params::{Network, Params, DEVNET_SPACING_SECS};
use nakachain::rpc::{self, ClientError, Cookie, RpcClient};
use nakachain::store::{DataDir, DEFAULT_NODE_NAME};
use serde_json::Value;
use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than the system allocator: a sync allocates each block on a connection's
/// reader thread and frees much of it on the node's, which glibc's per-thread arenas make
/// slow; a 100,000-block sync took 8-15 % less time with it (`cargo bench --bench node_sync`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "nakachain",
    version,
    about = "A small but real proof-of-work blockchain node: mine on a laptop, run a devnet, watch forks and reorgs",
    after_help = "Examples:\n  nakachain mine --blocks 5           mine five devnet blocks with every core\n  nakachain --network regtest node    run a regtest node in the foreground\n  nakachain status                    ask the running node how it is doing"
)]
struct Cli {
    /// Network: devnet (real difficulty, 10 s blocks) or regtest (instant blocks)
    #[arg(long, global = true, default_value = "devnet")]
    network: Network,
    /// Which node, for the commands that run or talk to one (before or after the command)
    #[command(flatten)]
    node: NodeAt,
    #[command(subcommand)]
    command: Command,
}

/// Where one node keeps its data and answers RPC; the commands that run or talk to one node take
/// these, before the command name or after it.
#[derive(Args, Clone, Default)]
struct NodeAt {
    /// Data directory [default: chain-data/<network>/default]
    #[arg(long)]
    datadir: Option<PathBuf>,
    /// RPC port on 127.0.0.1 [default: 18443 devnet, 28443 regtest]
    #[arg(long)]
    rpc_port: Option<u16>,
}

impl NodeAt {
    /// These settings, with `before` (given before the command name) filling what is unset.
    fn or(self, before: &NodeAt) -> NodeAt {
        NodeAt {
            datadir: self.datadir.or_else(|| before.datadir.clone()),
            rpc_port: self.rpc_port.or(before.rpc_port),
        }
    }

    fn is_set(&self) -> bool {
        self.datadir.is_some() || self.rpc_port.is_some()
    }
}

/// Which node a command runs or talks to.
#[derive(Clone)]
struct NodeTarget {
    network: Network,
    datadir: Option<PathBuf>,
    rpc_port: Option<u16>,
}

impl NodeTarget {
    fn new(network: Network, at: NodeAt) -> NodeTarget {
        NodeTarget {
            network,
            datadir: at.datadir,
            rpc_port: at.rpc_port,
        }
    }

    fn params(&self) -> Params {
        Params::for_network(self.network)
    }

    fn datadir(&self) -> PathBuf {
        self.datadir
            .clone()
            .unwrap_or_else(|| DataDir::default_root(self.network, DEFAULT_NODE_NAME))
    }

    fn rpc_port(&self) -> u16 {
        self.rpc_port
            .unwrap_or_else(|| self.params().default_rpc_port)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a node in the foreground (Ctrl-C stops it cleanly)
    #[command(
        after_help = "Examples:\n  nakachain --network regtest node --mine --threads 2\n  nakachain --datadir chain-data/devnet/b --rpc-port 18453 node --listen 127.0.0.1:18454 --connect 127.0.0.1:18444"
    )]
    Node {
        /// Mine from the start
        #[arg(long)]
        mine: bool,
        /// Miner threads [default: one per core]
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        miner: MinerArgs,
        #[command(flatten)]
        block_time: BlockTime,
        #[command(flatten)]
        peers: PeerArgs,
        #[command(flatten)]
        at: NodeAt,
        /// A failpoint for tests and the chaos scenario: abort the process once a reorg of at
        /// least this many blocks is chosen, before its blocks are stored
        #[arg(long, hide = true, value_name = "DEPTH")]
        abort_in_reorg: Option<usize>,
    },
    /// Run a node that mines; on a terminal, a live line shows height, hashrate and difficulty
    #[command(
        after_help = "Examples:\n  nakachain mine --blocks 10 --threads 2\n  nakachain mine --block-time 2"
    )]
    Mine {
        /// Exit after mining this many blocks
        #[arg(long)]
        blocks: Option<u64>,
        /// Miner threads [default: one per core]
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        miner: MinerArgs,
        #[command(flatten)]
        block_time: BlockTime,
        #[command(flatten)]
        peers: PeerArgs,
        #[command(flatten)]
        at: NodeAt,
    },
    /// Measure every hash kernel this CPU runs, and the miner's against plain SHA-256d and a
    /// single compress256 stream
    #[command(
        after_help = "Examples:\n  nakachain bench-hash\n  nakachain bench-hash --seconds 5 --threads 2 --json\n  nakachain bench-hash --kernel avx512-x16"
    )]
    BenchHash {
        /// Seconds per measurement
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// Miner threads [default: one per core]
        #[arg(long)]
        threads: Option<usize>,
        /// The kernel measured with every thread: fastest, or a name from the list it prints
        #[arg(long, default_value = "fastest", value_parser = KernelChoice::parse)]
        kernel: KernelChoice,
        /// Print one JSON object instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Call an RPC method of the running node and print its JSON answer, like bitcoin-cli
    #[command(
        after_help = "Examples:\n  nakachain rpc help                          every method with its arguments\n  nakachain rpc getblockchaininfo\n  nakachain --network regtest rpc generate 101\n  nakachain rpc getblock 00ab…ff 2\n  nakachain rpc setdeniedpeers '[\"127.0.0.1:18444\"]'"
    )]
    Rpc {
        /// The method, e.g. getblockchaininfo; `nakachain rpc help` lists every method
        method: String,
        /// The method's arguments in order: each is JSON where it parses as JSON (101, true,
        /// ["a","b"]), a string otherwise (an address, a hash)
        args: Vec<String>,
        #[command(flatten)]
        at: NodeAt,
    },
    /// Height, tip, mempool, balance and mining at a glance
    #[command(after_help = "Example:\n  nakachain status")]
    Status {
        #[command(flatten)]
        at: NodeAt,
    },
    /// Every known chain tip (getchaintips)
    #[command(after_help = "Example:\n  nakachain tips")]
    Tips {
        #[command(flatten)]
        at: NodeAt,
    },
    /// The block tree near the tip, like `git log --graph`: forks, tips, reorged and invalid
    /// blocks (getblocktree)
    #[command(
        after_help = "Examples:\n  nakachain tree\n  nakachain --network regtest tree --depth 500 --collapse 5\n  nakachain tree --svg tree.svg"
    )]
    Tree {
        /// Blocks below the tip to show (0 to 10000)
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(..=10_000))]
        depth: u32,
        /// Fold runs of more than N unremarkable blocks into one line
        #[arg(long, value_name = "N")]
        collapse: Option<usize>,
        /// Write the tree as an SVG picture to FILE instead of drawing it as text
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        #[command(flatten)]
        at: NodeAt,
    },
    /// The node's wallet
    #[command(after_help = "Examples:\n  nakachain wallet new\n  nakachain wallet balance")]
    Wallet {
        #[command(subcommand)]
        command: WalletCommand,
        #[command(flatten)]
        at: NodeAt,
    },
    /// Pay an address from the node's wallet
    #[command(after_help = "Example:\n  nakachain send nk3f…a1 1.5")]
    Send {
        /// Who to pay: nk followed by 48 hex digits, as `nakachain wallet new` prints on the
        /// receiving node (a mistyped address is refused by its checksum)
        address: String,
        /// Coins, up to 8 decimals
        amount: String,
        #[command(flatten)]
        at: NodeAt,
    },
    /// Start, watch, split and stop a devnet of node processes on this machine
    #[command(
        after_help = "Examples:\n  nakachain devnet up --nodes 5 --block-time 2\n  nakachain devnet status\n  nakachain devnet partition node-0,node-1/node-2,node-3,node-4\n  nakachain devnet heal\n  nakachain devnet down"
    )]
    Devnet(DevnetArgs),
    /// Simulate a network of thousands of nodes in one process, each running the node's own
    /// protocol and chain: propagation, stale blocks, reorgs, partitions (regtest rules, whatever
    /// --network says)
    #[command(
        after_help = "Examples:\n  nakachain sim --nodes 1000 --blocks 100\n  nakachain sim --nodes 200 --block-time 10 --latency uniform:20-200 --json\n  nakachain sim --nodes 100 --partition 0.5@600-3000\n  nakachain sim sweep --block-time 2,10,60,600 --nodes 200 --blocks 300"
    )]
    Sim(Box<nakachain::sim::cli::SimArgs>),
    /// Replay a simulation in the browser: `nakachain sim --out DIR`, then `web --sim DIR`
    #[command(
        after_help = "Examples:\n  nakachain sim --nodes 200 --blocks 50 --block-time 5 --out run\n  nakachain web --sim run --open"
    )]
    Web {
        /// The directory `nakachain sim --out DIR` wrote
        #[arg(long, value_name = "DIR")]
        sim: PathBuf,
        /// Port on 127.0.0.1
        #[arg(long, default_value_t = nakachain::devnet::web::DEFAULT_WEB_PORT)]
        port: u16,
        /// Open the page in the desktop's browser
        #[arg(long)]
        open: bool,
    },
}

/// The devnet's block spacing.
#[derive(Args, Clone, Copy, Default)]
struct BlockTime {
    /// Devnet block spacing in seconds (1 to 600); another spacing is another network
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(
        i64::from(*DEVNET_SPACING_SECS.start())..=i64::from(*DEVNET_SPACING_SECS.end())))]
    block_time: Option<u32>,
}

impl BlockTime {
    /// The parameters of `network` with this spacing; an error for regtest, whose blocks are
    /// instant.
    fn params(self, network: Network) -> Result<Params, &'static str> {
        match (network, self.block_time) {
            (_, None) => Ok(Params::for_network(network)),
            (Network::Devnet, Some(secs)) => Ok(Params::devnet_with_spacing(secs)),
            (Network::Regtest, Some(_)) => {
                Err("--block-time applies to devnet only (regtest blocks are instant)")
            }
        }
    }
}

/// How the miner hashes.
#[derive(Args, Clone, Copy, Default)]
struct MinerArgs {
    /// The hash kernel: fastest (timed at start), portable-midstate, sha-ni-x4, avx2-x8 or
    /// avx512-x16, as this CPU allows; `nakachain bench-hash` shows each one's rate
    #[arg(long, default_value = "fastest", value_parser = KernelChoice::parse)]
    kernel: KernelChoice,
    /// The miner threads' OS priority: low (nice 19) lets everything else go first, so the
    /// machine stays usable while every core mines; idle (SCHED_IDLE) gives them only time
    /// nothing else wants
    #[arg(long, value_enum, default_value_t = Priority::Low)]
    priority: Priority,
}

impl MinerArgs {
    fn options(self) -> MinerOptions {
        MinerOptions {
            kernel: self.kernel,
            priority: self.priority,
        }
    }
}

/// Where a node meets its peers, and the tools that watch it.
#[derive(Args, Clone, Default)]
struct PeerArgs {
    /// Also answer Bitcoin Core's read-only REST requests on the RPC port (GET /rest/headers/…,
    /// /rest/block/…, /rest/chaininfo.json; no credentials), as Core does with -rest
    #[arg(long)]
    rest: bool,
    /// Accept peer connections on this address, e.g. 127.0.0.1:18444 [default: none]
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Keep connected to this peer (repeat for more); reconnects with backoff
    #[arg(long = "connect", value_name = "ADDR")]
    connect: Vec<SocketAddr>,
}

#[derive(Subcommand)]
enum WalletCommand {
    /// Derive and print a new receiving address
    #[command(after_help = "Example:\n  nakachain wallet new")]
    New,
    /// Confirmed, immature and pending balance
    #[command(after_help = "Example:\n  nakachain wallet balance")]
    Balance,
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn init_logging(quiet_by_default: bool) {
    let default = if quiet_by_default { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let network = cli.network;
    let before = cli.node;
    let target = |at: NodeAt| NodeTarget::new(network, at.or(&before));
    match cli.command {
        Command::Node {
            mine,
            threads,
            miner,
            block_time,
            peers,
            at,
            abort_in_reorg,
        } => {
            init_logging(false);
            let threads = mine.then(|| threads.unwrap_or_else(default_threads));
            match block_time.params(network) {
                Ok(params) => run_node(
                    &target(at),
                    params,
                    Mining {
                        threads,
                        options: miner.options(),
                        stop_after: None,
                    },
                    false,
                    peers,
                    abort_in_reorg,
                ),
                Err(error) => usage_error(error),
            }
        }
        Command::Mine {
            blocks,
            threads,
            miner,
            block_time,
            peers,
            at,
        } => {
            let params = match block_time.params(network) {
                Ok(params) => params,
                Err(error) => return usage_error(error),
            };
            // The live line owns the terminal; logs would tear it, so only warnings show there.
            let interactive = std::io::stderr().is_terminal();
            init_logging(interactive);
            let threads = threads.unwrap_or_else(default_threads);
            run_node(
                &target(at),
                params,
                Mining {
                    threads: Some(threads),
                    options: miner.options(),
                    stop_after: blocks,
                },
                interactive,
                peers,
                None,
            )
        }
        Command::BenchHash {
            seconds,
            threads,
            kernel,
            json,
        } => {
            if before.is_set() {
                return usage_error(
                    "bench-hash runs no node: --datadir and --rpc-port do not apply",
                );
            }
            init_logging(true);
            let report =
                node::hash_bench::run(seconds, threads.unwrap_or_else(default_threads), kernel);
            if json {
                println!("{}", serde_json::json!(report));
            } else {
                println!("{}", report.table());
            }
            ExitCode::SUCCESS
        }
        Command::Rpc { method, args, at } => {
            let params = args
                .iter()
                .map(|arg| rpc::cli::param_from_arg(arg))
                .collect();
            rpc_command(&target(at), &method, params, print_json)
        }
        Command::Status { at } => status(&target(at)),
        Command::Tips { at } => rpc_command(&target(at), "getchaintips", vec![], print_tips),
        Command::Tree {
            depth,
            collapse,
            svg,
            at,
        } => tree(&target(at), depth, collapse, svg.as_deref()),
        Command::Wallet {
            command: WalletCommand::New,
            at,
        } => rpc_command(&target(at), "getnewaddress", vec![], print_json),
        Command::Wallet {
            command: WalletCommand::Balance,
            at,
        } => rpc_command(&target(at), "getbalances", vec![], print_balances),
        Command::Send {
            address,
            amount,
            at,
        } => rpc_command(
            &target(at),
            "sendtoaddress",
            vec![Value::from(address), Value::from(amount)],
            print_json,
        ),
        Command::Sim(args) => {
            if before.is_set() {
                return usage_error(
                    "a simulation keeps its nodes in memory: --datadir and --rpc-port do not apply",
                );
            }
            nakachain::sim::cli::run_command(*args)
        }
        Command::Web { sim, port, open } => {
            if before.is_set() {
                return usage_error("a replay reads a directory `nakachain sim --out` wrote: --datadir and --rpc-port do not apply");
            }
            let served = nakachain::devnet::web::serve_replay(&sim, port, open, |addr| {
                eprintln!(
                    "replaying {} on http://{addr}/ (Ctrl-C stops)",
                    sim.display()
                );
            });
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error} [{}]", error.code());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Devnet(command) => {
            if before.is_set() {
                return usage_error(
                    "a devnet's nodes have data directories and RPC ports of their own \
                     (`nakachain devnet status` lists them): --datadir and --rpc-port do not apply",
                );
            }
            nakachain::devnet::cli::run(command, network)
        }
    }
}

/// Reports a command line that cannot run, as clap reports its own errors.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// What a node started from the command line mines.
struct Mining {
    /// Threads to mine with from the start; `None` starts without mining.
    threads: Option<usize>,
    options: MinerOptions,
    /// Exit after mining this many blocks.
    stop_after: Option<u64>,
}

fn run_node(
    target: &NodeTarget,
    params: Params,
    mining: Mining,
    status_line: bool,
    peers: PeerArgs,
    abort_in_reorg: Option<usize>,
) -> ExitCode {
    let config = NodeConfig {
        abort_in_reorg,
        rest: peers.rest,
        listen: peers.listen,
        connect: peers.connect,
        params,
        datadir: target.datadir(),
        rpc_port: target.rpc_port(),
        mine_threads: mining.threads,
        miner: mining.options,
        stop_after_mined: mining.stop_after,
        status_line,
    };
    match node::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn client(target: &NodeTarget) -> Result<RpcClient, String> {
    let datadir = target.datadir();
    let contents = DataDir::read_cookie(&datadir).map_err(|error| error.to_string())?;
    let cookie = Cookie::parse(&contents)
        .map_err(|error| format!("{}: {error}", DataDir::cookie_path(&datadir).display()))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, target.rpc_port()));
    Ok(RpcClient::new(addr, cookie))
}

fn call(target: &NodeTarget, method: &str, params: Vec<Value>) -> Result<Value, String> {
    let client = client(target)?;
    client.call(method, params).map_err(|error| match error {
        ClientError::Rpc(rpc) => {
            format!("error code: {}\nerror message:\n{}", rpc.code, rpc.message)
        }
        other => format!("error: {other}"),
    })
}

fn rpc_command(
    target: &NodeTarget,
    method: &str,
    params: Vec<Value>,
    print: fn(&Value),
) -> ExitCode {
    match call(target, method, params) {
        Ok(value) => {
            print(&value);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints like bitcoin-cli: strings bare, null as nothing, everything else as pretty JSON.
fn print_json(value: &Value) {
    if let Some(text) = rpc::cli::answer_text(value) {
        println!("{text}");
    }
}

fn print_tips(value: &Value) {
    println!(
        "{:>8}  {:>9}  {:<13}  hash",
        "height", "branchlen", "status"
    );
    for tip in value.as_array().into_iter().flatten() {
        println!(
            "{:>8}  {:>9}  {:<13}  {}",
            tip["height"].to_string(),
            tip["branchlen"].to_string(),
            tip["status"].as_str().unwrap_or("?"),
            tip["hash"].as_str().unwrap_or("?"),
        );
    }
}

fn tree(
    target: &NodeTarget,
    depth: u32,
    collapse: Option<usize>,
    svg: Option<&std::path::Path>,
) -> ExitCode {
    let drawn = call(target, "getblocktree", vec![Value::from(depth)]).and_then(|answer| {
        let view = TreeView::from_nodes(&[("this node".to_string(), answer)])
            .map_err(|error| format!("error: {error}"))?;
        let options = RenderOptions {
            color: svg.is_none() && std::io::stdout().is_terminal(),
            collapse_linear_after: collapse,
        };
        match svg {
            Some(path) => std::fs::write(path, view.render_svg(&options))
                .map(|()| format!("wrote {}\n", path.display()))
                .map_err(|error| format!("error: cannot write {}: {error}", path.display())),
            None => Ok(view.render(&options)),
        }
    });
    match drawn {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn print_balances(value: &Value) {
    let mine = &value["mine"];
    println!("confirmed: {}", mine["trusted"]);
    println!("immature:  {}", mine["immature"]);
    println!("pending:   {}", mine["untrusted_pending"]);
}

fn status(target: &NodeTarget) -> ExitCode {
    let gather = || -> Result<[Value; 4], String> {
        Ok([
            call(target, "getblockchaininfo", vec![])?,
            call(target, "getmempoolinfo", vec![])?,
            call(target, "getmininginfo", vec![])?,
            call(target, "getbalances", vec![])?,
        ])
    };
    match gather() {
        Ok([chain, mempool, mining, balances]) => {
            println!("network:    {}", chain["chain"].as_str().unwrap_or("?"));
            println!("height:     {}", chain["blocks"]);
            println!(
                "tip:        {}",
                chain["bestblockhash"].as_str().unwrap_or("?")
            );
            println!("difficulty: {}", chain["difficulty"]);
            println!(
                "mempool:    {} tx, {} bytes",
                mempool["size"], mempool["bytes"]
            );
            let hashrate = mining["hashespersec"].as_f64().unwrap_or(0.0);
            if mining["generate"].as_bool().unwrap_or(false) {
                println!(
                    "mining:     {} threads, {} ({})",
                    mining["threads"],
                    nakachain::miner::format_hashrate(hashrate),
                    mining["kernel"].as_str().unwrap_or("?")
                );
            } else {
                println!("mining:     off");
            }
            println!(
                "balance:    {} confirmed, {} immature",
                balances["mine"]["trusted"], balances["mine"]["immature"]
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
