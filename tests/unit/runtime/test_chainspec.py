from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.dev import DEV_BALANCE, dev_keys, dev_spec, dev_spec_json
from runtime.chainspec import encode_chain_spec, load_chain_spec, parse_chain_spec
from runtime.errors import InvalidChainSpec

ROOT = Path(__file__).resolve().parents[3]
GOOD = {"name": "t", "chainId": 5, "gasLimit": "0x1c9c380", "baseFeePerGas": 7}


def test_genesis_dev_json_is_the_dev_chain() -> None:
    # genesis/dev.json is what `chameleon dev` runs; it must never drift from the code.
    on_disk = json.loads((ROOT / "genesis" / "dev.json").read_text())
    assert on_disk == dev_spec_json()
    spec = load_chain_spec(ROOT / "genesis" / "dev.json")
    assert spec == dev_spec()
    assert [a for a, _ in spec.alloc] == sorted(a for a, _ in dev_keys())
    assert all(acct.balance == DEV_BALANCE for _, acct in spec.alloc)
    assert spec.chain_id == 31337 and spec.engine == "dev"


def test_first_dev_account_is_anvils() -> None:
    address, key = dev_keys()[0]
    assert address.hex() == "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert key.hex() == "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_round_trip() -> None:
    spec = parse_chain_spec({**GOOD, "alloc": {"0x" + "ab" * 20: {"balance": "0x10", "nonce": 2, "code": "0x6000", "storage": {"0x1": "0x2"}}}})
    assert parse_chain_spec(encode_chain_spec(spec)) == spec


@pytest.mark.parametrize(
    "change,field,words",
    [
        ({"chainId": None}, "chainId", "missing"),
        ({"chainId": 0}, "chainId", "positive"),
        ({"chainId": "abc"}, "chainId", "not a number"),
        ({"gasLimit": -1}, "gasLimit", "negative"),
        ({"gasLimit": 10}, "gasLimit", "at least 5000"),
        ({"name": ""}, "name", "non-empty"),
        ({"extraData": "0x" + "00" * 33}, "extraData", "at most 32 bytes"),
        ({"alloc": {"0x1234": {"balance": 1}}}, "alloc.0x1234", "expected 20 bytes"),
        ({"alloc": {"0x" + "11" * 20: {"balance": "lots"}}}, "alloc.0x" + "11" * 20 + ".balance", "not a number"),
        ({"alloc": {"0x" + "11" * 20: {"balanse": 1}}}, "alloc.0x" + "11" * 20 + ".balanse", "unknown field"),
        ({"alloc": {"0x" + "11" * 20: {"code": "6000"}}}, "alloc.0x" + "11" * 20 + ".code", "0x-prefixed"),
        ({"consensus": {"engine": "pow"}}, "consensus.engine", "expected one of"),
        ({"consensus": {"engine": "dev", "blockTime": -1}}, "consensus.blockTime", ">= 0"),
        ({"pallets": {"balances": {}}}, "pallets.balances", "unknown pallet"),
        ({"chainid": 5}, "chainid", "unknown field"),
    ],
)
def test_bad_spec_names_field_and_reason(change, field, words) -> None:
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(InvalidChainSpec) as raised:
        parse_chain_spec(data)
    assert raised.value.field == field
    assert words in raised.value.reason


def test_unreadable_and_bad_json_files(tmp_path) -> None:
    with pytest.raises(InvalidChainSpec, match="cannot read"):
        load_chain_spec(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x",\n  oops}')
    with pytest.raises(InvalidChainSpec, match="invalid JSON at line 2"):
        load_chain_spec(bad)


def test_schema_documents_every_top_level_field() -> None:
    schema = json.loads((ROOT / "genesis" / "schema.json").read_text())
    from runtime.chainspec import KNOWN_FIELDS

    assert set(schema["properties"]) == KNOWN_FIELDS
    assert set(schema["required"]) == {"name", "chainId", "gasLimit", "baseFeePerGas"}


def test_schema_documents_every_pallet_section() -> None:
    from runtime.pallets import PALLETS
    from runtime.pallets.vesting.pallet import GENESIS_SCHEDULE_FIELDS

    pallets = json.loads((ROOT / "genesis" / "schema.json").read_text())["properties"]["pallets"]["properties"]
    assert set(pallets) == {p.name for p in PALLETS}
    assert set(pallets["vesting"]["properties"]["schedules"]["items"]["properties"]) == GENESIS_SCHEDULE_FIELDS
