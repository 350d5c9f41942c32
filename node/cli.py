"""The `chameleon` command line: dev, run, account, and --help on each."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from node import __version__

DEFAULT_HOME = Path(os.environ.get("CHAMELEON_HOME", Path.home() / ".chameleon"))


def _add_node_options(parser: argparse.ArgumentParser, *, default_port: int = 8545, config_file: bool = False) -> None:
    """``config_file``: the datadir's config.toml may set host, port and metrics port (flags win)."""
    def default(value: object) -> str:
        return f"from config.toml, else {value}" if config_file else str(value)

    rpc = parser.add_argument_group("JSON-RPC")
    rpc.add_argument("--host", default=None if config_file else "127.0.0.1",
                     help=f"address the JSON-RPC server listens on (default: {default('127.0.0.1')})")
    rpc.add_argument("-p", "--port", "--rpc-port", dest="port", type=int, default=None if config_file else default_port,
                     help=f"JSON-RPC port, HTTP and WebSocket (default: {default(default_port)})")
    rpc.add_argument("--rpc-max-request-size", type=_positive_int, default=5 * 1024 * 1024, metavar="BYTES",
                     help="largest HTTP request body or WebSocket message accepted; larger ones get HTTP 413 "
                     "(a WebSocket is closed with 1009) (default: %(default)s)")
    rpc.add_argument("--rpc-max-batch-size", type=_limit, default=1000, metavar="N",
                     help="most requests in one JSON-RPC batch; a longer batch gets one -32600 'batch too large' "
                     "error, 0: no limit (default: %(default)s)")
    rpc.add_argument("--rpc-max-logs-range", type=_limit, default=100_000, metavar="BLOCKS",
                     help="widest block range one eth_getLogs/eth_getFilterLogs query may span; wider gets -32602 "
                     "'query exceeds max block range', 0: no limit (default: %(default)s)")
    rpc.add_argument("--rpc-max-logs-results", type=_limit, default=10_000, metavar="N",
                     help="most logs one eth_getLogs/eth_getFilterLogs query may return; more gets -32005 "
                     "'query returned more than N results', 0: no limit (default: %(default)s)")
    rpc.add_argument("--rpc-max-subscriptions", type=_limit, default=1000, metavar="N",
                     help="most eth_subscribe subscriptions open on one WebSocket connection; more gets -32005, "
                     "0: no limit (default: %(default)s)")
    obs = parser.add_argument_group("logging and metrics")
    obs.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                     help=f"serve Prometheus metrics on this port (default: {default('off')})")
    obs.add_argument("--log-format", choices=("auto", "console", "plain", "json"), default="auto", help="log format (default: %(default)s: colours on a terminal)")
    obs.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info", help="(default: %(default)s)")
    pool = parser.add_argument_group("transaction pool")
    pool.add_argument("--txpool-size", type=int, default=10_000, metavar="N", help="most transactions held in the pool (default: %(default)s)")


