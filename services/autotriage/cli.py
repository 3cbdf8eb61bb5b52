"""The ``autotriage`` command: serve one stage, run all five, manage topics, run simulators, demo, eval."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from autotriage.core.errors import ConfigError
from autotriage.core.logs import configure_logging
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants

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
    from autotriage.app import build_host
    from autotriage.core import metrics
    from autotriage.core.bus.topics import Topics

    metrics.BUILD_INFO.info({"version": _version()})
    tenants = load_tenants(settings.tenants_file)
    host = build_host(settings, tenants, stages)
    if create_topics:
        await host.bus.start()
        created = await host.bus.ensure_topics(Topics(settings.topic_prefix).specs(settings.partitions))
        if created:
            log.info("created topics: %s", ", ".join(created))
    await host.run()
    return host.exit_code


async def _topics_create(settings: Settings) -> None:
    from autotriage.app import make_bus
    from autotriage.core.bus.topics import Topics

    bus = make_bus(settings, client_id="autotriage-admin")
    specs = Topics(settings.topic_prefix).specs(settings.partitions)
    created = await bus.ensure_topics(specs)
    for spec in specs:
        state = "created" if spec.name in created else "exists"
        print(f"{spec.name:45s} partitions={spec.partitions:<3d} {'compacted ' if spec.compacted else ''}{state}")


async def _sandbox(psa: str, host: str, port: int) -> None:
    from autotriage.sandbox.registry import make_simulator

    sim = make_simulator(psa)
    url = await sim.start(host, port)
    print(f"{psa} simulator on {url} (simulated PSA: demo and tests only)", flush=True)
    await asyncio.Event().wait()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("autotriage")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="autotriage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tenants-file", dest="tenants_file", type=Path, help="tenants YAML (AUTOTRIAGE_TENANTS_FILE)")
        p.add_argument(
            "--kafka", dest="kafka_bootstrap_servers", help="bootstrap servers (AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS)"
        )
        p.add_argument("--port", dest="http_port", type=int, help="HTTP port for webhooks/health/metrics")
        p.add_argument("--partitions", type=int, help="partitions per topic when creating topics")

    serve = sub.add_parser("serve", help="run one stage as a process")
    serve.add_argument("stage", choices=["ingress", "normalizer", "taxonomy-cache", "classifier", "writer"])
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

    sandbox = sub.add_parser("sandbox", help="run a PSA simulator (for try-outs and tests, never production)")
    sandbox.add_argument("--psa", choices=["halo", "connectwise", "autotask"], required=True)
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--sim-port", dest="sim_port", type=int, default=8090)

    doctor = sub.add_parser("doctor", help="validate the tenants file and settings without starting anything")
    common(doctor)

    from autotriage.commands.parsers import add_commands

    add_commands(sub, common)  # demo, learn, eval: each sets ``handler(args, settings) -> exit code``
    from autotriage.commands.loop_parsers import add_loop_commands

    add_loop_commands(sub, common)  # feedback, retrain, tune, insights
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        configure_logging(settings.log_format if args.command in ("serve", "run") else "text", settings.log_level)
        handler = getattr(args, "handler", None)
        if handler is not None:
            return int(handler(args, settings))
        if args.command == "serve":
            return asyncio.run(_serve(settings, [args.stage], args.create_topics))
        if args.command == "run":
            return asyncio.run(
                _serve(
                    settings,
                    ["ingress", "normalizer", "taxonomy-cache", "classifier", "writer"],
                    create_topics=settings.bus == "kafka",
                )
            )
        if args.command == "topics":
            asyncio.run(_topics_create(settings))
        elif args.command == "sandbox":
            asyncio.run(_sandbox(args.psa, args.host, args.sim_port))
        elif args.command == "doctor":
            tenants = load_tenants(settings.tenants_file)
            for tenant in tenants.tenants:
                if tenant.llm.local_model_path is not None:  # a missing or foreign model fails here, not per ticket
                    from autotriage.local.store import read_meta

                    read_meta(tenant.llm.local_model_path)
                print(
                    f"ok  {tenant.id:20s} {tenant.psa.kind.value:12s} llm={tenant.llm.provider}:{tenant.llm.model} "
                    f"mode={tenant.policy.mode}"
                )
    except ConfigError as exc:
        print(f"autotriage: configuration error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
