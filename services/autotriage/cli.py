"""The ``autotriage`` command: serve one stage, run all five, manage topics, run simulators, demo, eval."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from autotriage.core import egress
from autotriage.core.errors import ConfigError
from autotriage.core.logs import configure_logging
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.stages import NAMES

log = logging.getLogger("autotriage")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    for name in ("bus", "tenants_file", "kafka_bootstrap_servers", "http_port", "partitions"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            problems.append(f"AUTOTRIAGE_{name.upper()} (or its command-line option): {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from exc


async def _serve(settings: Settings, stages: Sequence[str], create_topics: bool) -> int:
    from autotriage.app import build_host  # noqa: PLC0415 - the CLI loads a command's modules only when it runs
    from autotriage.core import metrics  # noqa: PLC0415 - the CLI loads a command's modules only when it runs
    from autotriage.core.bus.topics import Topics  # noqa: PLC0415 - the CLI loads a command's modules only when it runs

    metrics.BUILD_INFO.info({"version": _version()})
    tenants = load_tenants(settings.tenants_file)
    host = build_host(settings, tenants, stages)
    if settings.bus == "memory" and "writer" in stages and settings.outcomes_file is not None:
        from autotriage.outcomes_file import OutcomesFile  # noqa: PLC0415 - the CLI loads a command's modules only when it runs

        # first in the list: the host stops components in reverse order, so the file gets every outcome
        host.components.insert(0, OutcomesFile(host.bus, Topics.of(settings), settings.outcomes_file))
    if create_topics:
        await host.bus.start()
        created = await host.bus.ensure_topics(Topics.of(settings).specs(settings.partitions))
        if created:
            log.info("created topics: %s", ", ".join(created))
    await host.run()
    return host.exit_code


async def _topics_create(settings: Settings) -> None:
    from autotriage.app import make_bus  # noqa: PLC0415 - the CLI loads a command's modules only when it runs
    from autotriage.core.bus.topics import Topics  # noqa: PLC0415 - the CLI loads a command's modules only when it runs

    bus = make_bus(settings, client_id="autotriage-admin")
    specs = Topics.of(settings).specs(settings.partitions)
    created = await bus.ensure_topics(specs)
    for spec in specs:
        state = "created" if spec.name in created else "exists"
        print(f"{spec.name:45s} partitions={spec.partitions:<3d} {'compacted ' if spec.compacted else ''}{state}")


def _lazy_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from autotriage.commands.doctor import run  # noqa: PLC0415 - the CLI loads a command's modules only when it runs

    return run(args, settings)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 - the CLI loads a command's modules only when it runs

    try:
        return version("autotriage")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="autotriage", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of a failure")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tenants-file", dest="tenants_file", type=Path, help="tenants YAML (AUTOTRIAGE_TENANTS_FILE)")
        p.add_argument(
            "--kafka", dest="kafka_bootstrap_servers", help="bootstrap servers (AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS)"
        )
        p.add_argument("--port", dest="http_port", type=int, help="HTTP port for webhooks/health/metrics")
        p.add_argument("--partitions", type=int, help="partitions per topic when creating topics")

    serve = sub.add_parser("serve", help="run one stage as a process")
    serve.add_argument("stage", choices=NAMES)
    serve.add_argument("--bus", choices=["kafka", "memory"], default=None)
    serve.add_argument("--create-topics", action="store_true", help="create missing topics first")
    common(serve)

    run = sub.add_parser("run", help="run all five stages in one process")
    run.add_argument("--bus", choices=["memory", "kafka"], default=None)
    common(run)

    topics = sub.add_parser("topics", help="topic administration")
    topics.add_argument("action", choices=["create"])
    topics.add_argument("--bus", choices=["kafka", "memory"], default="kafka")
    common(topics)

    doctor = sub.add_parser("doctor", help="validate the tenants file and settings; --connect also checks every "
                            "PSA, LLM and Kafka connection")
    doctor.add_argument("--connect", action="store_true", help="contact each PSA, LLM and the broker")
    doctor.add_argument("--public-url", dest="public_url", help="the public ingress URL the PSAs call (checked)")
    doctor.add_argument("--bus", choices=["memory", "kafka"], default=None)
    common(doctor)
    doctor.set_defaults(handler=_lazy_doctor)

    from autotriage.commands.parsers import add_commands  # noqa: PLC0415 - the CLI loads a command's modules only when it runs

    add_commands(sub, common)  # demo, learn, eval, preview, sandbox, outcomes, report: each sets ``handler``
    from autotriage.commands.loop_parsers import add_loop_commands  # noqa: PLC0415 - the CLI loads a command's modules only when it runs

    add_loop_commands(sub, common)  # feedback, retrain, tune, insights
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        configure_logging(settings.log_format if args.command in ("serve", "run") else "text", settings.log_level)
        egress.configure(settings.ca_bundle)
        handler = getattr(args, "handler", None)
        if handler is not None:
            return int(handler(args, settings))
        if args.command == "serve":
            return asyncio.run(_serve(settings, [args.stage], args.create_topics))
        if args.command == "run":
            return asyncio.run(
                _serve(settings, NAMES, create_topics=settings.bus == "kafka")
            )
        if args.command == "topics":
            asyncio.run(_topics_create(settings))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from autotriage.commands.errors import explain  # noqa: PLC0415 - the CLI loads a command's modules only when it runs

        message = explain(exc, args.command)
        if message is None or args.debug:
            raise
        print(f"autotriage: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