def _limit(text: str) -> int:
    """A limit flag: a whole number, 0 turning the limit off."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = _limit(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chameleon",
        description="Chameleon: a blockchain node with EVM execution, pluggable consensus and Ethereum JSON-RPC.",
        epilog="Run 'chameleon COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"chameleon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    dev = sub.add_parser(
        "dev",
        help="Start a single-node dev chain with funded accounts (like anvil)",
        description="Start a single-node development chain on 127.0.0.1:8545. The ten accounts of the mnemonic "
        "'test test test test test test test test test test test junk' hold 10,000 each. Every transaction "
        "is sealed into a block at once (automine) unless --block-time is given.",
    )
    where = dev.add_mutually_exclusive_group()
    where.add_argument("--datadir", type=Path, help=f"keep the chain here (default: {DEFAULT_HOME}/<chain name>)")
    where.add_argument("--tmp", action="store_true", help="keep the chain in a temporary directory, removed on exit")
    dev.add_argument("-b", "--block-time", type=float, default=None, metavar="SECONDS", help="seal a block every SECONDS instead of one per transaction")
    dev.add_argument("--chain-id", type=int, default=None, metavar="N", help="chain id (default: 31337)")
    dev.add_argument("-a", "--accounts", type=int, default=10, metavar="N", help="how many dev accounts to print and unlock (default: %(default)s)")
    _add_node_options(dev)
    dev.set_defaults(func=cmd_dev)

    run = sub.add_parser(
        "run",
        help="Run a node from a chain spec",
        description="Run a node for the chain described by a chain spec JSON file (see genesis/schema.json). "
        "A datadir holding a config.toml (as 'chameleon devnet init' writes) supplies the chain spec, keys and "
        "ports; flags given here win over it.",
    )
    run.add_argument("--chain", type=Path, default=None, metavar="SPEC.json",
                     help="chain spec file (default: from DATADIR/config.toml)")
    run.add_argument("--datadir", type=Path, default=None, help=f"data directory (default: {DEFAULT_HOME}/<chain name>)")
    run.add_argument("--validator-key", type=Path, default=None, metavar="KEYFILE",
                     help="sign blocks and votes with this key (a hex private key file, or a v3 keystore with --password-file)")
    run.add_argument("--password-file", type=Path, default=None, metavar="FILE", help="password of a keystore --validator-key")
    p2p = run.add_argument_group("peer-to-peer network (poa and bft chains)")
    p2p.add_argument("--listen", default=None, metavar="MULTIADDR",
                     help="join the network, listening here, e.g. /ip4/127.0.0.1/tcp/30303 (default: from config.toml, else off)")
    p2p.add_argument("--bootnodes", default=None, metavar="MULTIADDR,...",
                     help="comma-separated multiaddrs of nodes to connect to first (default: from config.toml)")
    p2p.add_argument("--sync", choices=("fast", "full"), default="fast",
                     help="catching up far behind a bft chain: 'fast' stores the final blocks (commits checked) "
                          "without executing them, then downloads the state of the last one; 'full' executes every "
                          "block (default: %(default)s; poa chains always sync full)")
    _add_node_options(run, config_file=True)
    run.set_defaults(func=cmd_run)

    devnet = sub.add_parser("devnet", help="Write and run a validator network on this machine",
                            description="A poa or bft validator network on 127.0.0.1: 'init' writes it, 'up' runs it.")
    devnet_sub = devnet.add_subparsers(dest="devnet_command", metavar="ACTION", required=True)
    init = devnet_sub.add_parser("init", help="write chain.json, node1..N (keys, config.toml) and bootnodes.txt",
                                 description="Write a devnet: DIR/chain.json (funded test-mnemonic accounts and the "
                                 "validators), DIR/node1..N (validator key, node key, config.toml) and DIR/bootnodes.txt.")
    init.add_argument("--validators", type=int, default=4, metavar="N", help="number of validators (default: %(default)s)")
    init.add_argument("--engine", choices=("poa", "bft"), default="bft", help="consensus engine (default: %(default)s)")
    init.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write")
    init.add_argument("--rpc-port", type=int, default=8545, metavar="PORT", help="RPC port of node1; node K gets PORT+K-1 (default: %(default)s)")
    init.add_argument("--p2p-port", type=int, default=30303, metavar="PORT", help="P2P port of node1; node K gets PORT+K-1 (default: %(default)s)")
    init.add_argument("--block-time", type=int, default=1, metavar="SECONDS", help="block interval / poa slot duration; bft takes 0: as fast as consensus goes (default: %(default)s)")
    init.add_argument("--chain-id", type=int, default=None, metavar="N", help="chain id (default: 31337)")
    init.set_defaults(func=cmd_devnet_init)
    run_all = devnet_sub.add_parser("up", help="run every node of a devnet until Ctrl-C",
                                    description="Start 'chameleon run --datadir DIR/nodeK' for every node, print each "
                                    "RPC URL, and stop them all on Ctrl-C. Each node logs to DIR/nodeK/node.log.")
    run_all.add_argument("dir", type=Path, metavar="DIR", help="a directory written by 'chameleon devnet init'")
    run_all.set_defaults(func=cmd_devnet_up)

    pallets = sub.add_parser("pallets", help="The native pallets' ABIs and Solidity interfaces",
                             description="Write each native pallet's ABI (<name>.abi.json) and Solidity interface "
                             "(I<Name>.sol), generated from its Python declaration.")
    pallets_sub = pallets.add_subparsers(dest="pallets_command", metavar="ACTION", required=True)
    abi = pallets_sub.add_parser("abi", help="write <name>.abi.json and I<Name>.sol for every pallet into DIR")
    abi.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write")
    abi.set_defaults(func=cmd_pallets_abi)

    wasm = sub.add_parser("wasm", help="Build WASM contracts written in AssemblyScript",
                          description="Build an AssemblyScript contract project (a directory with chameleon.json "
                          "naming its entry file and ABI) into a WASM module the node deploys like EVM bytecode. "
                          "Needs Node.js and the npm tools scripts/setup installs. The SDK and examples are in "
                          "vm/wasm/sdk and vm/wasm/examples.")
    wasm_sub = wasm.add_subparsers(dest="wasm_command", metavar="ACTION", required=True)
    wasm_build = wasm_sub.add_parser("build", help="compile DIR to a .wasm module and print its path and size",
                                     description="Compile the project in DIR with asc and check the module "
                                     "against the host API (vm/wasm/HOST_API.md). Deploy it as init code: the "
                                     "module bytes followed by the ABI-encoded constructor arguments.")
    wasm_build.add_argument("dir", type=Path, metavar="DIR", help="project directory (holds chameleon.json)")
    wasm_build.add_argument("--out", type=Path, default=None, metavar="FILE",
                            help="where to write the module (default: DIR/<name>.wasm)")
    wasm_build.set_defaults(func=cmd_wasm_build)
    wasm_abi = wasm_sub.add_parser("abi", help="print the project's ABI JSON",
                                   description="Print the ABI of the project in DIR (the file chameleon.json names).")
    wasm_abi.add_argument("dir", type=Path, metavar="DIR", help="project directory (holds chameleon.json)")
    wasm_abi.set_defaults(func=cmd_wasm_abi)

    from consensus.sim.cli import add_simulate_parser
    from node import cli_account

    cli_account.add_account_parser(sub)
    add_simulate_parser(sub)
    return parser


def _fatal(message: str) -> int:
    print(f"Fatal: {message}", file=sys.stderr)
    return 1


def cmd_pallets_abi(args: argparse.Namespace) -> int:
    from runtime.pallets import write_artifacts

    for path in write_artifacts(args.out):
        print(path)
    return 0


def cmd_wasm_build(args: argparse.Namespace) -> int:
    from vm.wasm.build import BuildError, build_project

    try:
        path = build_project(args.dir, args.out)
    except BuildError as exc:
        return _fatal(str(exc))
    print(f"{path} ({path.stat().st_size} bytes)")
    return 0


def cmd_wasm_abi(args: argparse.Namespace) -> int:
    from vm.wasm.build import BuildError, load_abi

    try:
        abi = load_abi(args.dir)
    except BuildError as exc:
        return _fatal(str(exc))
    print(json.dumps(abi, indent=2))
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from node.dev import DEV_CHAIN_ID, DEV_DERIVATION_PATH, DEV_MNEMONIC, dev_keys, dev_spec

    chain_id = args.chain_id if args.chain_id is not None else DEV_CHAIN_ID
    if chain_id <= 0:
        return _fatal("--chain-id must be positive")
    spec = dev_spec(chain_id)
    keys = dev_keys(max(args.accounts, 0))
    datadir = None if args.tmp else (args.datadir or DEFAULT_HOME / spec.name)
    # As Anvil: a new dev chain's genesis is stamped with the time it was created (a test
    # doing `latest + one year` then means a year from now, not from 1970); a datadir
    # keeps the genesis it was created with.
    import dataclasses
    import time

    from node.dev import stored_genesis_timestamp

    created = stored_genesis_timestamp(datadir) if datadir is not None else None
    spec = dataclasses.replace(spec, timestamp=created if created is not None else int(time.time()))

    def banner(chain, port: int) -> None:
        lines = ["", "Available Accounts", "=================="]
        state = chain.state_at(chain.head)
        for i, (address, _) in enumerate(keys):
            balance = state.get_balance(address)
            lines.append(f"({i}) {_checksum(address)} ({balance / 10**18:.1f} ETH)")
        lines += ["", "Private Keys", "=================="]
        lines += [f"({i}) 0x{key.hex()}" for i, (_, key) in enumerate(keys)]
        lines += [
            "", "Wallet", "==================",
            f"Mnemonic:          {DEV_MNEMONIC}",
            f"Derivation path:   {DEV_DERIVATION_PATH}<index>",
            "",
            f"Chain ID:          {spec.chain_id}",
            f"Head block:        {chain.head.number}",
            f"Base fee:          {chain.next_base_fee}",
            f"Gas limit:         {chain.head.gas_limit}",
            f"Sealing:           {'every %ss' % args.block_time if args.block_time else 'automine (each transaction sealed at once)'}",
            f"Data directory:    {datadir if datadir is not None else 'temporary (removed on exit)'}",
            "",
            f"Listening on {args.host}:{port}",
            "",
        ]
        print("\n".join(lines), flush=True)

    return _run(args, spec, datadir, block_time=args.block_time, dev_keys=dict(keys), on_ready=banner)


def cmd_run(args: argparse.Namespace) -> int:
    from node.config_file import ConfigFileError, FileConfig, load_config_file
    from runtime.chainspec import load_chain_spec
    from runtime.errors import InvalidChainSpec

    try:
        file = (load_config_file(args.datadir) if args.datadir is not None else None) or FileConfig()
    except ConfigFileError as exc:
        return _fatal(str(exc))
    args.chain = args.chain or file.chain
    if args.chain is None:
        return _fatal("no chain spec: give --chain SPEC.json, or a --datadir whose config.toml names one")
    args.host = args.host or file.rpc_host or "127.0.0.1"
    args.port = args.port if args.port is not None else file.rpc_port if file.rpc_port is not None else 8545
    if args.metrics_port is None:
        args.metrics_port = file.metrics_port
    if args.validator_key is None:
        args.validator_key, args.password_file = file.validator_key, args.password_file or file.password_file
    args.listen = args.listen or file.listen
    args.bootnodes = [b for b in args.bootnodes.split(",") if b] if args.bootnodes is not None else file.bootnodes
    if args.bootnodes and args.listen is None:
        args.listen = "/ip4/127.0.0.1/tcp/0"  # a full node joining: any free port
    try:
        spec = load_chain_spec(args.chain)
    except InvalidChainSpec as exc:
        return _fatal(str(exc))
    datadir = args.datadir or DEFAULT_HOME / spec.name
    block_time = spec.consensus.get("blockTime") or None
    validator_key = None
    if args.validator_key is not None:
        try:
            validator_key = _read_validator_key(args.validator_key, args.password_file)
        except ValueError as exc:
            return _fatal(f"--validator-key {args.validator_key}: {exc}")
    return _run(args, spec, datadir, block_time=block_time, dev_keys=None, on_ready=None, validator_key=validator_key)


def cmd_devnet_init(args: argparse.Namespace) -> int:
    from node.devnet import DevnetError, init_devnet

    try:
        nodes = init_devnet(args.out, validators=args.validators, engine=args.engine, rpc_port=args.rpc_port,
                            p2p_port=args.p2p_port, block_time=args.block_time, chain_id=args.chain_id)
    except DevnetError as exc:
        return _fatal(str(exc))
    print(f"wrote a {args.engine} devnet of {len(nodes)} validators to {args.out}")
    print(f"  chain spec:  {args.out / 'chain.json'}")
    for k, node in enumerate(nodes, start=1):
        print(f"  {node.name}:       {node}  (RPC http://127.0.0.1:{args.rpc_port + k - 1})")
    print(f"run them all:  chameleon devnet up {args.out}")
    return 0


def cmd_devnet_up(args: argparse.Namespace) -> int:
    from node.devnet import DevnetError, up

    executable = str(Path(sys.argv[0]).resolve()) if Path(sys.argv[0]).name == "chameleon" else "chameleon"
    try:
        return up(args.dir, executable=executable)
    except DevnetError as exc:
        return _fatal(str(exc))


def _read_validator_key(path: Path, password_file: Path | None) -> bytes:
    """A hex private key file (geth's `account import` format) or a v3 keystore file."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror}") from None
    if text.startswith("{"):
        from node.keystore import KeystoreError, decode_key_file

        if password_file is None:
            raise ValueError("a keystore file needs --password-file")
        try:
            lines = password_file.read_text().splitlines()
            return decode_key_file(json.loads(text), lines[0] if lines else "")
        except (OSError, ValueError, KeystoreError) as exc:
            raise ValueError(str(exc)) from None
    try:
        key = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ValueError("not a hex private key or a keystore file") from None
    if len(key) != 32:
        raise ValueError(f"a private key is 32 bytes, got {len(key)}")
    return key


def _run(args, spec, datadir, *, block_time, dev_keys, on_ready, validator_key=None) -> int:
    import trio

    from node.app import NodeConfig, StartupError, run_node
    from node.chain import ChainMismatch
    from node.logs import configure_logging
    from node.storage import StorageError
    from runtime.errors import InvalidChainSpec

    configure_logging(args.log_format, args.log_level)
    config = NodeConfig(
        spec=spec,
        datadir=datadir,
        host=args.host,
        port=args.port,
        block_time=block_time,
        dev_keys=dev_keys,
        metrics_port=args.metrics_port,
        max_request_bytes=args.rpc_max_request_size,
        max_batch_requests=args.rpc_max_batch_size,
        max_logs_block_range=args.rpc_max_logs_range,
        max_logs_results=args.rpc_max_logs_results,
        max_subscriptions=args.rpc_max_subscriptions,
        txpool_size=args.txpool_size,
        validator_key=validator_key,
        listen=getattr(args, "listen", None),
        bootnodes=tuple(getattr(args, "bootnodes", None) or ()),
        sync=getattr(args, "sync", "fast"),
    )
    try:
        trio.run(lambda: run_node(config, on_ready=on_ready))
    except BaseException as raised:  # noqa: BLE001 - trio wraps failures in exception groups
        exc = _first_leaf(raised)
        if isinstance(exc, (ChainMismatch, StorageError, StartupError, InvalidChainSpec)):
            return _fatal(str(exc))
        if type(exc).__name__ == "NetworkError":  # network/ is imported only when the node joins one
            return _fatal(f"network: {exc}")
        if isinstance(exc, OSError):
            return _fatal(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        if isinstance(exc, KeyboardInterrupt):
            return 0
        raise
    return 0


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _checksum(address: bytes) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


def console_main() -> None:
    """The `chameleon` executable."""
    code = main()
    if len(sys.argv) > 1 and sys.argv[1] in ("dev", "run"):
        # The node has closed its database. Skip interpreter finalization: something in
        # the crypto/EVM stack fails there and prints a bare "Error in sys.excepthook".
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
