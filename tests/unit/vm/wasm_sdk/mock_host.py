"""A Python stand-in for the node's side of HOST_API.md, enough to run the example
contracts in unit tests: one contract, dict storage, recorded logs and outgoing calls.
It follows the spec's semantics (fresh instance per message, writes undone on revert),
not its gas rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import wasmtime
from eth_utils import keccak

from vm.wasm.build import host_imports

_TYPES = {"i32": wasmtime.ValType.i32(), "i64": wasmtime.ValType.i64()}


class Abort(Exception):
    """The contract called env.abort (a trap, for the host)."""


@dataclass
class Result:
    status: int  # 0 returned, 1 reverted
    output: bytes
    logs: list[tuple[list[bytes], bytes]]


@dataclass
class MockHost:
    address: bytes = b"\xc0" * 20
    storage: dict[bytes, bytes] = field(default_factory=dict)
    logs: list[tuple[list[bytes], bytes]] = field(default_factory=list)
    calls: list[tuple[bytes, int, bytes]] = field(default_factory=list)
    timestamp: int = 1_700_000_000
    # What an outgoing call answers: (to, value, data) -> (success, returndata).
    on_call: object = lambda to, value, data: (True, b"")

    def __post_init__(self) -> None:
        self.engine = wasmtime.Engine()

    def deploy(self, module: bytes, args: bytes, *, sender: bytes, value: int = 0) -> Result:
        return self._run(module, "deploy", args, sender, value)

    def call(self, module: bytes, data: bytes, *, sender: bytes, value: int = 0) -> Result:
        return self._run(module, "call", data, sender, value)

    def _run(self, module_bytes: bytes, entry: str, data: bytes, sender: bytes, value: int) -> Result:
        store = wasmtime.Store(self.engine)
        module = wasmtime.Module(self.engine, module_bytes)
        linker = wasmtime.Linker(self.engine)
        msg = {"output": b"", "returndata": b"", "logs": []}
        storage = dict(self.storage)
        mem = lambda caller: caller["memory"]  # noqa: E731
        read = lambda c, p, n: bytes(mem(c).read(c, p, p + n))  # noqa: E731

        def write(c, p, b) -> None:
            mem(c).write(c, b, p)

        def abort(c, *_):
            raise Abort()

        def call_contract(c, addr, value_ptr, data_ptr, data_len, gas):
            to, amount = read(c, addr, 20), int.from_bytes(read(c, value_ptr, 32), "big")
            payload = read(c, data_ptr, data_len)
            self.calls.append((to, amount, payload))
            ok, msg["returndata"] = self.on_call(to, amount, payload)
            return 0 if ok else 1

        impl = {
            "input_size": lambda c: len(data),
            "input_copy": lambda c, d, o, n: write(c, d, data[o:o + n].ljust(n, b"\0")),
            "set_output": lambda c, p, n: msg.__setitem__("output", read(c, p, n)),
            "storage_load": lambda c, k, o: write(c, o, storage.get(read(c, k, 32), b"\0" * 32)),
            "storage_store": lambda c, k, v: storage.__setitem__(read(c, k, 32), read(c, v, 32)),
            "caller": lambda c, o: write(c, o, sender),
            "origin": lambda c, o: write(c, o, sender),
            "address": lambda c, o: write(c, o, self.address),
            "callvalue": lambda c, o: write(c, o, value.to_bytes(32, "big")),
            "balance": lambda c, a, o: write(c, o, b"\0" * 32),
            "block_number": lambda c: 1,
            "block_timestamp": lambda c: self.timestamp,
            "chain_id": lambda c: 31337,
            "basefee": lambda c, o: write(c, o, b"\0" * 32),
            "gas_left": lambda c: 10_000_000,
            "keccak256": lambda c, p, n, o: write(c, o, keccak(read(c, p, n))),
            "emit_log": lambda c, d, n, t, k: msg["logs"].append(
                ([read(c, t + 32 * i, 32) for i in range(k)], read(c, d, n))),
            "call_contract": call_contract,
            "returndata_size": lambda c: len(msg["returndata"]),
            "returndata_copy": lambda c, d, o, n: write(c, d, msg["returndata"][o:o + n]),
            "abort": abort,
        }
        for name, (params, results) in host_imports().items():
            if name in impl:
                ty = wasmtime.FuncType([_TYPES[p] for p in params], [_TYPES[r] for r in results])
                linker.define_func("env", name, ty, impl[name], access_caller=True)
        instance = linker.instantiate(store, module)
        status = instance.exports(store)[entry](store)
        if status == 0:  # a revert undoes the writes and logs
            self.storage = storage
            self.logs.extend(msg["logs"])
        return Result(status, msg["output"], msg["logs"] if status == 0 else [])
