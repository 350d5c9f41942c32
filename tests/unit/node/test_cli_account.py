"""`chameleon account new|list|import`, run in-process through node.cli.main."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from node import cli, cli_account
from node.keystore import Keystore

PASSWORD = "s3cret pass"
KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

NEW_OUTPUT = re.compile(
    r"^Public address of the key:   (0x[0-9a-fA-F]{40})\n"
    r"Path of the secret key file: (/\S+)$",
    re.MULTILINE,
)
LIST_LINE = re.compile(r"^Account #(\d+): \{([0-9a-f]{40})\} keystore://(/\S+)$")


@pytest.fixture(autouse=True)
def no_ambient_keystore(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never touch the real ~/.chameleon, whatever the environment says."""
    monkeypatch.delenv(cli_account.KEYSTORE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def keystore_dir(tmp_path: Path) -> Path:
    return tmp_path / "keystore"


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password.txt"
    path.write_text(PASSWORD + "\nsecond line is ignored\n")
    return path


class PromptLog(list):
    answers: list[str]


@pytest.fixture
def getpass_answers(monkeypatch: pytest.MonkeyPatch) -> PromptLog:
    """Set `.answers` to what the user types; the log records the prompts shown."""
    log = PromptLog()
    log.answers = []

    def fake_getpass(prompt: str = "Password: ", stream=None) -> str:
        log.append(prompt)
        if not log.answers:
            raise EOFError
        return log.answers.pop(0)

    monkeypatch.setattr(cli_account.getpass, "getpass", fake_getpass)
    return log


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["account", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def new_account(capsys, keystore_dir: Path, password_file: Path) -> tuple[str, Path]:
    code, out, err = run(
        capsys, "new", "--keystore", str(keystore_dir), "--password-file", str(password_file), "--lightkdf"
    )
    assert (code, err) == (0, "")
    address, path = NEW_OUTPUT.search(out).groups()
    return address, Path(path)


# --- new --------------------------------------------------------------------------------


def test_new_with_password_file(capsys, keystore_dir: Path, password_file: Path) -> None:
    address, path = new_account(capsys, keystore_dir, password_file)

    assert address == to_checksum_address(address)
    assert path.parent == keystore_dir
    assert path.name.endswith("--" + address[2:].lower())
    key_json = json.loads(path.read_text())
    assert key_json["crypto"]["kdfparams"]["n"] == 4096  # --lightkdf
    private_key = bytes(Account.decrypt(key_json, PASSWORD))  # first line of the file only
    assert Account.from_key(private_key).address == address


def test_new_prompts_twice(capsys, keystore_dir: Path, getpass_answers: PromptLog) -> None:
    getpass_answers.answers = [PASSWORD, PASSWORD]

    code, out, err = run(capsys, "new", "--keystore", str(keystore_dir), "--lightkdf")

    assert (code, err) == (0, "")
    assert [p.strip() for p in getpass_answers] == ["Password:", "Repeat password:"]
    assert "Your new account is locked with a password" in out
    address, path = NEW_OUTPUT.search(out).groups()
    assert Account.from_key(Account.decrypt(json.loads(Path(path).read_text()), PASSWORD)).address == address


def test_new_refuses_mismatched_passwords(capsys, keystore_dir: Path, getpass_answers: PromptLog) -> None:
    getpass_answers.answers = [PASSWORD, PASSWORD + "x"]

    code, out, err = run(capsys, "new", "--keystore", str(keystore_dir), "--lightkdf")

    assert code == 1
    assert err == "Fatal: Passwords do not match\n"
    assert not keystore_dir.exists()


def test_new_without_input(capsys, keystore_dir: Path, getpass_answers: PromptLog) -> None:
    code, _, err = run(capsys, "new", "--keystore", str(keystore_dir), "--lightkdf")
    assert code == 1
    assert err.startswith("Fatal: Failed to read password")


def test_new_missing_password_file(capsys, keystore_dir: Path, tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "new", "--keystore", str(keystore_dir), "--password-file", str(tmp_path / "nope")
    )
    assert code == 1
    assert err.startswith("Fatal: Failed to read password file ")
    assert "Traceback" not in err


def test_default_keystore_from_environment(
    capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, password_file: Path
) -> None:
    env_dir = tmp_path / "from-env"
    monkeypatch.setenv(cli_account.KEYSTORE_ENV, str(env_dir))

    code, out, _ = run(capsys, "new", "--password-file", str(password_file), "--lightkdf")

    assert code == 0
    _, path = NEW_OUTPUT.search(out).groups()
    assert Path(path).parent == env_dir


def test_default_keystore_in_home(capsys, tmp_path: Path, password_file: Path) -> None:
    code, out, _ = run(capsys, "new", "--password-file", str(password_file), "--lightkdf")

    assert code == 0
    _, path = NEW_OUTPUT.search(out).groups()
    assert Path(path).parent == tmp_path / "home" / ".chameleon" / "keystore"


# --- list -------------------------------------------------------------------------------


def test_list_empty(capsys, keystore_dir: Path) -> None:
    assert run(capsys, "list", "--keystore", str(keystore_dir)) == (0, "", "")


def test_list_prints_geth_lines(capsys, keystore_dir: Path, password_file: Path) -> None:
    created = [new_account(capsys, keystore_dir, password_file) for _ in range(2)]

    code, out, err = run(capsys, "list", "--keystore", str(keystore_dir))

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 2
    parsed = [LIST_LINE.match(line).groups() for line in lines]
    assert [int(i) for i, _, _ in parsed] == [0, 1]
    assert sorted((a, Path(p)) for _, a, p in parsed) == sorted(
        (a[2:].lower(), p) for a, p in created
    )
    assert [p for _, _, p in parsed] == sorted(p for _, _, p in parsed)


# --- import -----------------------------------------------------------------------------


def test_import_hex_key(capsys, keystore_dir: Path, password_file: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key.hex"
    key_file.write_text(KEY.hex() + "\n")

    code, out, err = run(
        capsys, "import", "--keystore", str(keystore_dir), "--password-file", str(password_file),
        "--lightkdf", str(key_file),
    )

    assert (code, err) == (0, "")
    address, path = NEW_OUTPUT.search(out).groups()
    assert address == ADDRESS
    assert bytes(Account.decrypt(json.loads(Path(path).read_text()), PASSWORD)) == KEY


def test_import_hex_key_prompts_twice(
    capsys, keystore_dir: Path, tmp_path: Path, getpass_answers: PromptLog
) -> None:
    key_file = tmp_path / "key.hex"
    key_file.write_text("0x" + KEY.hex())
    getpass_answers.answers = [PASSWORD, PASSWORD]

    code, out, _ = run(capsys, "import", "--keystore", str(keystore_dir), "--lightkdf", str(key_file))

    assert code == 0
    assert [p.strip() for p in getpass_answers] == ["Password:", "Repeat password:"]
    assert ADDRESS in out


def test_import_eth_account_keystore(capsys, keystore_dir: Path, password_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "exported.json"
    source.write_text(json.dumps(Account.encrypt(KEY, PASSWORD, kdf="scrypt", iterations=4096)))

    code, out, err = run(
        capsys, "import", "--keystore", str(keystore_dir), "--password-file", str(password_file),
        "--lightkdf", str(source),
    )

    assert (code, err) == (0, "")
    address, path = NEW_OUTPUT.search(out).groups()
    assert address == ADDRESS
    assert Path(path) != source and Path(path).parent == keystore_dir
    assert Keystore(keystore_dir).unlock(bytes.fromhex(ADDRESS[2:]), PASSWORD) == KEY


def test_import_keystore_prompts_once(
    capsys, keystore_dir: Path, tmp_path: Path, getpass_answers: PromptLog
) -> None:
    source = tmp_path / "exported.json"
    source.write_text(json.dumps(Account.encrypt(KEY, PASSWORD, kdf="pbkdf2", iterations=1000)))
    getpass_answers.answers = [PASSWORD]

    code, out, _ = run(capsys, "import", "--keystore", str(keystore_dir), "--lightkdf", str(source))

    assert code == 0
    assert [p.strip() for p in getpass_answers] == ["Password:"]
    assert ADDRESS in out


def test_import_keystore_wrong_password(capsys, keystore_dir: Path, password_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "exported.json"
    source.write_text(json.dumps(Account.encrypt(KEY, "other", kdf="scrypt", iterations=4096)))

    code, out, err = run(
        capsys, "import", "--keystore", str(keystore_dir), "--password-file", str(password_file), str(source)
    )

    assert (code, out) == (1, "")
    assert err == "Fatal: could not decrypt key with given password\n"


def test_import_duplicate(capsys, keystore_dir: Path, password_file: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key.hex"
    key_file.write_text(KEY.hex())
    argv = ["import", "--keystore", str(keystore_dir), "--password-file", str(password_file),
            "--lightkdf", str(key_file)]
    assert run(capsys, *argv)[0] == 0

    code, _, err = run(capsys, *argv)

    assert code == 1
    assert err == f"Fatal: account already exists: {ADDRESS}\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not a key", "Fatal: Failed to load the private key from "),
        ('{"crypto": ', "Fatal: invalid keystore file "),
        ('{"version": 3}', "Fatal: invalid keystore file: missing field 'crypto'"),
    ],
    ids=["bad-hex", "bad-json", "no-crypto"],
)
def test_import_malformed(capsys, keystore_dir: Path, password_file: Path, tmp_path: Path, content, message) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(content)

    code, _, err = run(
        capsys, "import", "--keystore", str(keystore_dir), "--password-file", str(password_file), str(key_file)
    )

    assert code == 1
    assert err.startswith(message)
    assert "Traceback" not in err


def test_import_missing_key_file(capsys, keystore_dir: Path, password_file: Path, tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "import", "--keystore", str(keystore_dir), "--password-file", str(password_file),
        str(tmp_path / "absent"),
    )
    assert code == 1
    assert err.startswith("Fatal: Failed to read key file ")


# --- help -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["new", "list", "import", "Web3 Secret Storage", "Manage accounts in the encrypted keystore"]),
        (["new"], ["--keystore", "--password-file", "--lightkdf", "Creates a new account"]),
        (["list"], ["--keystore", "Account #0:"]),
        (["import"], ["KEYFILE", "--password-file", "--lightkdf", "hexadecimal", "v3 keystore JSON"]),
    ],
)
def test_help(capsys, argv: list[str], expected: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["account", *argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


def test_account_without_subcommand_prints_help(capsys) -> None:
    code, out, _ = run(capsys)
    assert code == 2
    assert "new" in out and "import" in out


def test_console_script_account_help() -> None:
    script = Path(sys.executable).parent / "chameleon"
    result = subprocess.run(
        [str(script), "account", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Manage accounts" in result.stdout
    for command in ("new", "list", "import"):
        assert command in result.stdout
