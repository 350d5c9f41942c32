"""`chameleon run --validator-key`: a hex key file or a v3 keystore with --password-file."""
from __future__ import annotations

import json

import pytest

from node.cli import _read_validator_key
from node.keystore import encode_key_file

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")


def test_hex_key_file(tmp_path):
    path = tmp_path / "key"
    path.write_text("0x" + KEY.hex() + "\n")
    assert _read_validator_key(path, None) == KEY


def test_keystore_with_password_file(tmp_path):
    keystore, password = tmp_path / "keystore.json", tmp_path / "password"
    keystore.write_text(json.dumps(encode_key_file(KEY, "s3cret", light=True)))
    password.write_text("s3cret\n")
    assert _read_validator_key(keystore, password) == KEY
    password.write_text("wrong\n")
    with pytest.raises(ValueError, match="could not decrypt"):
        _read_validator_key(keystore, password)
    with pytest.raises(ValueError, match="needs --password-file"):
        _read_validator_key(keystore, None)


@pytest.mark.parametrize("content,words", [("zz", "not a hex private key"), ("0x1234", "32 bytes")])
def test_bad_key_files(tmp_path, content, words):
    path = tmp_path / "key"
    path.write_text(content)
    with pytest.raises(ValueError, match=words):
        _read_validator_key(path, None)
    with pytest.raises(ValueError, match="cannot read"):
        _read_validator_key(tmp_path / "missing", None)
