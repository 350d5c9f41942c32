"""Encrypted key files in the Web3 Secret Storage (v3 keystore) format.

The files are the ones geth writes: same JSON layout (scrypt, aes-128-ctr, keccak MAC),
same file names (``UTC--<time>Z--<address>``), mode 0600 in a 0700 directory, so a key
directory can be copied between Chameleon, geth, ethers and eth-account.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import coincurve
from Crypto.Cipher import AES
from Crypto.Hash import keccak
from Crypto.Protocol.KDF import scrypt as _scrypt
from eth_utils import to_checksum_address

# geth's accounts/keystore constants: StandardScryptN/P and LightScryptN/P (--lightkdf).
SCRYPT_N_STANDARD: Final = 1 << 18
SCRYPT_P_STANDARD: Final = 1
SCRYPT_N_LIGHT: Final = 1 << 12
SCRYPT_P_LIGHT: Final = 6
SCRYPT_R: Final = 8
DERIVED_KEY_BYTES: Final = 32
SALT_BYTES: Final = 32
IV_BYTES: Final = 16
PRIVATE_KEY_BYTES: Final = 32
ADDRESS_BYTES: Final = 20
KEY_FILE_MODE: Final = 0o600
KEYSTORE_DIR_MODE: Final = 0o700
KEYSTORE_VERSION: Final = 3
CIPHER: Final = "aes-128-ctr"
SECP256K1_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

ERR_DECRYPT: Final = "could not decrypt key with given password"


class KeystoreError(Exception):
    """An expected keystore failure: wrong password, bad file, duplicate or missing key."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class ScryptParams:
    n: int
    r: int
    p: int


def get_scrypt_params(light: bool) -> ScryptParams:
    """The scrypt cost geth uses: standard, or --lightkdf (less memory and CPU)."""
    if light:
        return ScryptParams(n=SCRYPT_N_LIGHT, r=SCRYPT_R, p=SCRYPT_P_LIGHT)
    return ScryptParams(n=SCRYPT_N_STANDARD, r=SCRYPT_R, p=SCRYPT_P_STANDARD)


def compute_address(private_key: bytes) -> bytes:
    """The 20-byte Ethereum address of a secp256k1 private key."""
    validate_private_key(private_key)
    public = coincurve.PrivateKey(private_key).public_key.format(compressed=False)
    return _keccak256(public[1:])[-ADDRESS_BYTES:]


def validate_private_key(private_key: bytes) -> None:
    """Raises KeystoreError unless `private_key` is 32 bytes in 1..n-1 of secp256k1."""
    if not isinstance(private_key, (bytes, bytearray)):
        raise KeystoreError(f"invalid private key: expected bytes, got {type(private_key).__name__}")
    if len(private_key) != PRIVATE_KEY_BYTES:
        raise KeystoreError(
            f"invalid private key: expected {PRIVATE_KEY_BYTES} bytes, got {len(private_key)}"
        )
    value = int.from_bytes(private_key, "big")
    if value == 0:
        raise KeystoreError("invalid private key: zero")
    if value >= SECP256K1_ORDER:
        raise KeystoreError("invalid private key: not below the secp256k1 group order")


def decode_private_key_hex(text: str) -> bytes:
    """A private key from hex text as geth's `account import` reads it (0x prefix allowed).

    Raises:
        KeystoreError: not 64 hex characters, or not a valid secp256k1 key.
    """
    stripped = text.strip()
    digits = stripped[2:] if stripped[:2].lower() == "0x" else stripped
    if len(digits) != 2 * PRIVATE_KEY_BYTES:
        raise KeystoreError(
            f"invalid private key: expected {2 * PRIVATE_KEY_BYTES} hex characters, got {len(digits)}"
        )
    try:
        private_key = bytes.fromhex(digits)
    except ValueError:
        raise KeystoreError("invalid private key: not hexadecimal") from None
    validate_private_key(private_key)
    return private_key


