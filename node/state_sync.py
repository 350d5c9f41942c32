"""State sync: download the state trie of one block's state root from peers, every node
checked by its hash, for a node that fast-synced the blocks up to it (``node/sync.py``).

What it trusts: the state root of a block whose commit it verified (under bft the
validators executed the block and signed its header, root included). Every node is asked
for *because* a node already verified (or the root itself) references its hash, and is
kept only if its keccak256 is that hash, so a peer can withhold nodes but never forge one.

The walk: the account trie from the root; each account leaf adds its storage trie's root
and its code hash (code is content-addressed like the nodes and lives in the same store,
so the same request serves both, as eth/63's ``GetNodeData`` did). A node already in the
store (genesis state, an earlier sync, an interrupted one) is walked from the store
instead of asked for. Nodes are written as they arrive (they are content-addressed: a
half-synced state harms nothing), except the root, which is written last: a stored root
means a whole state (``Chain.has_state``), and a restart walks what is already there.

The protocol (the sync request/response protocol, next to ``node.sync``'s blocks):

- request ``rlp([2, [hash, ...]])``: at most ``MAX_NODE_HASHES`` hashes of trie nodes or code;
- response ``rlp([value, ...])``: the values in the order asked, ``b""`` for one the peer
  does not have, cut short once they pass ``MAX_NODE_DATA_BYTES`` (always at least one).

Requests go to several peers at once (``in_flight`` in all, at most ``per_peer`` each). A
peer that answers garbage, a node that does not hash to what was asked, or nothing in
time is reported through ``penalize`` and not asked again; one that lacks a node is not
asked again either (it is no archive of that state), without penalty.
"""
from __future__ import annotations

from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence

import rlp
import structlog
import trio
from rlp.sedes import big_endian_int

from runtime.primitives.hashing import EMPTY_KECCAK, keccak256
from runtime.primitives.header import BLANK_ROOT
from runtime.state.store import STATE_PREFIX, KeyValueStore

log = structlog.get_logger(__name__)

GET_NODE_DATA = 2
MAX_NODE_HASHES = 1024  # 33 bytes each in a request: well under the network's 64 KiB requests
MAX_NODE_DATA_BYTES = 2 * 1024 * 1024
MAX_NODE_REQUEST_BYTES = 16 + MAX_NODE_HASHES * 33
REQUEST_TIMEOUT_S = 10.0
IN_FLIGHT = 4
PER_PEER_IN_FLIGHT = 2
LOCAL_WALK_YIELD = 2048  # nodes walked from the store between two yields to the event loop

# What a hash names, which tells how to read the node behind it.
ACCOUNT_NODE, STORAGE_NODE, CODE = 0, 1, 2

Request = Callable[[object, bytes], Awaitable[bytes]]


class NodeDataError(Exception):
    """A node data request or response that breaks the protocol, with the reason."""


class MalformedNode(Exception):
    """A node whose hash is right but which is no trie node: never in a state the validators agreed on."""


def encode_get_node_data(hashes: Sequence[bytes]) -> bytes:
    return rlp.encode([GET_NODE_DATA, list(hashes)])


def decode_get_node_data(data: bytes) -> list[bytes]:
    """Raises: NodeDataError."""
    if len(data) > MAX_NODE_REQUEST_BYTES:
        raise NodeDataError(f"request of {len(data)} bytes exceeds {MAX_NODE_REQUEST_BYTES}")
    try:
        kind, hashes = rlp.decode(data)
        kind = big_endian_int.deserialize(kind)
    except Exception:
        raise NodeDataError("request is not rlp([2, [hash, ...]])") from None
    if kind != GET_NODE_DATA:
        raise NodeDataError(f"not a node data request (kind {kind})")
    if not isinstance(hashes, list) or not all(isinstance(h, bytes) and len(h) == 32 for h in hashes):
        raise NodeDataError("node data request hashes are not a list of 32-byte hashes")
    if not 1 <= len(hashes) <= MAX_NODE_HASHES:
        raise NodeDataError(f"node data request of {len(hashes)} hashes, not between 1 and {MAX_NODE_HASHES}")
    return hashes


def answer_get_node_data(store: KeyValueStore, data: bytes) -> bytes:
    """The server side: the trie nodes and code asked for that this node has.

    Raises:
        NodeDataError: a malformed request.
    """
    values, size = [], 0
    for node_hash in decode_get_node_data(data):
        value = store.get(STATE_PREFIX + node_hash) or b""
        if values and size + len(value) > MAX_NODE_DATA_BYTES:
            break
        values.append(value)
        size += len(value)
    return rlp.encode(values)


