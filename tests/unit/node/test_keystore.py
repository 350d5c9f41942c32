"""Keystore: v3 key files that geth, ethers and eth-account read, and that we read from them."""
from __future__ import annotations

import copy
import json
import re
import stat
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from node.keystore import (
    SCRYPT_N_STANDARD,
    SCRYPT_P_STANDARD,
    Keystore,
    KeystoreError,
    compute_address,
    compute_key_file_name,
    decode_key_file,
    decode_private_key_hex,
    encode_key_file,
    get_scrypt_params,
)

PASSWORD = "correct horse battery staple"
# Key 1 of the "test test ... junk" mnemonic (hardhat/anvil account #0).
KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
ADDRESS = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")

# geth accounts/keystore/testdata/v3_test_vector.json (the Web3 Secret Storage wiki vectors).
VECTOR_PASSWORD = "testpassword"
VECTOR_KEY = bytes.fromhex("7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d")
VECTOR_SCRYPT = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "83dbcc02d8ccb40e466191a123791e0e"},
        "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
        "kdf": "scrypt",
        "kdfparams": {
            "dklen": 32,
            "n": 262144,
            "r": 1,
            "p": 8,
            "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19",
        },
        "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}
VECTOR_PBKDF2 = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "6087dab2f9fdbbfaddc31a909735c1e6"},
        "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
        "kdf": "pbkdf2",
        "kdfparams": {
            "c": 262144,
            "dklen": 32,
            "prf": "hmac-sha256",
            "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
        },
        "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}
# An old geth file whose key had a leading zero byte dropped; geth still reads it.
VECTOR_31_BYTE = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "e0c41130a323adc1446fc82f724bca2f"},
        "ciphertext": "9517cd5bdbe69076f9bf5057248c6c050141e970efa36ce53692d5d59a3984",
        "kdf": "scrypt",
        "kdfparams": {
            "dklen": 32,
            "n": 2,
            "r": 8,
            "p": 1,
            "salt": "711f816911c92d649fb4c84b047915679933555030b3552c1212609b38208c63",
        },
        "mac": "d5e116151c6aa71470e67a7d42c9620c75c4d23229847dcc127794f0732b0db5",
    },
    "id": "fecfc4ce-e956-48fd-953b-30f8b52ed66c",
    "version": 3,
}
VECTOR_31_BYTE_KEY = bytes.fromhex("00fa7b3db73dc7dfdf8c5fbdb796d741e4488628c41fc4febd9160a866ba0f35")

FILE_NAME = re.compile(r"^UTC--\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{9}Z--[0-9a-f]{40}$")


@pytest.fixture
def keystore(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path / "keystore", light=True)


def write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


def eth_account_keyfile(private_key: bytes, password: str, kdf: str = "scrypt") -> dict:
    iterations = 4096 if kdf == "scrypt" else 1000
    return Account.encrypt(private_key, password, kdf=kdf, iterations=iterations)


# --- new / list / unlock ----------------------------------------------------------------


def test_new_list_unlock_round_trip(keystore: Keystore) -> None:
    address = keystore.new(PASSWORD)

    assert len(address) == 20
    [(listed, path)] = keystore.list()
    assert listed == address
    assert keystore.find(address) == path
    private_key = keystore.unlock(address, PASSWORD)
    assert compute_address(private_key) == address


def test_new_writes_geth_file_name_and_modes(keystore: Keystore) -> None:
    address = keystore.new(PASSWORD)

    path = keystore.find(address)
    assert path.parent == keystore.directory
    assert FILE_NAME.match(path.name)
    assert path.name.endswith("--" + address.hex())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keystore.directory.stat().st_mode) == 0o700
    assert [p.name for p in keystore.directory.iterdir()] == [path.name]  # no temp files left


def test_new_writes_geth_v3_layout(keystore: Keystore) -> None:
    address = keystore.new(PASSWORD)

    key_json = json.loads(keystore.find(address).read_text())
    assert key_json["version"] == 3
    assert key_json["address"] == address.hex()  # lowercase, no 0x, as geth writes it
    crypto = key_json["crypto"]
    assert crypto["cipher"] == "aes-128-ctr"
    assert crypto["kdf"] == "scrypt"
    assert crypto["kdfparams"]["n"] == 4096
    assert crypto["kdfparams"]["p"] == 6
    assert crypto["kdfparams"]["r"] == 8
    assert crypto["kdfparams"]["dklen"] == 32
    assert len(bytes.fromhex(crypto["kdfparams"]["salt"])) == 32
    assert len(bytes.fromhex(crypto["cipherparams"]["iv"])) == 16


def test_our_file_decrypts_with_eth_account(keystore: Keystore) -> None:
    address = keystore.import_key(KEY, PASSWORD)

    key_json = json.loads(keystore.find(address).read_text())
    assert bytes(Account.decrypt(key_json, PASSWORD)) == KEY


