"""`doorbell user ...` through `api.cli.main`: add (prompted twice or from stdin), list,
remove, passwd; clear messages, exit 2 for bad input or config, 1 for failures."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.accounts.limiter import SignInLimiter
from api.accounts.passwords import Passwords
from api.accounts.sessions import Sessions
from api.accounts.users import Users
from api.cli import main
from api.config import generate_config, load_settings
from api.errors import Unauthorized
from api.store import Database

PASSWORD = "correct horse battery"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "doorbell.toml"
    path.write_text(f'data_dir = "{tmp_path / "var"}"\n' + generate_config([("front", "Front")]))
    return path


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the person types at each getpass prompt, in order (the prompts are recorded)."""
    answers: list[str] = []
    asked: list[str] = []

    def getpass(prompt: str = "") -> str:
        asked.append(prompt)
        if not answers:
            raise EOFError
        return answers.pop(0)

    monkeypatch.setattr("getpass.getpass", getpass)
    yield answers
    assert not answers, f"not asked for: {answers} (asked: {asked})"


def user(config: Path, *args: str) -> int:
    return main(["--log-level", "WARNING", "user", *args, "--config", str(config)])


def sign_in(config: Path, name: str, password: str) -> str | None:
    """Sign in with the server's own code on the configured database: the cookie, or None."""

    async def run() -> str | None:
        db = await Database.open(load_settings(config).database)
        try:
            users = Users(db.users, db.sessions, Passwords())
            sessions = Sessions(users, db.sessions, SignInLimiter(), idle_days=1, max_days=1)
            try:
                return (await sessions.sign_in(name, password, None, None)).cookie
            except Unauthorized:
                return None
        finally:
            await db.aclose()

    return asyncio.run(run())


def session_exists(config: Path, cookie: str) -> bool:
    async def run() -> bool:
        db = await Database.open(load_settings(config).database)
        try:
            users = Users(db.users, db.sessions, Passwords())
            sessions = Sessions(users, db.sessions, SignInLimiter(), idle_days=1, max_days=1)
            return await sessions.current(cookie) is not None
        finally:
            await db.aclose()

    return asyncio.run(run())


def test_add_asks_twice_and_the_user_can_sign_in(
    config: Path, prompts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    prompts += [PASSWORD, PASSWORD]
    assert user(config, "add", "Ana") == 0
    assert "added user 'ana'" in capsys.readouterr().out
    assert sign_in(config, "ana", PASSWORD) is not None
    assert sign_in(config, "ana", "not the password") is None


def test_add_reads_one_line_of_stdin(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    assert user(config, "add", "ana", "--password-stdin") == 0
    assert sign_in(config, "ana", PASSWORD) is not None
    assert user(config, "list") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("ana\tadded ")


@pytest.mark.parametrize(
    ("args", "typed", "message"),
    [
        (("add", "ana smith", "--password-stdin"), PASSWORD, "invalid user name 'ana smith'"),
        (("add", "ana", "--password-stdin"), "too short\n", "at least 10 characters"),
        (("add", "ana", "--password-stdin"), "", "no password on stdin"),
        (("add", "ana", "--password-stdin"), "\n", "no password on stdin"),
        (("passwd", "ana", "--password-stdin"), "too short\n", "at least 10 characters"),
    ],
)
def test_bad_input_is_refused_with_exit_2(
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    typed: str,
    message: str,
) -> None:
    if args[0] == "passwd":
        stdin(monkeypatch, PASSWORD + "\n")
        assert user(config, "add", "ana", "--password-stdin") == 0
    stdin(monkeypatch, typed)
    assert user(config, *args) == 2
    err = capsys.readouterr().err
    assert f"doorbell user {args[0]}: " in err
    assert message in err
    if args[0] == "passwd":
        assert sign_in(config, "ana", PASSWORD) is not None  # unchanged


def test_prompts_that_differ_change_nothing(
    config: Path, prompts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    prompts += [PASSWORD, PASSWORD + "!"]
    assert user(config, "add", "ana") == 2
    assert "the two passwords differ" in capsys.readouterr().err
    prompts += [PASSWORD]  # then end of input
    assert user(config, "add", "ana") == 2
    assert "no password given" in capsys.readouterr().err
    assert user(config, "list") == 0
    assert "no users yet" in capsys.readouterr().out


def test_a_taken_name_and_an_unknown_user_are_failures(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    assert user(config, "add", "ana", "--password-stdin") == 0
    stdin(monkeypatch, "another password\n")
    assert user(config, "add", "ANA", "--password-stdin") == 1
    assert "user 'ana' exists already" in capsys.readouterr().err
    assert user(config, "remove", "zed") == 1
    assert "no user 'zed'" in capsys.readouterr().err
    stdin(monkeypatch, "another password\n")
    assert user(config, "passwd", "zed", "--password-stdin") == 1
    assert "unknown user 'zed'" in capsys.readouterr().err
    assert sign_in(config, "ana", PASSWORD) is not None


def test_passwd_sets_the_password_and_ends_the_sessions(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    assert user(config, "add", "ana", "--password-stdin") == 0
    cookie = sign_in(config, "ana", PASSWORD)
    assert cookie is not None
    stdin(monkeypatch, "a brand new password\n")
    assert user(config, "passwd", "Ana", "--password-stdin") == 0
    assert "changed the password of 'ana'; 1 session(s) ended" in capsys.readouterr().out
    assert not session_exists(config, cookie)
    assert sign_in(config, "ana", PASSWORD) is None
    assert sign_in(config, "ana", "a brand new password") is not None


def test_remove_ends_the_users_sessions(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    assert user(config, "add", "ana", "--password-stdin") == 0
    cookie = sign_in(config, "ana", PASSWORD)
    assert cookie is not None
    assert user(config, "remove", "ANA") == 0
    assert "removed user 'ana'" in capsys.readouterr().out
    assert not session_exists(config, cookie)
    assert user(config, "list") == 0
    assert "no users yet" in capsys.readouterr().out


def test_a_missing_or_invalid_config_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as missing:
        user(tmp_path / "nope.toml", "list")
    assert missing.value.code == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('profile = "dev"\n')
    with pytest.raises(SystemExit) as invalid:
        user(bad, "list")
    assert invalid.value.code == 2
    assert "api_tokens" in capsys.readouterr().err