def decode_node_data_response(data: bytes, asked: int) -> list[bytes]:
    """Raises: NodeDataError."""
    if len(data) > MAX_NODE_DATA_BYTES + 64 * 1024 + asked * 8:
        raise NodeDataError(f"node data response of {len(data)} bytes exceeds {MAX_NODE_DATA_BYTES}")
    try:
        values = rlp.decode(data)
    except Exception:
        raise NodeDataError("node data response is not rlp([value, ...])") from None
    if not isinstance(values, list) or not all(isinstance(v, bytes) for v in values):
        raise NodeDataError("node data response is not a list of values")
    if len(values) > asked:
        raise NodeDataError(f"node data response has {len(values)} values for {asked} hashes")
    return values


def compute_references(node: bytes, kind: int) -> list[tuple[bytes, int]]:
    """What a node references by hash: its children in the same trie and, in an account
    leaf, the account's storage root and code hash (not the empty ones). Children short
    enough to be embedded in their parent are read in place.

    Raises:
        MalformedNode: not a trie node, or an account leaf that is no account.
    """
    if kind == CODE:
        return []
    try:
        items = rlp.decode(node)
    except Exception:
        raise MalformedNode("not an RLP encoding") from None
    out: list[tuple[bytes, int]] = []
    _walk_node(items, kind, out)
    return out


def _walk_node(items: object, kind: int, out: list[tuple[bytes, int]]) -> None:
    if not isinstance(items, list):
        raise MalformedNode("a trie node is a list")
    if len(items) == 17:
        for child in items[:16]:
            _walk_reference(child, kind, out)
        if items[16] and kind == ACCOUNT_NODE:
            _walk_account(items[16], out)
    elif len(items) == 2:
        path, child = items
        if not isinstance(path, bytes) or not path:
            raise MalformedNode("a leaf or extension starts with its path")
        if path[0] >> 4 in (2, 3):  # a leaf (hex-prefix flag)
            if kind == ACCOUNT_NODE:
                _walk_account(child, out)
        elif path[0] >> 4 in (0, 1):
            _walk_reference(child, kind, out)
        else:
            raise MalformedNode(f"bad hex-prefix flag {path[0] >> 4}")
    else:
        raise MalformedNode(f"a trie node of {len(items)} items")


def _walk_reference(child: object, kind: int, out: list[tuple[bytes, int]]) -> None:
    if isinstance(child, list):
        _walk_node(child, kind, out)  # embedded: shorter than 32 bytes encoded
    elif len(child) == 32:
        out.append((bytes(child), kind))
    elif child:
        raise MalformedNode(f"a child reference of {len(child)} bytes")


def _walk_account(value: object, out: list[tuple[bytes, int]]) -> None:
    try:
        _nonce, _balance, storage_root, code_hash = rlp.decode(value)
    except Exception:
        raise MalformedNode("an account leaf that is no [nonce, balance, storage root, code hash]") from None
    if storage_root != BLANK_ROOT:
        out.append((bytes(storage_root), STORAGE_NODE))
    if code_hash != EMPTY_KECCAK:
        out.append((bytes(code_hash), CODE))


