"""`doorbell`: the server's command line (serve, init-config, relay, migrate, user, demo)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from api.config import Settings, generate_config
from api.errors import ConfigError
from api.logs import configure as configure_logging
from api.private import UnsafePath, private_dir, write_private
from common.settings import EXIT_CONFIG, settings_or_exit

if TYPE_CHECKING:
    from uvicorn import Server

    from api.accounts.users import Users
    from api.http.tls import ServerTls
    from api.state import StateClaim

logger = logging.getLogger(__name__)

# Exit statuses of `doorbell serve` (docs/deploy.md has the table): 0 stopped, 1 failed
# (a supervised loop died, or start-up failed), 2 bad configuration (EXIT_CONFIG), 3 the
# HTTP port could not be bound (uvicorn's), 4 another server holds this state.
EXIT_FATAL = 1
EXIT_IN_USE = 4
# Everything a server makes (database, media, buffer segments written by ffmpeg, nginx's
# files) is its user's alone, whatever umask it was started with.
PRIVATE_UMASK = 0o077
T = TypeVar("T")


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Files made inside (a new database) are 0600 and directories 0700; the umask is put
    back after (these commands also run inside tests)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def _settings_or_exit(config: Path | None, **overrides: object) -> Settings:
    return settings_or_exit("doorbell", Settings, config, **overrides)


def _serve(args: argparse.Namespace) -> int:
    from api.http.tls import ServerTls

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
    try:
        tls, settings = ServerTls.build(settings)
    except ConfigError as exc:
        print(f"doorbell: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    os.umask(PRIVATE_UMASK)  # for the server's life: its children inherit it
    claim = _claim_or_exit(settings)
    try:
        return _run_server(settings, claim, tls)
    finally:
        claim.release()


def _claim_or_exit(settings: Settings) -> StateClaim:
    """The server's claim on its state directories (`api.state`), or a message and exit
    status 4 (another server holds them) or 2 (a directory that is not safely ours)."""
    from api.private import InUse
    from api.state import claim_state

    try:
        return claim_state(settings)
    except InUse as exc:
        print(f"doorbell: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_IN_USE) from None
    except UnsafePath as exc:
        print(f"doorbell: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def _run_server(settings: Settings, claim: StateClaim, tls: ServerTls | None) -> int:
    from api.app import create_app
    from api.http.server import build_server
    from api.http.tls import uvicorn_options

    fatal: list[str] = []
    server: Server | None = None

    def on_fatal(name: str, exc: BaseException) -> None:
        fatal.append(name)
        logger.critical("%s died (%s); shutting down so the service manager restarts us", name, exc)
        if server is not None:
            server.should_exit = True

    app = create_app(settings, on_fatal=on_fatal, state=claim)
    server = build_server(app, settings, uvicorn_options(settings, tls))
    asyncio.run(server.serve() if tls is None else tls.serve(server, server.serve()))
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
    write_private(args.path, text)  # 0600, also over an existing file (--force)
    settings = _settings_or_exit(args.path)  # what we wrote must load
    print(f"doorbell: wrote {args.path}")
    if settings.push.web_push:
        from api.push.vapid import load_or_create_key

        try:
            private_dir(settings.vapid_key_file.parent)  # the data directory, 0700
            load_or_create_key(settings.vapid_key_file)
        except (ConfigError, UnsafePath) as exc:
            print(f"doorbell: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        print(f"doorbell: the Web Push (VAPID) key is {settings.vapid_key_file.resolve()}")
    return 0


def _relay(args: argparse.Namespace) -> int:
    from api.relay.process import Relay

    settings = _settings_or_exit(args.config)
    os.umask(PRIVATE_UMASK)  # nginx's files (logs, temp) are the relay user's alone

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
        with private_files():
            asyncio.run(upgrade(settings.database))
    except StoreError as exc:
        print(f"doorbell migrate: {exc}", file=sys.stderr)
        return EXIT_FATAL
    print("doorbell migrate: the database schema is current")
    return 0


class _Refused(Exception):
    """A user command cannot go on: the message, and the exit status (2: bad input)."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        self.code = code
        super().__init__(message)


