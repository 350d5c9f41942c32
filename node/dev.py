"""The dev chain: Anvil's and Hardhat's funded accounts, and its chain spec."""
from __future__ import annotations

from functools import lru_cache

from runtime.chainspec import ChainSpec, parse_chain_spec

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_DERIVATION_PATH = "m/44'/60'/0'/0/"
DEV_ACCOUNT_COUNT = 10
DEV_BALANCE = 10_000 * 10**18
DEV_CHAIN_ID = 31337
DEV_GAS_LIMIT = 30_000_000
DEV_BASE_FEE = 1_000_000_000


@lru_cache(maxsize=4)
def dev_keys(count: int = DEV_ACCOUNT_COUNT) -> tuple[tuple[bytes, bytes], ...]:
    """(address, private key) of the first ``count`` accounts of the dev mnemonic."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    keys = []
    for index in range(count):
        account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"{DEV_DERIVATION_PATH}{index}")
        keys.append((bytes.fromhex(account.address[2:]), bytes(account.key)))
    return tuple(keys)


def dev_spec_json(chain_id: int = DEV_CHAIN_ID) -> dict:
    return {
        "$schema": "./schema.json",
        "name": "dev" if chain_id == DEV_CHAIN_ID else f"dev-{chain_id}",
        "description": "Single-node dev chain: the ten accounts of the standard test mnemonic, 10,000 each.",
        "chainId": chain_id,
        "gasLimit": hex(DEV_GAS_LIMIT),
        "baseFeePerGas": hex(DEV_BASE_FEE),
        "timestamp": "0x0",
        "extraData": "0x",
        "coinbase": "0x" + "00" * 20,
        "alloc": {"0x" + address.hex(): {"balance": hex(DEV_BALANCE)} for address, _ in dev_keys()},
        "consensus": {"engine": "dev", "blockTime": 0},
        "pallets": {},
    }


def dev_spec(chain_id: int = DEV_CHAIN_ID) -> ChainSpec:
    return parse_chain_spec(dev_spec_json(chain_id))


def stored_genesis_timestamp(datadir) -> int | None:
    """The genesis timestamp of the chain kept in ``datadir`` (None: no chain there yet)."""
    import json
    from pathlib import Path

    from node.storage import Keys, LevelDBStore, StorageError

    path = Path(datadir) / "chaindata"
    if not path.exists():
        return None
    try:
        store = LevelDBStore(path)
    except StorageError:
        return None  # the node's own start reports what is wrong with it
    try:
        data = store.get(Keys.SPEC)
    finally:
        store.close()
    if data is None:
        return None
    return int(json.loads(data)["timestamp"], 16)
