"""Parse an event by the model of its detail-type: the one edge validation every
function uses. Typed errors only: ``UnsupportedEvent`` for a detail-type the function does
not handle, ``InvalidEvent`` (with the model's error list, inputs left out) for junk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from autopilot.errors import InvalidEvent, UnsupportedEvent
from autopilot.schema import Model, ValidationError

M = TypeVar("M", bound=Model)


def validate_event(models: Mapping[str, type[M]], event: Any) -> M:
    """``event`` parsed by ``models[event["detail-type"]]``."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"an event is a JSON object, got {type(event).__name__}")
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str):
        raise InvalidEvent("event has no detail-type string")
    model = models.get(detail_type)
    if model is None:
        raise UnsupportedEvent(detail_type, expected=tuple(models))
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidEvent(
            f"invalid {model.__name__}: {exc.error_count()} error(s)", errors=error_list(exc)
        ) from None


def error_list(exc: ValidationError) -> list[dict[str, Any]]:
    """The model's errors as ``InvalidEvent`` carries them: where, the kind and the message,
    never the input (an event may hold what a log should not)."""
    return exc.errors()