def test_standard_scrypt_cost_is_geths() -> None:
    assert get_scrypt_params(light=False).n == SCRYPT_N_STANDARD == 262144
    assert get_scrypt_params(light=False).p == SCRYPT_P_STANDARD == 1
    assert (get_scrypt_params(light=True).n, get_scrypt_params(light=True).p) == (4096, 6)
    key_json = encode_key_file(KEY, PASSWORD)  # one real run at full cost (~1 s)
    params = key_json["crypto"]["kdfparams"]
    assert (params["n"], params["r"], params["p"]) == (262144, 8, 1)


def test_list_is_sorted_by_file_name(keystore: Keystore) -> None:
    addresses = [keystore.new(PASSWORD) for _ in range(3)]

    listed = keystore.list()
    assert [p.name for _, p in listed] == sorted(p.name for _, p in listed)
    assert {a for a, _ in listed} == set(addresses)


def test_list_of_missing_directory_is_empty(tmp_path: Path) -> None:
    assert Keystore(tmp_path / "nowhere").list() == []


def test_list_skips_files_that_are_not_keys(keystore: Keystore) -> None:
    address = keystore.new(PASSWORD)
    directory = keystore.directory
    (directory / "README").write_text("not a key")
    (directory / "broken.json").write_text("{")
    write_json(directory / ".hidden", {"address": "11" * 20})
    write_json(directory / "backup~", {"address": "22" * 20})
    (directory / "subdir").mkdir()

    assert [a for a, _ in keystore.list()] == [address]


def test_compute_key_file_name_matches_geth() -> None:
    name = compute_key_file_name(ADDRESS, 1458651475_920751759)
    assert name == "UTC--2016-03-22T12-57-55.920751759Z--" + ADDRESS.hex()


# --- import_key -------------------------------------------------------------------------


def test_import_key_returns_address_and_unlocks(keystore: Keystore) -> None:
    address = keystore.import_key(KEY, PASSWORD)

    assert address == ADDRESS
    assert to_checksum_address(address) == Account.from_key(KEY).address
    assert keystore.unlock(ADDRESS, PASSWORD) == KEY


@pytest.mark.parametrize(
    "private_key",
    [bytes(32), b"\xff" * 32, KEY[:31], KEY + b"\x00"],
    ids=["zero", "above-order", "short", "long"],
)
def test_import_key_rejects_invalid_keys(keystore: Keystore, private_key: bytes) -> None:
    with pytest.raises(KeystoreError, match="invalid private key"):
        keystore.import_key(private_key, PASSWORD)
    assert keystore.list() == []


def test_import_key_duplicate(keystore: Keystore) -> None:
    keystore.import_key(KEY, PASSWORD)

    with pytest.raises(KeystoreError) as err:
        keystore.import_key(KEY, "another password")
    assert str(err.value) == f"account already exists: {to_checksum_address(ADDRESS)}"
    assert len(keystore.list()) == 1


@pytest.mark.parametrize("text", [KEY.hex(), KEY.hex() + "\n", "0x" + KEY.hex().upper() + "\r\n"])
def test_decode_private_key_hex(text: str) -> None:
    assert decode_private_key_hex(text) == KEY


@pytest.mark.parametrize("text", ["", KEY.hex()[:-2], KEY.hex() + "00", "zz" * 32, "00" * 32])
def test_decode_private_key_hex_rejects(text: str) -> None:
    with pytest.raises(KeystoreError, match="invalid private key"):
        decode_private_key_hex(text)


# --- import_file ------------------------------------------------------------------------


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_import_eth_account_keyfile(keystore: Keystore, tmp_path: Path, kdf: str) -> None:
    original = eth_account_keyfile(KEY, PASSWORD, kdf)
    source = write_json(tmp_path / "from-eth-account.json", original)

    address = keystore.import_file(source, PASSWORD)

    assert address == ADDRESS
    assert keystore.unlock(ADDRESS, PASSWORD) == KEY
    stored = json.loads(keystore.find(ADDRESS).read_text())
    assert stored["id"] == original["id"]
    assert stored["crypto"]["kdf"] == "scrypt"  # re-encrypted under our own cost
    assert stored["crypto"]["kdfparams"]["n"] == 4096
    assert stored["crypto"]["ciphertext"] != original["crypto"]["ciphertext"]
    assert bytes(Account.decrypt(stored, PASSWORD)) == KEY
    assert source.exists()


@pytest.mark.parametrize(
    ("vector", "private_key"),
    [(VECTOR_SCRYPT, VECTOR_KEY), (VECTOR_PBKDF2, VECTOR_KEY), (VECTOR_31_BYTE, VECTOR_31_BYTE_KEY)],
    ids=["scrypt", "pbkdf2", "31-byte-key"],
)
def test_import_geth_test_vectors(keystore: Keystore, tmp_path: Path, vector, private_key) -> None:
    password = "foo" if vector is VECTOR_31_BYTE else VECTOR_PASSWORD
    source = write_json(tmp_path / "vector.json", vector)  # no address field in these

    address = keystore.import_file(source, password)

    assert address == compute_address(private_key)
    assert keystore.unlock(address, password) == private_key


