"""One line for every failure a user can cause, naming the cause and the fix (the traceback only with
``autotriage --debug``)."""

from __future__ import annotations

import errno

from autotriage.core.errors import AutotriageError, ConfigError, PermanentError, TransientError

#: Top-level modules of the optional extras, and the extra that installs each.
EXTRAS = {"sklearn": "local", "numpy": "local", "scipy": "local", "joblib": "local", "matplotlib": "report"}


def explain(exc: BaseException, command: str = "") -> str | None:
    """The one-line message for a user-caused failure, or ``None`` for a bug (which keeps its traceback)."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in EXTRAS:
        extra = EXTRAS[(exc.name or "").split(".")[0]]
        what = f"`autotriage {command}`" if command else "this command"
        return (f"{what} needs the optional `{extra}` dependencies ({exc.name} is not installed): "
                f"pip install 'autotriage[{extra}]' (in a checkout: pip install -e '.[{extra}]')")
    if isinstance(exc, ConfigError):
        return f"configuration error: {exc.message}"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (f"{exc.strerror or exc}: another process already listens there; stop it or choose another port "
                "(--port / AUTOTRIAGE_HTTP_PORT; for the sandbox AUTOTRIAGE_SANDBOX_PORT, or stop the other sandbox)")
    name = type(exc).__name__
    if name == "KafkaConnectionError" or (name == "KafkaError" and "bootstrap" in str(exc)):
        return (f"Kafka is not reachable ({exc}): start the broker or point --kafka / "
                "AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS at it (the in-memory bus needs none: --bus memory)")
    if isinstance(exc, TransientError):
        what = "the PSA" if " token" in exc.message or exc.reason.startswith(("psa", "http")) else "a service"
        return (f"{what} could not be reached or is failing ({exc.message}): check the tenant's psa connection "
                "(base_url / site / zone) and the network, then retry")
    if isinstance(exc, PermanentError):
        return f"{exc.message}: check the tenant's credentials and settings (`autotriage doctor --connect`)"
    if isinstance(exc, AutotriageError):
        return exc.message
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename or exc}: no such file; check the path"
    if isinstance(exc, PermissionError):
        return f"{exc.filename or exc}: permission denied; check the file's owner and mode"
    return None
