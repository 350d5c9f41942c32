"""Run a node: open the datadir, serve JSON-RPC, seal blocks, stop cleanly on a signal."""
from __future__ import annotations

import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

import structlog
import trio
from prometheus_client import start_http_server

from node import metrics
from node.chain import Chain
from node.rpc.debug import DebugApi
from node.rpc.dev import DevApi
from node.rpc.signing import SigningApi
from node.rpc.chameleon import ChameleonApi
from node.rpc.eth import EthApi
from node.rpc.filters import FilterApi
from node.rpc.server import Dispatcher, serve
from node.rpc.txpool import TxPoolApi
from node.rpc.subscriptions import SubscriptionApi
from node.service import Node
from node.storage import CompiledModules, LevelDBStore
from vm.wasm.cache import set_compiled_store
from node.txpool import TxPool
from consensus.errors import ConsensusError
from runtime.chainspec import ChainSpec

log = structlog.get_logger(__name__)


class StartupError(Exception):
    """The node cannot start as configured; the message says why."""


def _make_driver(node: Node, config: NodeConfig, datadir: Path):
    from consensus.keys import Signer
    from consensus.registry import get_engine
    from node.engine_driver import EngineDriver, load_sign_state

    spec = config.spec
    signer = Signer(config.validator_key) if config.validator_key is not None else None
    state_path = datadir / "consensus" / "sign_state"
    try:
        engine = get_engine(spec.consensus, chain_id=spec.chain_id, signer=signer, sign_state=load_sign_state(state_path))
    except ConsensusError as exc:
        raise StartupError(f"{state_path}: {exc}") from None
    if signer is None:
        log.warning("no_validator_key", engine=engine.name, note="following only: this node signs nothing")
    elif signer.address not in engine.validators:
        log.warning("not_a_validator", address="0x" + signer.address.hex(), engine=engine.name)
    driver_class = EngineDriver
    if config.listen is not None:
        from node.engine_network import NetworkedDriver

        driver_class = NetworkedDriver
    return driver_class(node, engine, state_path, block_time=float(spec.consensus.get("blockTime", 1)))


def parse_listen(value: str) -> tuple[str, int]:
    """``/ip4/HOST/tcp/PORT`` to (host, port).

    Raises:
        StartupError: naming the value.
    """
    parts = value.split("/")
    if len(parts) != 5 or parts[0] or parts[1] != "ip4" or parts[3] != "tcp" or not parts[4].isdigit():
        raise StartupError(f"--listen {value!r}: expected /ip4/HOST/tcp/PORT")
    port = int(parts[4])
    if not 0 <= port <= 65535:
        raise StartupError(f"--listen {value!r}: port out of range")
    return parts[2], port


def _make_network(node: Node, driver, config: NodeConfig, datadir: Path):
    from network import NetworkConfig, load_or_create_identity
    from node.p2p import NodeNetwork, topic_limits

    host, port = parse_listen(config.listen)
    net_config = NetworkConfig(listen_host=host, listen_port=port, bootnodes=tuple(config.bootnodes),
                               topic_max_bytes=topic_limits(), gossip_seen_ttl_s=2)
    return NodeNetwork(node, driver, net_config, load_or_create_identity(datadir), fast_sync=config.sync == "fast")


@dataclass(slots=True)
class NodeConfig:
    spec: ChainSpec
    datadir: Path | None  # None: a temporary directory removed on exit
    host: str = "127.0.0.1"
    port: int = 8545
    block_time: float | None = None
    dev_keys: dict[bytes, bytes] | None = None
    metrics_port: int | None = None
    max_request_bytes: int = 5 * 1024 * 1024
    max_batch_requests: int = 1000  # 0: no limit, as the three below
    max_logs_block_range: int = 100_000
    max_logs_results: int = 10_000
    max_subscriptions: int = 1000  # per WebSocket connection
    txpool_size: int = 10_000
    validator_key: bytes | None = None  # signs for a poa/bft engine; None: follow only
    listen: str | None = None  # /ip4/HOST/tcp/PORT: join the peer-to-peer network (poa/bft)
    bootnodes: tuple[str, ...] = ()
    sync: str = "fast"  # "fast": far behind a bft chain, take final blocks without execution and the state; "full": execute all


async def run_node(config: NodeConfig, *, on_ready=None) -> None:
    tmp = None
    datadir = config.datadir
    if datadir is None:
        tmp = tempfile.mkdtemp(prefix="chameleon-")
        datadir = Path(tmp)
    store = LevelDBStore(datadir / "chaindata")
    set_compiled_store(CompiledModules(store))  # WASM machine code survives a restart
    try:
        chain = Chain(store, config.spec)
        driver = p2p = None
        if config.spec.engine == "dev":
            node = Node(chain, TxPool(max_size=config.txpool_size), block_time=config.block_time)
        else:
            node = Node(chain, TxPool(max_size=config.txpool_size), automine=False)
            driver = _make_driver(node, config, datadir)
            if config.listen is not None:
                p2p = _make_network(node, driver, config, datadir)
        eth_api = EthApi(node, config.dev_keys, max_logs_block_range=config.max_logs_block_range,
                         max_logs_results=config.max_logs_results)
        methods = eth_api.methods()
        if driver is None:  # evm_mine & co. would seal around the consensus engine
            methods.update(DevApi(node).methods())
            methods.update(SigningApi(eth_api).methods())  # dev keys; impersonated sends
        methods.update(FilterApi(node, eth_api).methods())
        methods.update(SubscriptionApi(node, max_per_connection=config.max_subscriptions).methods())
        methods.update(TxPoolApi(node).methods())
        methods.update(ChameleonApi(eth_api, config.spec.engine, driver.evidence if driver else None,
                                    driver.engine if driver else None).methods())
        methods.update(DebugApi(eth_api).methods())
        if p2p is not None:
            from node.rpc.p2p import PeerApi

            methods.update(PeerApi(p2p).methods())
        dispatcher = Dispatcher(methods, max_batch=config.max_batch_requests, observe=metrics.observe_rpc)
        if config.metrics_port is not None:
            try:
                start_http_server(config.metrics_port, addr=config.host)
            except OSError as exc:
                raise StartupError(f"cannot serve metrics on {config.host}:{config.metrics_port}: {exc.strerror or exc}") from None
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                if p2p is not None:
                    await nursery.start(p2p.run)
                if driver is not None:
                    await nursery.start(driver.run)
                port = await nursery.start(lambda task_status: serve(dispatcher, config.host, config.port, max_body_bytes=config.max_request_bytes, task_status=task_status))
                log.info("node_started", chain=config.spec.name, head=chain.head.number, datadir=str(datadir), rpc=f"http://{config.host}:{port}")
                if on_ready is not None:
                    on_ready(chain, port)
                async for signum in signals:
                    log.info("shutting_down", signal=signal.Signals(signum).name, head=chain.head.number)
                    nursery.cancel_scope.cancel()
                    break
    finally:
        set_compiled_store(None)
        store.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
