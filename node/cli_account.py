"""`chameleon account new|list|import`: geth-style management of the encrypted keystore."""
from __future__ import annotations

import argparse
import functools
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from eth_utils import to_checksum_address

from node.keystore import Keystore, KeystoreError, compute_address, decode_private_key_hex

KEYSTORE_ENV: Final = "CHAMELEON_KEYSTORE"
DEFAULT_KEYSTORE_DIR: Final = Path("~/.chameleon/keystore")

NEW_PASSWORD_NOTICE: Final = (
    "Your new account is locked with a password. Please give a password. "
    "Do not forget this password."
)
# geth prints the address without 0x (`{%x}`); we print 0x + lowercase hex.
LIST_LINE: Final = "Account #{index}: {{{address}}} keystore://{path}"  # geth prints the address without 0x

_KEYSTORE_HELP = f"keystore directory (default: ${KEYSTORE_ENV}, else {DEFAULT_KEYSTORE_DIR})"
_PASSWORD_FILE_HELP = (
    "read the password from the first line of FILE instead of prompting "
    "(for scripts and test networks only)"
)
_LIGHTKDF_HELP = (
    "encrypt with a light scrypt (n=4096, p=6) instead of the standard one "
    "(n=262144, p=1): less memory and CPU, weaker against brute force"
)

_ACCOUNT_DESCRIPTION = """\
Manage accounts in the encrypted keystore: list all existing accounts, import a
private key into a new account, or create a new account.

Keys are stored one per file in the Web3 Secret Storage (v3 keystore) format
used by geth, ethers and eth-account, encrypted with a password (scrypt +
aes-128-ctr). Key files can be copied between Chameleon and those tools; no
import is needed to move an encrypted key file.

Passwords are prompted for interactively, or read from a file given with
--password-file. Non-interactive mode is only meant for scripted use on test
networks or known safe environments.

Make sure you remember the password you gave when creating or importing an
account. Without it you are not able to unlock your account.

Keys are stored under $CHAMELEON_KEYSTORE, else ~/.chameleon/keystore; pick
another directory with --keystore. Make sure you backup your keys regularly."""

_NEW_DESCRIPTION = """\
    chameleon account new

Creates a new account and prints the address.

The account is saved in encrypted format, you are prompted for a password.

You must remember this password to unlock your account in the future.

For non-interactive use the password can be read from a file:

    chameleon account new --password-file FILE

Note, this is meant to be used for testing only, it is a bad idea to save your
password to file or expose in any other way."""

_LIST_DESCRIPTION = """\
Print a short summary of all accounts in the keystore, one per line:

    Account #0: {0x<address>} keystore://<key file>"""

_IMPORT_DESCRIPTION = """\
    chameleon account import KEYFILE

Imports a private key from KEYFILE and creates a new account. Prints the
address.

KEYFILE is either
  - a file holding an unencrypted private key in hexadecimal format (64 hex
    characters, optionally 0x-prefixed), as for geth's `account import`; you
    are prompted for a password to encrypt it with, or
  - a v3 keystore JSON file from another tool (geth, ethers, eth-account);
    you are prompted for its password, the key is checked to decrypt with it,
    and a copy encrypted with the same password is stored.

For non-interactive use the password can be read from a file:

    chameleon account import --password-file FILE KEYFILE

Note:
As you can directly copy your encrypted key files into the keystore directory,
this import mechanism is not needed when you move an account between nodes."""


class _Fatal(Exception):
    """A CLI failure reported as `Fatal: <message>` with exit code 1."""


