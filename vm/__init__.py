"""Virtual machines behind one small interface: the EVM (py-evm) now, WASM later."""
import os

# eth-hash (used by py-evm, py-trie, eth-account) picks its keccak backend on first use.
# safe-pysha3's C keccak costs 0.6 µs a hash here against 7 µs through pycryptodome, and a
# block hashes dozens of trie nodes per transaction. The environment can still override.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
