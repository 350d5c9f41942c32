"""End-to-end helpers: real `chameleon` processes on 127.0.0.1, driven over JSON-RPC.

`DevNode` starts `chameleon dev` (or `chameleon run`) as a subprocess on a free port with
its datadir, stdout and stderr under a test's tmp directory, waits until `eth_chainId`
answers, and offers `rpc`, `raw`, `stop`, `kill9` and `restart`. Every process a test
starts is killed at teardown, whatever happened.

The fixtures built on these live in conftest.py. Test modules import from here as
`tests.e2e.nodes` (conftest.py puts the repo root on sys.path).
"""
from __future__ import annotations

import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

_VENV_BIN = Path(sys.executable).parent
CHAMELEON = str(_VENV_BIN / "chameleon") if (_VENV_BIN / "chameleon").exists() else str(REPO_ROOT / ".venv" / "bin" / "chameleon")

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_ID = 31337
DEV_BALANCE = 10_000 * 10**18
# The well-known keys of that mnemonic (m/44'/60'/0'/0/i), as Anvil and Hardhat print them.
DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
]
DEV_ADDRESSES = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
]

# Every process any DevNode started in this session, killed at the end whatever happened.
_ALL_PROCESSES: set[subprocess.Popen] = set()
_ALL_LOCK = threading.Lock()