def _read_password(args: argparse.Namespace) -> str:
    """The new password: one line of stdin with --password-stdin, else asked for twice."""
    if args.password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise _Refused("no password on stdin (one line expected)")
        return password
    try:
        first = getpass.getpass(f"New password for {args.name}: ")
        second = getpass.getpass("The same password again: ")
    except EOFError:
        raise _Refused("no password given") from None
    if first != second:
        raise _Refused("the two passwords differ; nothing changed")
    return first


def _with_users(args: argparse.Namespace, work: Callable[[Users], Awaitable[T]]) -> T:
    """Run `work` on the users of the configured database; domain refusals and store
    failures become `_Refused` (2: a name or password outside the rules; 1: the rest)."""
    from api.accounts.passwords import Passwords
    from api.accounts.users import Users
    from api.errors import BadRequest, Conflict, NotFound
    from api.store import Database, StoreError

    settings = _settings_or_exit(args.config)

    async def run() -> T:
        db = await Database.open(settings.database)
        try:
            return await work(Users(db.users, db.sessions, Passwords()))
        finally:
            await db.aclose()

    try:
        with private_files():
            return asyncio.run(run())
    except BadRequest as exc:
        raise _Refused(str(exc)) from exc
    except (Conflict, NotFound, StoreError) as exc:
        raise _Refused(str(exc), EXIT_FATAL) from exc


def _user_add(args: argparse.Namespace) -> str:
    from api.accounts.passwords import check_name

    name = check_name(args.name)  # before asking for a password
    password = _read_password(args)
    user = _with_users(args, lambda users: users.add(name, password))
    return f"added user {user.name!r}; they can sign in now"


def _user_list(args: argparse.Namespace) -> str:
    found = _with_users(args, lambda users: users.all())
    if not found:
        return "no users yet: add one with `doorbell user add NAME --config FILE`"

    def day(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")

    return "\n".join(
        f"{u.name}\tadded {day(u.created_ms)}\tpassword set {day(u.password_changed_ms)}"
        for u in found
    )


def _user_remove(args: argparse.Namespace) -> str:
    from api.accounts.passwords import normalize_name

    name = normalize_name(args.name)
    if not _with_users(args, lambda users: users.remove(name)):
        raise _Refused(f"no user {name!r}", EXIT_FATAL)
    return f"removed user {name!r} with their sessions and API tokens"


def _user_passwd(args: argparse.Namespace) -> str:
    from api.accounts.passwords import check_name

    name = check_name(args.name)
    password = _read_password(args)
    ended = _with_users(args, lambda users: users.set_password(name, password))
    return f"changed the password of {name!r}; {ended} session(s) ended"


def _user(args: argparse.Namespace) -> int:
    from api.errors import BadRequest

    prog = f"doorbell user {args.action}"
    # Opening the database runs the migrations; their routine INFO lines are noise here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        print(f"{prog}: {args.run(args)}" if args.action != "list" else args.run(args))
    except BadRequest as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except _Refused as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.code
    return 0


def _user_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser(
        "user",
        help="people who sign in to the app: add, list, remove, passwd",
        description="Exit status: 0 done, 2 bad input or config (a name or password outside "
        "the rules, passwords that differ), 1 failed (the name is taken or unknown, the "
        "database failed).",
    )
    actions = user.add_subparsers(dest="action", required=True)
    commands = (
        ("add", _user_add, "add a user (asks for the password twice)"),
        ("list", _user_list, "list the users"),
        ("remove", _user_remove, "remove a user, their sessions and API tokens"),
        ("passwd", _user_passwd, "set a user's password; ends all their sessions"),
    )
    for action, run, text in commands:
        command = actions.add_parser(action, help=text)
        if action != "list":
            command.add_argument("name", help="the user name (case is ignored)")
        if action in {"add", "passwd"}:
            command.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password from one line of standard input",
            )
        command.add_argument("--config", type=Path, help="TOML settings file")
        command.set_defaults(func=_user, run=run)


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

    _user_parser(sub)

    demo = sub.add_parser("demo", help="server + relay + a simulated doorbell, on this machine")
    demo.add_argument("--config", type=Path, default=Path("var/demo.toml"))
    demo.add_argument("--seconds", type=float, default=0, help="stop after N s (0: until Ctrl-C)")
    demo.set_defaults(func=_demo)

    args = parser.parse_args(argv)
    configure_logging(args.log_level)  # no secret in any line, at any level
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
