"""Boundary validation: every rejected value names its field and the allowed range."""

from __future__ import annotations

import math
from numbers import Real


class ValidationError(ValueError):
    """A user-supplied value is out of range; `field` names it for UIs and the CLI."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _finite_number(field: str, value) -> float:
    if isinstance(value, (bytes, bytearray)):
        raise ValidationError(field, f"must be a number, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, Real):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValidationError(field, f"must be a number, got {_short(value)}") from None
        except OverflowError:
            raise ValidationError(field, f"is far too large, got {_short(value)}") from None
    try:
        value = float(value)
    except OverflowError:
        raise ValidationError(field, f"is far too large, got {_short(value)}") from None
    if math.isnan(value) or math.isinf(value):
        raise ValidationError(field, f"must be a finite number, got {value}")
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"


def require_int(field: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer within [minimum, maximum]; a number with a fractional part is rejected."""
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValidationError(field, f"must be a whole number, got {_short(value)}") from None
    number = _finite_number(field, value)
    if not number.is_integer():
        raise ValidationError(field, f"must be a whole number, got {value!r}")
    number = int(number)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValidationError(field, f"must be an integer {_describe_range(minimum, maximum)}, got {number}")
    return number


def require_float(
    field: str,
    value,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
) -> float:
    number = _finite_number(field, value)
    too_low = minimum is not None and (number <= minimum if exclusive_minimum else number < minimum)
    too_high = maximum is not None and (number >= maximum if exclusive_maximum else number > maximum)
    if too_low or too_high:
        raise ValidationError(
            field, f"must be {_describe_range(minimum, maximum, exclusive_minimum, exclusive_maximum)}, got {value}"
        )
    return number


def require_choice(field: str, value, choices) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ValidationError(field, f"must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def _describe_range(minimum, maximum, exclusive_minimum=False, exclusive_maximum=False) -> str:
    low = None if minimum is None else f"{'>' if exclusive_minimum else '>='} {minimum:g}"
    high = None if maximum is None else f"{'<' if exclusive_maximum else '<='} {maximum:g}"
    if low and high:
        return f"{low} and {high}"
    return low or high or "a number"