def test_decode_accepts_capitalised_field_names() -> None:
    key_json = eth_account_keyfile(KEY, PASSWORD)
    key_json["Crypto"] = key_json.pop("crypto")
    assert decode_key_file(key_json, PASSWORD) == KEY


def test_import_file_duplicate(keystore: Keystore, tmp_path: Path) -> None:
    keystore.import_key(KEY, PASSWORD)
    source = write_json(tmp_path / "again.json", eth_account_keyfile(KEY, PASSWORD))

    with pytest.raises(KeystoreError, match=f"^account already exists: {to_checksum_address(ADDRESS)}$"):
        keystore.import_file(source, PASSWORD)


def test_import_own_key_file_is_a_duplicate(keystore: Keystore) -> None:
    address = keystore.new(PASSWORD)
    with pytest.raises(KeystoreError, match="account already exists"):
        keystore.import_file(keystore.find(address), PASSWORD)


# --- wrong password and malformed files -------------------------------------------------


def test_unlock_wrong_password(keystore: Keystore) -> None:
    address = keystore.new(PASSWORD)
    with pytest.raises(KeystoreError) as err:
        keystore.unlock(address, "wrong")
    assert str(err.value) == "could not decrypt key with given password"


def test_import_file_wrong_password(keystore: Keystore, tmp_path: Path) -> None:
    source = write_json(tmp_path / "key.json", eth_account_keyfile(KEY, PASSWORD))
    with pytest.raises(KeystoreError) as err:
        keystore.import_file(source, "wrong")
    assert str(err.value) == "could not decrypt key with given password"
    assert keystore.list() == []


def test_unlock_unknown_address(keystore: Keystore) -> None:
    with pytest.raises(KeystoreError, match="no key for given address"):
        keystore.unlock(ADDRESS, PASSWORD)


def test_import_file_not_json(keystore: Keystore, tmp_path: Path) -> None:
    source = tmp_path / "key.json"
    source.write_text('{"crypto": ')
    with pytest.raises(KeystoreError, match="not JSON") as err:
        keystore.import_file(source, PASSWORD)
    assert err.value.path == source


def test_import_file_missing(keystore: Keystore, tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="could not read keystore file"):
        keystore.import_file(tmp_path / "absent.json", PASSWORD)


def _without(*keys: str):
    def edit(key_json: dict) -> None:
        *parents, last = keys
        target = key_json
        for k in parents:
            target = target[k]
        del target[last]

    return edit


def _setting(value, *keys: str):
    def edit(key_json: dict) -> None:
        *parents, last = keys
        target = key_json
        for k in parents:
            target = target[k]
        target[last] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_without("version"), "missing field 'version'"),
        (_setting(1, "version"), "unsupported keystore version: 1"),
        (_without("crypto"), "missing field 'crypto'"),
        (_setting("not an object", "crypto"), "field 'crypto' must be a JSON object"),
        (_setting("aes-128-cbc", "crypto", "cipher"), "unsupported cipher: 'aes-128-cbc'"),
        (_without("crypto", "cipherparams", "iv"), "missing field 'crypto.cipherparams.iv'"),
        (_setting("abcd", "crypto", "cipherparams", "iv"), "'crypto.cipherparams.iv' must be 16 bytes"),
        (_setting("zz", "crypto", "ciphertext"), "'crypto.ciphertext' is not hex"),
        (_without("crypto", "mac"), "missing field 'crypto.mac'"),
        (_setting("argon2", "crypto", "kdf"), "unsupported key derivation function: 'argon2'"),
        (_without("crypto", "kdfparams", "salt"), "missing field 'crypto.kdfparams.salt'"),
        (_setting("4096", "crypto", "kdfparams", "n"), "'crypto.kdfparams.n' must be a JSON integer"),
        (_setting(1000, "crypto", "kdfparams", "n"), "crypto.kdfparams.n must be a power of 2"),
        (_setting(16, "crypto", "kdfparams", "dklen"), "dklen must be at least 32"),
        (_setting("zz" * 20, "address"), "field 'address' is not hex"),
        (_setting("11" * 20, "address"), "key content mismatch"),
    ],
)
def test_decode_malformed_file_names_the_problem(edit, message: str) -> None:
    key_json = copy.deepcopy(eth_account_keyfile(KEY, PASSWORD))
    edit(key_json)
    with pytest.raises(KeystoreError, match=re.escape(message)):
        decode_key_file(key_json, PASSWORD)


def test_decode_json_that_is_not_an_object() -> None:
    with pytest.raises(KeystoreError, match="expected a JSON object"):
        decode_key_file([1, 2, 3], PASSWORD)


def test_decode_pbkdf2_unsupported_prf() -> None:
    key_json = eth_account_keyfile(KEY, PASSWORD, "pbkdf2")
    key_json["crypto"]["kdfparams"]["prf"] = "hmac-sha512"
    with pytest.raises(KeystoreError, match="unsupported PBKDF2 PRF"):
        decode_key_file(key_json, PASSWORD)
