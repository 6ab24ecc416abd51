"""`doorbell`: the server's command line (serve, init-config, relay, demo)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from api.config import Settings, generate_config
from api.errors import ConfigError
from common.settings import EXIT_CONFIG, settings_or_exit

logger = logging.getLogger(__name__)

EXIT_FATAL = 1


def _settings_or_exit(config: Path | None, **overrides: object) -> Settings:
    return settings_or_exit("doorbell", Settings, config, **overrides)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    settings = _settings_or_exit(args.config, **overrides)
    if args.no_relay:
        settings = settings.model_copy(
            update={"relay": settings.relay.model_copy(update={"enabled": False})}
        )
    fatal: list[str] = []
    server: uvicorn.Server | None = None

    def on_fatal(name: str, exc: BaseException) -> None:
        fatal.append(name)
        logger.critical("%s died (%s); shutting down so the service manager restarts us", name, exc)
        if server is not None:
            server.should_exit = True

    app = create_app(settings, on_fatal=on_fatal)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    asyncio.run(server.serve())
    if fatal:
        return EXIT_FATAL
    return 0 if server.started else EXIT_FATAL


def _init_config(args: argparse.Namespace) -> int:
    if args.path.exists() and not args.force:
        print(f"doorbell: {args.path} exists (use --force to replace it)", file=sys.stderr)
        return EXIT_CONFIG
    cameras = []
    for spec in args.camera or ["front:Front door"]:
        camera_id, _, name = spec.partition(":")
        cameras.append((camera_id, name or camera_id))
    text = generate_config(cameras, profile=args.profile)
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.touch(mode=0o600, exist_ok=True)
    args.path.write_text(text, encoding="utf-8")
    settings = _settings_or_exit(args.path)  # what we wrote must load
    print(f"doorbell: wrote {args.path}")
    if settings.push.web_push:
        from api.push.vapid import load_or_create_key

        try:
            load_or_create_key(settings.vapid_key_file)
        except ConfigError as exc:
            print(f"doorbell: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        print(f"doorbell: the Web Push (VAPID) key is {settings.vapid_key_file.resolve()}")
    return 0


def _relay(args: argparse.Namespace) -> int:
    from api.relay.process import Relay

    settings = _settings_or_exit(args.config)

    async def run() -> None:
        await Relay(settings).run()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # the relay ended: say why, exit non-zero for the service manager
        print(f"doorbell relay: {exc}", file=sys.stderr)
        return EXIT_FATAL
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from api.store import StoreError, upgrade

    settings = _settings_or_exit(args.config)
    try:
        asyncio.run(upgrade(settings.database))
    except StoreError as exc:
        print(f"doorbell migrate: {exc}", file=sys.stderr)
        return EXIT_FATAL
    print("doorbell migrate: the database schema is current")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from api.tools.demo import run_demo

    return run_demo(args.config, args.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="doorbell", description=__doc__)
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (API, segmenters, and the relay)")
    serve.add_argument("--config", type=Path, help="TOML settings file (env DOORBELL_* overrides)")
    serve.add_argument("--no-relay", action="store_true", help="use an external nginx-rtmp relay")
    serve.add_argument("--host", help="HTTP listen address")
    serve.add_argument("--port", type=int, help="HTTP listen port")
    serve.set_defaults(func=_serve)

    init = sub.add_parser("init-config", help="write a config file with random secrets")
    init.add_argument("path", type=Path)
    init.add_argument("--camera", action="append", metavar="ID[:NAME]", help="repeatable")
    init.add_argument("--profile", choices=["dev", "prod"], default="prod")
    init.add_argument("--force", action="store_true")
    init.set_defaults(func=_init_config)

    relay = sub.add_parser("relay", help="run only the nginx-rtmp relay (for compose)")
    relay.add_argument("--config", type=Path)
    relay.set_defaults(func=_relay)

    migrate = sub.add_parser(
        "migrate", help="bring the event database's schema up to date (serve does it too)"
    )
    migrate.add_argument("--config", type=Path)
    migrate.set_defaults(func=_migrate)

    demo = sub.add_parser("demo", help="server + relay + a simulated doorbell, on this machine")
    demo.add_argument("--config", type=Path, default=Path("var/demo.toml"))
    demo.add_argument("--seconds", type=float, default=0, help="stop after N s (0: until Ctrl-C)")
    demo.set_defaults(func=_demo)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic announces each of its plugins at INFO on every start.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
