"""Every setting a run takes from outside, checked in one place before a search starts.

The environment: ``RECZILLA_THREADS`` (a positive integer), ``RECZILLA_MEMORY_LIMIT``
(a positive number of bytes, optionally with a binary suffix ``K``, ``M``, ``G`` or
``T``: ``500M``, ``1.5G``) and ``RECZILLA_EXCLUDE_SEEN`` (``1``/``0``, ``true``/``false``,
``yes``/``no``). An unset or empty variable means its default, which the module using
the setting decides (``Recommenders.memory``, ``Recommenders.threads``).

The command line of ``run_experiment``: seeds (``0 <= seed < 2**32``, numpy's range),
``time_limit`` (a finite positive number of seconds, ``1e3`` included) and
``num_samples`` (``1`` up to what one result holds).

A bad value raises ``SettingError`` naming the setting, the accepted form and the value.
"""

import math
import os

THREADS_VARIABLE = "RECZILLA_THREADS"
MEMORY_LIMIT_VARIABLE = "RECZILLA_MEMORY_LIMIT"
EXCLUDE_SEEN_VARIABLE = "RECZILLA_EXCLUDE_SEEN"
SEED_LIMIT = 2**32
_BYTE_SUFFIXES = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


class SettingError(ValueError):
    """A setting (environment variable or command-line value) that cannot be used."""


def _environment_value(variable: str) -> str | None:
    value = os.environ.get(variable, "").strip()
    return value or None


def threads_setting() -> int | None:
    """``RECZILLA_THREADS`` as a positive integer, ``None`` when unset."""
    value = _environment_value(THREADS_VARIABLE)
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise SettingError(f"{THREADS_VARIABLE} must be a positive integer, got {value!r}")
    return int(value)


def memory_limit_setting() -> int | None:
    """``RECZILLA_MEMORY_LIMIT`` in bytes, ``None`` when unset."""
    value = _environment_value(MEMORY_LIMIT_VARIABLE)
    if value is None:
        return None
    multiplier = _BYTE_SUFFIXES.get(value[-1].upper(), 1)
    number = value[:-1] if multiplier > 1 else value
    try:
        limit = float(number) * multiplier
    except ValueError:
        limit = math.nan
    if not math.isfinite(limit) or int(limit) < 1:
        raise SettingError(f"{MEMORY_LIMIT_VARIABLE} must be a positive number of bytes, optionally with a "
                           f"suffix K, M, G or T (e.g. 500M, 4G), got {value!r}")
    return int(limit)


def exclude_seen_setting() -> bool:
    """``RECZILLA_EXCLUDE_SEEN``: whether training items are excluded from rankings (default yes)."""
    value = (_environment_value(EXCLUDE_SEEN_VARIABLE) or "1").lower()
    if value not in _TRUE + _FALSE:
        raise SettingError(f"{EXCLUDE_SEEN_VARIABLE} must be 1 or 0 (true/false, yes/no), got {value!r}")
    return value in _TRUE


def check_environment() -> None:
    """Check every ``RECZILLA_*`` setting a search reads; ``SettingError`` on the first bad one."""
    threads_setting()
    memory_limit_setting()
    exclude_seen_setting()


def check_seed(name: str, value: int) -> int:
    """``value`` when it is a valid seed (``0 <= value < 2**32``)."""
    if not 0 <= value < SEED_LIMIT:
        raise SettingError(f"{name} must be at least 0 and below 2**32 ({SEED_LIMIT}), got {value}")
    return value


def parse_time_limit(text: str) -> float:
    """Seconds from a command-line value: any finite positive number (``600``, ``1e3``, ``0.5``)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise SettingError(f"time_limit must be a finite positive number of seconds, got {text!r}")
    return seconds


def check_num_samples(value: int, maximum: int) -> int:
    """``value`` when ``1 <= value <= maximum`` (the most samples one result holds)."""
    if not 1 <= value <= maximum:
        raise SettingError(f"num_samples must be between 1 and {maximum} (the most one result holds), got {value}")
    return value
