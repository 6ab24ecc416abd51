"""Loading a service's settings: a TOML file, then `PREFIX_*` environment variables, then
explicit overrides; and the command-line way of refusing bad ones (exit status 2)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

EXIT_CONFIG = 2

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(cls: type[SettingsT], config_file: Path | None, **overrides: object) -> SettingsT:
    """`cls` from `config_file` (TOML, optional), then env, then `overrides` (highest)."""

    class _FromFile(cls):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
            if config_file is not None:
                sources += (TomlConfigSettingsSource(settings_cls, toml_file=config_file),)
            return sources

    _FromFile.__name__ = cls.__name__
    _FromFile.__qualname__ = cls.__qualname__
    settings: SettingsT = _FromFile(**overrides)
    return settings


def settings_or_exit(
    prog: str, cls: type[SettingsT], config_file: Path | None, **overrides: object
) -> SettingsT:
    """The settings, or a message naming each bad field on stderr and SystemExit(2)."""
    if config_file is not None and not config_file.is_file():
        print(f"{prog}: config file {config_file} does not exist", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    try:
        return load_settings(cls, config_file, **overrides)
    except ValidationError as exc:
        print(f"{prog}: invalid configuration ({exc.error_count()} error(s)):", file=sys.stderr)
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            print(f"  {where}: {error['msg']}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