class RpcFailure(Exception):
    """A JSON-RPC error response: `code`, `message`, `data` as the node sent them."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"[{code}] {message}" + (f" data={data!r}" if data is not None else ""))
        self.code = code
        self.message = message
        self.data = data


class NodeStartError(AssertionError):
    pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_post(port: int, body: bytes, *, timeout: float = 30.0, path: str = "/",
              headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """POST `body` on a fresh connection; (HTTP status, response body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        try:
            conn.request("POST", path, body=body, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) and close before reading the whole body
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def http_get(port: int, path: str, *, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def unwrap(response: dict) -> Any:
    """The `result` of a decoded response object, or raise its error as RpcFailure."""
    if "error" in response:
        error = response["error"]
        raise RpcFailure(error.get("code"), error.get("message"), error.get("data"))
    return response["result"]


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no file)"
    return "\n".join(text.splitlines()[-lines:])


def run_cli(*args: str, timeout: float = 60.0, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `chameleon ARGS` to completion, capturing text stdout/stderr."""
    return subprocess.run(
        [CHAMELEON, *args], capture_output=True, text=True, timeout=timeout,
        cwd=cwd or REPO_ROOT, stdin=subprocess.DEVNULL, env=_child_env(),
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the node gets SIGKILL if the test process dies without its teardown."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("NO_COLOR", None)
    return env


class DevNode:
    """One chameleon node process (`dev` by default) on a free 127.0.0.1 port.

    `args` are extra command-line arguments (e.g. ["--block-time", "1"]). The datadir
    survives `stop`/`kill9`, so `restart` reopens the same chain (on a new free port).
    """

    def __init__(self, workdir: Path, *args: str, command: str = "dev", datadir: Path | None = None,
                 name: str = "node") -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.command = command
        self.args = list(args)
        self.datadir = Path(datadir) if datadir is not None else self.workdir / "datadir"
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.starts = 0
        self.stdout_path = self.workdir / f"{name}.stdout"
        self.stderr_path = self.workdir / f"{name}.stderr"
        self.returncodes: list[int] = []

    # -- life cycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def argv(self, port: int) -> list[str]:
        return [CHAMELEON, self.command, "--datadir", str(self.datadir), "--port", str(port), *self.args]

    def spawn(self) -> subprocess.Popen:
        """Start the process without waiting for it to be ready."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        suffix = "" if self.starts == 1 else f".{self.starts}"
        self.stdout_path = self.workdir / f"{self.name}{suffix}.stdout"
        self.stderr_path = self.workdir / f"{self.name}{suffix}.stderr"
        self.port = free_port()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv(self.port), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                cwd=REPO_ROOT, env=_child_env(), start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        with _ALL_LOCK:
            _ALL_PROCESSES.add(self.proc)
        return self.proc

    def start(self, timeout: float = READY_TIMEOUT_S) -> DevNode:
        for attempt in range(3):
            self.spawn()
            try:
                self.wait_ready(timeout)
                return self
            except NodeStartError:
                # Another process took the free port between our probe and the node's bind.
                lost_port = self.proc.returncode == 1 and f":{self.port}: Address already in use" in self.stderr_text()
                if not lost_port or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last_error: object = None
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise NodeStartError(
                    f"{self.name} exited with code {code} before answering eth_chainId\n"
                    f"argv: {self.argv(self.port)}\n--- stderr tail ---\n{tail(self.stderr_path)}"
                )
            try:
                self.rpc("eth_chainId", timeout=2.0)
                return
            except (OSError, http.client.HTTPException, ValueError) as exc:
                last_error = exc
            time.sleep(0.05)
        self.kill9()
        raise NodeStartError(
            f"{self.name} did not answer eth_chainId within {timeout}s (last error: {last_error!r})\n"
            f"--- stderr tail ---\n{tail(self.stderr_path)}"
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send `sig` and wait for the process to exit; its return code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError(f"{self.name} did not exit within {timeout}s of signal {sig}\n"
                                     f"--- stderr tail ---\n{tail(self.stderr_path)}") from None
        code = self.proc.returncode
        self.returncodes.append(code)
        return code

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)

    def restart(self, sig: int = signal.SIGTERM) -> DevNode:
        """Stop (if running) and start again on the same datadir, on a new free port."""
        if self.running:
            code = self.stop(sig)
            assert code == 0, f"{self.name} exited with {code} on {sig}\n{tail(self.stderr_path)}"
        return self.start()

    def close(self) -> None:
        """Teardown: kill the process if it still runs."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                try:
                    self.proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    pass
            with _ALL_LOCK:
                _ALL_PROCESSES.discard(self.proc)

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    # -- JSON-RPC --------------------------------------------------------------------

    def raw(self, body: bytes | str, *, timeout: float = 30.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """POST `body` as is; (HTTP status, response bytes)."""
        if isinstance(body, str):
            body = body.encode()
        assert self.port is not None
        return http_post(self.port, body, timeout=timeout, headers=headers)

    def request(self, method: str, *params: Any, timeout: float = 30.0) -> dict:
        """The decoded response object of one call (error or result)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        status, data = self.raw(body, timeout=timeout)
        if status != 200:
            raise ValueError(f"HTTP {status} for {method}: {data[:300]!r}")
        return json.loads(data)

    def advance(self, seconds: int) -> None:
        """Time travel on a dev node: the next block is ``seconds`` later, and it is mined."""
        self.rpc("evm_increaseTime", seconds)
        self.rpc("evm_mine")

    def rpc(self, method: str, *params: Any, timeout: float = 30.0) -> Any:
        """The call's `result`; raises RpcFailure(code, message, data) on an error response."""
        return unwrap(self.request(method, *params, timeout=timeout))

    def batch(self, calls: list[tuple[str, list]]) -> list[dict]:
        body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)])
        status, data = self.raw(body)
        assert status == 200, data
        return json.loads(data)

    # -- conveniences ------------------------------------------------------------------

    def w3(self):
        from web3 import Web3

        return Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 60}))

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def balance(self, address: str, block: str = "latest") -> int:
        return int(self.rpc("eth_getBalance", address, block), 16)

    def nonce(self, address: str, block: str = "latest") -> int:
        return int(self.rpc("eth_getTransactionCount", address, block), 16)

    def send_raw(self, raw: bytes | str) -> str:
        if isinstance(raw, (bytes, bytearray)):
            raw = "0x" + bytes(raw).hex()
        return self.rpc("eth_sendRawTransaction", raw)

    def receipt(self, tx_hash: str) -> dict | None:
        return self.rpc("eth_getTransactionReceipt", tx_hash)

    def wait_receipt(self, tx_hash: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise AssertionError(f"no receipt for {tx_hash} within {timeout}s")
            time.sleep(0.05)

    def base_fee(self) -> int:
        return int(self.rpc("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)


def sign_transfer(key: str, nonce: int, to: str, value: int = 1, *, chain_id: int = DEV_CHAIN_ID,
                  gas: int = 21_000, max_fee: int = 20 * 10**9, tip: int = 10**9, **extra: Any):
    """A signed type-2 transfer (eth_account SignedTransaction)."""
    from eth_account import Account

    tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "to": to, "value": value, "gas": gas,
          "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip, "data": b""}
    tx.update(extra)
    return Account.sign_transaction(tx, key)


def raw_hex(signed) -> str:
    return "0x" + bytes(signed.raw_transaction).hex()


class NodeFactory:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.nodes: list[DevNode] = []

    def __call__(self, *args: str, start: bool = True, **kw: Any) -> DevNode:
        name = kw.pop("name", f"node{len(self.nodes)}")
        workdir = kw.pop("workdir", self.base / name)
        node = DevNode(workdir, *args, name=name, **kw)
        self.nodes.append(node)
        if start:
            node.start()
        return node

    def close(self) -> None:
        for node in self.nodes:
            node.close()


def kill_all() -> None:
    """Kill every node process still running (teardown, and at interpreter exit)."""
    with _ALL_LOCK:
        leftovers = list(_ALL_PROCESSES)
        _ALL_PROCESSES.clear()
    for proc in leftovers:
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass


atexit.register(kill_all)