def add_account_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `account` and its subcommands `new`, `list`, `import`."""
    account = subparsers.add_parser(
        "account",
        help="Manage accounts in the encrypted keystore",
        description=_ACCOUNT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    account.set_defaults(func=functools.partial(_print_help, account))
    commands = account.add_subparsers(dest="account_command", metavar="COMMAND")

    new = commands.add_parser(
        "new",
        help="Create a new account",
        description=_NEW_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_keystore_flag(new)
    _add_password_flags(new)
    new.set_defaults(func=_run_new)

    list_ = commands.add_parser(
        "list",
        help="Print summary of existing accounts",
        description=_LIST_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_keystore_flag(list_)
    list_.set_defaults(func=_run_list)

    import_ = commands.add_parser(
        "import",
        help="Import a private key or a keystore file into a new account",
        description=_IMPORT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_keystore_flag(import_)
    _add_password_flags(import_)
    import_.add_argument(
        "keyfile",
        metavar="KEYFILE",
        type=Path,
        help="file holding a hex private key, or a v3 keystore JSON file",
    )
    import_.set_defaults(func=_run_import)


def get_keystore_dir(option: str | None) -> Path:
    """--keystore, else $CHAMELEON_KEYSTORE, else ~/.chameleon/keystore; made absolute."""
    chosen = option or os.environ.get(KEYSTORE_ENV) or DEFAULT_KEYSTORE_DIR
    return Path(chosen).expanduser().absolute()


def _add_keystore_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keystore", metavar="DIR", help=_KEYSTORE_HELP)


def _add_password_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-file", metavar="FILE", type=Path, help=_PASSWORD_FILE_HELP)
    parser.add_argument("--lightkdf", action="store_true", help=_LIGHTKDF_HELP)


def _fatal_on_error(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    @functools.wraps(run)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (_Fatal, KeystoreError) as err:
            print(f"Fatal: {err}", file=sys.stderr)
            return 1

    return wrapper


def _print_help(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    parser.print_help()
    return 2


@_fatal_on_error
def _run_new(args: argparse.Namespace) -> int:
    keystore = Keystore(get_keystore_dir(args.keystore), light=args.lightkdf)
    password = _get_new_password(args.password_file)
    address = keystore.new(password)
    path = keystore.find(address)
    print("\nYour new key was generated\n")
    _print_key(address, path)
    print()
    print("- You can share your public address with anyone. Others need it to interact with you.")
    print("- You must NEVER share the secret key with anyone! The key controls access to your funds!")
    print("- You must BACKUP your key file! Without the key, it's impossible to access account funds!")
    print("- You must REMEMBER your password! Without the password, it's impossible to decrypt the key!")
    return 0


@_fatal_on_error
def _run_list(args: argparse.Namespace) -> int:
    keystore = Keystore(get_keystore_dir(args.keystore))
    for index, (address, path) in enumerate(keystore.list()):
        print(LIST_LINE.format(index=index, address=address.hex(), path=path))
    return 0


@_fatal_on_error
def _run_import(args: argparse.Namespace) -> int:
    keystore = Keystore(get_keystore_dir(args.keystore), light=args.lightkdf)
    text = _read_text(args.keyfile, "key file")
    if text.lstrip().startswith("{"):
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            raise _Fatal(f"invalid keystore file {args.keyfile}: not JSON ({err})") from None
        password = _get_password(args.password_file)
        address = keystore.import_file(args.keyfile, password)
    else:
        try:
            private_key = decode_private_key_hex(text)
        except KeystoreError as err:
            raise _Fatal(f"Failed to load the private key from {args.keyfile}: {err}") from None
        address = compute_address(private_key)
        if keystore.has_address(address):  # say so before asking for a password
            raise _Fatal(f"account already exists: {to_checksum_address(address)}")
        password = _get_new_password(args.password_file)
        address = keystore.import_key(private_key, password)
    _print_key(address, keystore.find(address))
    return 0


def _print_key(address: bytes, path: Path) -> None:
    print(f"Public address of the key:   {to_checksum_address(address)}")
    print(f"Path of the secret key file: {path}")


def _get_new_password(password_file: Path | None) -> str:
    """A password to encrypt a new key with: from the file, else prompted for twice."""
    if password_file is not None:
        return _load_password_file(password_file)
    print(NEW_PASSWORD_NOTICE)
    password = _prompt("Password: ")
    if _prompt("Repeat password: ") != password:
        raise _Fatal("Passwords do not match")
    return password


def _get_password(password_file: Path | None) -> str:
    """The password of an existing key file: from the file, else prompted for once."""
    if password_file is not None:
        return _load_password_file(password_file)
    return _prompt("Password: ")


def _load_password_file(path: Path) -> str:
    # geth's MakePasswordList: split on "\n", strip a trailing "\r", take the first line.
    return _read_text(path, "password file").split("\n", 1)[0].removesuffix("\r")


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as err:
        raise _Fatal(f"Failed to read {what} {path}: {err.strerror}") from None


def _prompt(prompt: str) -> str:
    try:
        return getpass.getpass(prompt)
    except (EOFError, KeyboardInterrupt):
        raise _Fatal("Failed to read password: no input") from None
