"""Settings from a TOML file, the environment and overrides; bad ones exit 2 naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.settings import EXIT_CONFIG, load_settings, settings_or_exit


class Demo(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="forbid", frozen=True)

    name: str = "x"
    port: int = Field(default=1, ge=1, le=65535)


def test_file_then_env_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "demo.toml"
    config.write_text('name = "from-file"\nport = 10\n', encoding="utf-8")
    assert load_settings(Demo, config).name == "from-file"
    monkeypatch.setenv("DEMO_NAME", "from-env")
    assert load_settings(Demo, config).name == "from-env"
    loaded = load_settings(Demo, config, name="override")
    assert (loaded.name, loaded.port) == ("override", 10)
    assert isinstance(loaded, Demo)


def test_bad_settings_exit_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "demo.toml"
    config.write_text("port = 70000\nsurprise = 1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        settings_or_exit("demo", Demo, config)
    assert exited.value.code == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "demo: invalid configuration (2 error(s))" in err
    assert "port:" in err
    assert "surprise:" in err


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        settings_or_exit("demo", Demo, tmp_path / "nope.toml")
    assert exited.value.code == EXIT_CONFIG
    assert "does not exist" in capsys.readouterr().err