class StateSyncer:
    """Download the state of one state root; see the module's docstring.

    ``request(peer, data) -> response`` sends a request over the network; ``penalize(peer,
    reason)`` reports a misbehaving peer. ``known_states`` counts the nodes and code found
    so far (walked or to fetch), ``pulled_states`` those downloaded, as geth's eth_syncing.
    """

    def __init__(self, store: KeyValueStore, request: Request, *,
                 penalize: Callable[[object, str], None] = lambda peer, reason: None,
                 in_flight: int = IN_FLIGHT, per_peer: int = PER_PEER_IN_FLIGHT, batch: int = MAX_NODE_HASHES,
                 timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.store = store
        self.request = request
        self.penalize = penalize
        self.in_flight = in_flight
        self.per_peer = per_peer
        self.batch = batch
        self.timeout = timeout
        self.known_states = 0
        self.pulled_states = 0
        self._seen: set[tuple[bytes, int]] = set()
        self._local: list[tuple[bytes, int]] = []  # in the store: walk from there
        self._missing: deque[tuple[bytes, int]] = deque()  # to ask peers for

    async def run(self, root: bytes, peers: Sequence[object]) -> bool:
        """Fetch every node of the state ``root`` not yet stored, from ``peers``; True once
        the whole state is stored, False if the peers ran out first (what arrived is kept)."""
        if root == BLANK_ROOT or self.store.get(STATE_PREFIX + root) is not None:
            return True
        usable = list(peers)
        busy: Counter[object] = Counter()
        root_node: bytes | None = None
        self._discover([(root, ACCOUNT_NODE)])
        send, receive = trio.open_memory_channel[tuple[object, list[tuple[bytes, int]], object]](float("inf"))

        async def fetch(peer: object, wanted: list[tuple[bytes, int]]) -> None:
            try:
                with trio.fail_after(self.timeout):
                    data = await self.request(peer, encode_get_node_data([h for h, _ in wanted]))
                outcome: object = decode_node_data_response(data, len(wanted))
            except Exception as exc:  # noqa: BLE001 - any failure of a peer's answer costs that peer
                outcome = "timed out" if isinstance(exc, trio.TooSlowError) else str(exc) or type(exc).__name__
            send.send_nowait((peer, wanted, outcome))

        log.info("state_sync_started", root="0x" + root.hex(), peers=len(usable))
        in_flight = 0
        async with trio.open_nursery() as nursery:
            while True:
                await self._walk_local()
                while in_flight < self.in_flight and self._missing:
                    candidates = [p for p in usable if busy[p] < self.per_peer]
                    if not candidates:
                        break
                    peer = min(candidates, key=lambda p: busy[p])
                    wanted = [self._missing.popleft() for _ in range(min(self.batch, len(self._missing)))]
                    busy[peer] += 1
                    in_flight += 1
                    nursery.start_soon(fetch, peer, wanted)
                if in_flight == 0:
                    break  # nothing missing, or nobody left to ask
                peer, wanted, outcome = await receive.receive()
                in_flight -= 1
                busy[peer] -= 1
                if isinstance(outcome, str):
                    self._drop(usable, peer, f"state sync: {outcome}")
                    self._missing.extendleft(reversed(wanted))
                    continue
                root_node = self._accept(peer, wanted, outcome, usable, root, root_node)
            nursery.cancel_scope.cancel()
        if self._missing or self._local or root_node is None:
            log.warning("state_sync_incomplete", root="0x" + root.hex(), missing=len(self._missing),
                        pulled=self.pulled_states, known=self.known_states)
            return False
        self.store.write({STATE_PREFIX + root: root_node})  # last: a stored root is a whole state
        log.info("state_sync_done", root="0x" + root.hex(), nodes=self.known_states, pulled=self.pulled_states)
        return True

    def _accept(self, peer: object, wanted: list[tuple[bytes, int]], values: list[bytes], usable: list[object],
                root: bytes, root_node: bytes | None) -> bytes | None:
        """Keep the values that hash to what was asked; requeue the rest. Returns the root node once it came."""
        writes: dict[bytes, bytes] = {}
        found: list[tuple[bytes, int]] = []
        for index, (node_hash, kind) in enumerate(wanted):
            if index >= len(values):
                self._missing.extendleft(reversed(wanted[index:]))  # cut short by the byte limit
                break
            value = values[index]
            if not value:
                self._drop(usable, peer, None)
                self._missing.extendleft(reversed(wanted[index:]))
                break
            if keccak256(value) != node_hash:
                self._drop(usable, peer, f"state sync: node 0x{node_hash.hex()} does not hash to what was asked")
                self._missing.extendleft(reversed(wanted[index:]))
                break
            try:
                found += compute_references(value, kind)
            except MalformedNode as exc:
                # Its hash is right, so the agreed state holds it: a bug in our reading, not the peer.
                raise AssertionError(f"state node 0x{node_hash.hex()} unreadable: {exc}") from None
            if node_hash == root and kind == ACCOUNT_NODE:
                root_node = value
            else:
                writes[STATE_PREFIX + node_hash] = value
            self.pulled_states += 1
        if writes:
            self.store.write(writes)
        self._discover(found)
        return root_node

    def _drop(self, usable: list[object], peer: object, reason: str | None) -> None:
        """Ask ``peer`` no more; ``reason`` (a penalty) when it misbehaved, None when it only lacks a node."""
        if peer in usable:
            usable.remove(peer)
        if reason is not None:
            log.info("state_sync_peer_refused", peer=str(peer), reason=reason)
            self.penalize(peer, reason)

    def _discover(self, references: list[tuple[bytes, int]]) -> None:
        for reference in references:
            if reference in self._seen:
                continue
            self._seen.add(reference)
            self.known_states += 1
            node_hash = reference[0]
            if self.store.get(STATE_PREFIX + node_hash) is not None:
                self._local.append(reference)
            else:
                self._missing.append(reference)

    async def _walk_local(self) -> None:
        """Walk the known nodes already in the store (depth first), yielding now and then."""
        walked = 0
        while self._local:
            node_hash, kind = self._local.pop()
            self._discover(compute_references(self.store.get(STATE_PREFIX + node_hash), kind))
            walked += 1
            if walked % LOCAL_WALK_YIELD == 0:
                await trio.sleep(0)


__all__ = [
    "GET_NODE_DATA", "MAX_NODE_DATA_BYTES", "MAX_NODE_HASHES", "MalformedNode", "NodeDataError", "StateSyncer",
    "answer_get_node_data", "compute_references", "decode_get_node_data", "decode_node_data_response",
    "encode_get_node_data",
]
