"""`doorbell-agent`: the doorbell's command line: run, status and ring."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.config import AgentSettings
from common.clock import wall_ms
from common.settings import settings_or_exit

PROG = "doorbell-agent"
EXIT_NOT_RUNNING = 1


def _settings_or_exit(config: Path | None) -> AgentSettings:
    """The settings, or each bad field on stderr and exit status 2."""
    return settings_or_exit(PROG, AgentSettings, config)


def _run(args: argparse.Namespace) -> int:
    from agent.app import run_agent

    settings = _settings_or_exit(args.config)
    if settings.relay_ca_file is not None:
        from agent.errors import TlsSetupError
        from agent.tls import trust_only

        try:
            trust_only(settings.relay_ca_file)
        except TlsSetupError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 2
    return run_agent(settings)


def _status(args: argparse.Namespace) -> int:
    """Print the running agent's status file; exit 1 if the agent is not running."""
    from agent.status import is_fresh, read_status

    settings = _settings_or_exit(args.config)
    status = read_status(settings.status_path)
    if status is None:
        print(f"{PROG}: no status at {settings.status_path}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    running = status.get("agent") == "running" and is_fresh(status, wall_ms())
    status["fresh"] = running
    print(json.dumps(status, indent=2, sort_keys=True))
    return 0 if running else EXIT_NOT_RUNNING


def _ring(args: argparse.Namespace) -> int:
    from agent.button import ring_from_cli

    print(ring_from_cli(_settings_or_exit(args.config)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    config_help = "TOML settings file (env DOORBELL_AGENT_* overrides)"
    run = sub.add_parser("run", help="run the doorbell: stream, motion, button, events")
    run.add_argument("--config", type=Path, help=config_help)
    run.set_defaults(func=_run)
    status = sub.add_parser("status", help="print the running agent's status (JSON)")
    status.add_argument("--config", type=Path, help=config_help)
    status.set_defaults(func=_status)
    ring = sub.add_parser("ring", help="ring the doorbell (as a button press would)")
    ring.add_argument("--config", type=Path, help=config_help)
    ring.set_defaults(func=_ring)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
