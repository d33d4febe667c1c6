"""Loading YAML into typed pydantic objects, with errors that name file, key, value and rule."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class Strict(BaseModel):
    """Base of every config and spec: unknown keys are errors and objects are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# The errors a user can fix (a config value, a missing file, bad evidence): a command ends
# with their one-line message and exit status 2 instead of a traceback (pipeline/entry.py).
# Each module that defines one registers it here, so the entry imports no module for it.
USER_ERRORS: list[type[BaseException]] = []


def user_error(cls: type[BaseException]) -> type[BaseException]:
    """Register `cls` (a class decorator) as an error the user can fix."""
    USER_ERRORS.append(cls)
    return cls


@user_error
class ConfigError(ValueError):
    """A configuration file holds a value the lab cannot use; raised before any training."""


def format_validation_error(source: str, error: ValidationError, data: object) -> str:
    """Turn a pydantic error into lines `file: key.path = value -> what is allowed`."""
    lines = [f"{source}: invalid configuration ({error.error_count()} problem(s))"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "<top level>"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {location}: unknown key (remove it or check its spelling)")
            continue
        message = item["msg"]
        if not item["loc"]:  # a whole-file rule: its message says it all, no dump of the file
            lines.append(f"  {message.removeprefix('Value error, ')}")
            continue
        value = item.get("input", _lookup(data, item["loc"]))
        if item["type"] == "missing":
            lines.append(f"  {location}: required key is missing")
        else:
            lines.append(f"  {location} = {value!r}: {message}")
    return "\n".join(lines)


def _lookup(data: object, location: tuple) -> object:
    for part in location:
        try:
            data = data[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def read_yaml(path: Path) -> object:
    """Read a YAML file, turning a missing file or a syntax error into a ConfigError."""
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error


def parse_model(model_class: type[Model], data: object, source: str) -> Model:
    """Validate already-parsed data into `model_class`, naming `source` in any error."""
    try:
        return model_class.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(source, error, data)) from None


def load_yaml_model(path: Path, model_class: type[Model]) -> Model:
    """Read and validate a YAML file into `model_class`."""
    return parse_model(model_class, read_yaml(path), str(path))
