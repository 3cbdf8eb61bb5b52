"""Secret references in the tenants file: ``{env: NAME}`` or ``{file: /path}``, never inline values."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr, model_validator

from autotriage.core.errors import ConfigError


class SecretRef(BaseModel):
    """Where a secret lives. Resolved once at load time; the value is a ``SecretStr`` that never prints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: Path | None = None
    _value: SecretStr | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _refuse_inline(cls, data: Any) -> Any:
        if isinstance(data, str):
            raise ValueError(  # noqa: TRY004 - pydantic reports ValueError as a validation error
                "secrets must be referenced, not written inline: use {env: VAR_NAME} or {file: /path/to/secret}"
            )
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference needs exactly one of 'env' or 'file'")
        return self

    def describe(self) -> str:
        """Where the secret comes from, safe to log."""
        return f"env var {self.env}" if self.env else f"file {self.file}"

    def resolve(self, environ: Mapping[str, str] | None = None) -> SecretStr:
        """Read the secret once, with an error that names the reference and the fix."""
        if self._value is not None:
            return self._value
        if self.env is not None:
            env = os.environ if environ is None else environ
            value = env.get(self.env)
            if value is None or value == "":
                raise ConfigError(f"secret {self.describe()} is not set: export {self.env}=... before starting")
            self._value = SecretStr(value)
            return self._value
        if self.file is None:  # the model validator requires env or file
            raise ConfigError(f"secret {self.describe()} names neither env nor file")
        try:
            self._value = SecretStr(self.file.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(f"secret {self.describe()} cannot be read ({exc.strerror}): check the path") from exc
        return self._value

    def get(self) -> str:
        """The secret's value (resolving it on first use)."""
        return self.resolve().get_secret_value()
