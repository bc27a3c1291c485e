"""Typed settings from the environment, one object per service (pydantic-settings).

Secrets may also come from a file: for a field read from ``TELEGRAM_BOT_TOKEN``, setting
``TELEGRAM_BOT_TOKEN_FILE=/run/secrets/token`` reads the file (Kubernetes secret volumes, Docker
secrets). A value in the variable itself wins over the file.

:func:`load_settings` turns a validation failure into one readable message naming each bad
variable and exits with status 2, instead of a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def _env_name(name: str, field: FieldInfo, prefix: str) -> str:
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    return (alias or f"{prefix}{name}").upper()


class FileSecretsSource(PydanticBaseSettingsSource):
    """Reads ``<ENV_NAME>_FILE`` for every field, returning the file's stripped contents."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._env = EnvSettingsSource(settings_cls)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        import os

        values: dict[str, Any] = {}
        prefix = str(self.config.get("env_prefix", ""))
        for name, field in self.settings_cls.model_fields.items():
            env = _env_name(name, field, prefix)
            path = os.environ.get(f"{env}_FILE")
            if path:
                try:
                    values[field.alias or name] = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ValueError(f"{env}_FILE={path!r} cannot be read: {exc.strerror}") from exc
        return values


class ServiceSettings(BaseSettings):
    """Base class: environment variables first, then ``<NAME>_FILE`` files, then defaults."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, FileSecretsSource(settings_cls))


def describe_validation_error(settings_cls: type[BaseSettings], exc: ValidationError) -> str:
    """A message naming each bad environment variable, never echoing a secret's value."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    lines = [f"Invalid configuration for {settings_cls.__name__}:"]
    for error in exc.errors():
        loc = error["loc"][0] if error["loc"] else ""
        field = settings_cls.model_fields.get(str(loc))
        env = _env_name(str(loc), field, prefix) if field else str(loc).upper()
        lines.append(f"  {env}: {error['msg']}")
    return "\n".join(lines)


def load_settings(settings_cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build the settings object, or print what is wrong and exit with status 2."""
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        print(describe_validation_error(settings_cls, exc), file=sys.stderr)
        raise SystemExit(2) from None
    except ValueError as exc:  # an unreadable *_FILE
        print(f"Invalid configuration for {settings_cls.__name__}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