def compute_key_file_name(address: bytes, now_ns: int) -> str:
    """geth's key file name: ``UTC--2016-03-22T12-57-55.920751759Z--<address hex>``."""
    seconds, nanos = divmod(now_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
    return f"UTC--{stamp}.{nanos:09d}Z--{address.hex()}"


def encode_key_file(
    private_key: bytes,
    password: str,
    *,
    light: bool = False,
    key_id: str | None = None,
) -> dict[str, Any]:
    """Encrypt `private_key` into a v3 keystore JSON object, laid out as geth writes it."""
    address = compute_address(private_key)
    params = get_scrypt_params(light)
    salt = secrets.token_bytes(SALT_BYTES)
    iv = secrets.token_bytes(IV_BYTES)
    derived = _derive_scrypt(_encode_password(password), salt, params.n, params.r, params.p)
    ciphertext = _aes_128_ctr(derived[:16], iv, private_key)
    return {
        "address": address.hex(),
        "crypto": {
            "cipher": CIPHER,
            "ciphertext": ciphertext.hex(),
            "cipherparams": {"iv": iv.hex()},
            "kdf": "scrypt",
            "kdfparams": {
                "dklen": DERIVED_KEY_BYTES,
                "n": params.n,
                "p": params.p,
                "r": params.r,
                "salt": salt.hex(),
            },
            "mac": _keccak256(derived[16:32] + ciphertext).hex(),
        },
        "id": key_id or str(uuid.uuid4()),
        "version": KEYSTORE_VERSION,
    }


def decode_key_file(key_json: Any, password: str) -> bytes:
    """Decrypt a v3 keystore JSON object (scrypt or pbkdf2) to its 32-byte private key.

    Raises:
        KeystoreError: the object is malformed or unsupported (the message names the
            field), the password is wrong, or the key it holds is not the one its
            `address` field names.
    """
    if not isinstance(key_json, dict):
        raise KeystoreError("invalid keystore file: expected a JSON object")
    key_json = _lowercase_keys(key_json)
    version = key_json.get("version")
    if version is None:
        raise KeystoreError("invalid keystore file: missing field 'version'")
    if version != KEYSTORE_VERSION:
        raise KeystoreError(f"unsupported keystore version: {version!r} (only 3 is supported)")
    crypto = _get_field(key_json, "crypto", dict, "")
    cipher = _get_field(crypto, "cipher", str, "crypto.")
    if cipher != CIPHER:
        raise KeystoreError(f"unsupported cipher: {cipher!r} (only {CIPHER} is supported)")
    cipherparams = _get_field(crypto, "cipherparams", dict, "crypto.")
    iv = _get_hex_field(cipherparams, "iv", "crypto.cipherparams.", length=IV_BYTES)
    ciphertext = _get_hex_field(crypto, "ciphertext", "crypto.")
    if not ciphertext or len(ciphertext) > PRIVATE_KEY_BYTES:
        raise KeystoreError(
            f"invalid keystore file: crypto.ciphertext must be 1 to {PRIVATE_KEY_BYTES} bytes"
        )
    mac = _get_hex_field(crypto, "mac", "crypto.", length=32)
    derived = _derive_key(crypto, _encode_password(password))
    if not hmac.compare_digest(_keccak256(derived[16:32] + ciphertext), mac):
        raise KeystoreError(ERR_DECRYPT)
    plain = _aes_128_ctr(derived[:16], iv, ciphertext)
    # Old geth versions wrote keys with leading zero bytes dropped; geth still reads them.
    private_key = plain.rjust(PRIVATE_KEY_BYTES, b"\x00")
    try:
        validate_private_key(private_key)
    except KeystoreError as err:
        raise KeystoreError(f"invalid keystore file: {err}") from None
    named = _decode_address_field(key_json)
    actual = compute_address(private_key)
    if named is not None and named != actual:
        raise KeystoreError(
            f"key content mismatch: file names address {to_checksum_address(named)}, "
            f"key is {to_checksum_address(actual)}"
        )
    return private_key


class Keystore:
    """A directory of v3 key files, one per account, named and protected as geth does."""

    def __init__(self, directory: Path, *, light: bool = False) -> None:
        self._directory = Path(directory)
        self._light = light

    @property
    def directory(self) -> Path:
        return self._directory

    def new(self, password: str) -> bytes:
        """Generate a random key, store it encrypted with `password`, return its address."""
        while True:
            private_key = secrets.token_bytes(PRIVATE_KEY_BYTES)
            if 0 < int.from_bytes(private_key, "big") < SECP256K1_ORDER:
                break
        return self.import_key(private_key, password)

    def import_key(self, private_key: bytes, password: str) -> bytes:
        """Store a raw private key encrypted with `password`; return its address.

        Raises:
            KeystoreError: invalid key, the address is already in the keystore, or the
                file cannot be written.
        """
        validate_private_key(private_key)
        self._save(private_key, password, key_id=None)
        return compute_address(private_key)

    def import_file(self, path: Path, password: str) -> bytes:
        """Check a v3 keystore file from elsewhere opens with `password`, store a copy.

        The copy is re-encrypted with the same password under this keystore's scrypt
        cost and keeps the file's `id`. Returns the address.

        Raises:
            KeystoreError: unreadable or malformed file, wrong password, or the address is
                already in the keystore.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise KeystoreError(f"could not read keystore file {path}: {err}", path=path) from None
        try:
            key_json = json.loads(text)
        except json.JSONDecodeError as err:
            raise KeystoreError(
                f"invalid keystore file {path}: not JSON ({err})", path=path
            ) from None
        private_key = decode_key_file(key_json, password)
        key_id = key_json.get("id") if isinstance(key_json, dict) else None
        if not _is_uuid(key_id):
            key_id = None
        self._save(private_key, password, key_id=key_id)
        return compute_address(private_key)

    def list(self) -> list[tuple[bytes, Path]]:
        """All (address, key file) pairs, sorted by file name.

        Like geth, hidden files, editor backups (``*~``), directories and files that are
        not keystore JSON with an `address` field are skipped.
        """
        try:
            entries = list(os.scandir(self._directory))
        except FileNotFoundError:
            return []
        except OSError as err:
            raise KeystoreError(
                f"could not read keystore directory {self._directory}: {err.strerror}",
                path=self._directory,
            ) from None
        accounts = []
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith(".") or entry.name.endswith("~"):
                continue
            if not entry.is_file(follow_symlinks=True):
                continue
            address = _load_address(Path(entry.path))
            if address is not None:
                accounts.append((address, Path(entry.path)))
        return accounts

    def has_address(self, address: bytes) -> bool:
        return any(found == address for found, _ in self.list())

    def find(self, address: bytes) -> Path:
        """The key file holding `address`.

        Raises:
            KeystoreError: no file, or several files, hold the address.
        """
        matches = [path for found, path in self.list() if found == address]
        if not matches:
            raise KeystoreError(f"no key for given address: {_show(address)}")
        if len(matches) > 1:
            names = ", ".join(str(p) for p in matches)
            raise KeystoreError(f"multiple keys match address {_show(address)}: {names}")
        return matches[0]

    def unlock(self, address: bytes, password: str) -> bytes:
        """Decrypt and return the private key of `address`.

        Raises:
            KeystoreError: no such account, wrong password, or a broken key file.
        """
        path = self.find(address)
        try:
            key_json = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise KeystoreError(f"could not read key file {path}: {err}", path=path) from None
        private_key = decode_key_file(key_json, password)
        if compute_address(private_key) != address:
            raise KeystoreError(f"key content mismatch in {path}", path=path)
        return private_key

    def _save(self, private_key: bytes, password: str, *, key_id: str | None) -> Path:
        address = compute_address(private_key)
        if self.has_address(address):
            raise KeystoreError(f"account already exists: {_show(address)}")
        key_json = encode_key_file(private_key, password, light=self._light, key_id=key_id)
        content = json.dumps(key_json, separators=(",", ":")).encode()
        name = compute_key_file_name(address, time.time_ns())
        try:
            return _write_private_file(self._directory, name, content)
        except OSError as err:
            raise KeystoreError(
                f"could not write key file to {self._directory}: {err.strerror}",
                path=self._directory,
            ) from None


def _write_private_file(directory: Path, name: str, content: bytes) -> Path:
    """Write `content` to directory/name, mode 0600, atomically (temp file + rename)."""
    if not directory.is_dir():
        os.makedirs(directory, mode=KEYSTORE_DIR_MODE, exist_ok=True)
        os.chmod(directory, KEYSTORE_DIR_MODE)  # mode= is masked by the umask
    # A leading dot keeps the half-written file out of list().
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), KEY_FILE_MODE)
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        target = directory / name
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def _load_address(path: Path) -> bytes | None:
    try:
        key_json = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(key_json, dict):
        return None
    try:
        return _decode_address_field(_lowercase_keys(key_json))
    except KeystoreError:
        return None


def _decode_address_field(key_json: dict[str, Any]) -> bytes | None:
    value = key_json.get("address")
    if value is None:
        return None
    if not isinstance(value, str):
        raise KeystoreError("invalid keystore file: field 'address' must be a hex string")
    digits = value[2:] if value[:2].lower() == "0x" else value
    try:
        address = bytes.fromhex(digits)
    except ValueError:
        raise KeystoreError("invalid keystore file: field 'address' is not hex") from None
    if len(address) != ADDRESS_BYTES or address == bytes(ADDRESS_BYTES):
        raise KeystoreError("invalid keystore file: field 'address' is not a 20-byte address")
    return address


def _derive_key(crypto: dict[str, Any], password: bytes) -> bytes:
    kdf = _get_field(crypto, "kdf", str, "crypto.")
    params = _get_field(crypto, "kdfparams", dict, "crypto.")
    where = "crypto.kdfparams."
    salt = _get_hex_field(params, "salt", where)
    dklen = _get_int_field(params, "dklen", where)
    if dklen < DERIVED_KEY_BYTES:
        raise KeystoreError(f"invalid keystore file: {where}dklen must be at least 32")
    if kdf == "scrypt":
        n = _get_int_field(params, "n", where)
        r = _get_int_field(params, "r", where)
        p = _get_int_field(params, "p", where)
        if n < 2 or n & (n - 1):
            raise KeystoreError(f"invalid keystore file: {where}n must be a power of 2 above 1")
        return _derive_scrypt(password, salt, n, r, p, dklen)
    if kdf == "pbkdf2":
        prf = _get_field(params, "prf", str, where)
        if prf != "hmac-sha256":
            raise KeystoreError(f"unsupported PBKDF2 PRF: {prf!r} (only hmac-sha256 is supported)")
        c = _get_int_field(params, "c", where)
        return hashlib.pbkdf2_hmac("sha256", password, salt, c, dklen)
    raise KeystoreError(f"unsupported key derivation function: {kdf!r}")


def _derive_scrypt(
    password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int = DERIVED_KEY_BYTES
) -> bytes:
    try:
        return _scrypt(password, salt, dklen, N=n, r=r, p=p)
    except (ValueError, MemoryError) as err:
        raise KeystoreError(f"invalid keystore file: bad scrypt parameters ({err})") from None


def _aes_128_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    # The whole 16-byte IV is the initial big-endian counter block, as in geth and ethers.
    return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(data)


def _keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def _encode_password(password: str) -> bytes:
    # surrogateescape gives back the exact bytes of a password file that is not UTF-8.
    return password.encode("utf-8", "surrogateescape")


def _lowercase_keys(obj: dict[str, Any]) -> dict[str, Any]:
    # geth (Go's encoding/json) and eth-keyfile match field names case-insensitively
    # ("Crypto" in files from old clients).
    return {
        (k.lower() if isinstance(k, str) else k): (_lowercase_keys(v) if isinstance(v, dict) else v)
        for k, v in obj.items()
    }


def _get_field(obj: dict[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in obj:
        raise KeystoreError(f"invalid keystore file: missing field '{where}{name}'")
    value = obj[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise KeystoreError(
            f"invalid keystore file: field '{where}{name}' must be a JSON {_JSON_KINDS[kind]}"
        )
    return value


def _get_int_field(obj: dict[str, Any], name: str, where: str) -> int:
    value = _get_field(obj, name, int, where)
    if value < 1:
        raise KeystoreError(f"invalid keystore file: field '{where}{name}' must be positive")
    return value


def _get_hex_field(obj: dict[str, Any], name: str, where: str, *, length: int | None = None) -> bytes:
    text = _get_field(obj, name, str, where)
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        value = bytes.fromhex(digits)
    except ValueError:
        raise KeystoreError(f"invalid keystore file: field '{where}{name}' is not hex") from None
    if length is not None and len(value) != length:
        raise KeystoreError(
            f"invalid keystore file: field '{where}{name}' must be {length} bytes, got {len(value)}"
        )
    return value


_JSON_KINDS: Final = {dict: "object", str: "string", int: "integer"}


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _show(address: bytes) -> str:
    return to_checksum_address(address)
