"""What the simulator does wrong, on purpose: fault rates, throttling and token lifetime.

:class:`FaultConfig` is a plain value; :data:`PROFILES` names a few useful ones and
:func:`parse_faults` reads the ``"chaos,error_rate=0.1,seed=3"`` strings a CLI flag or a
test passes. Faults are decided by :mod:`crawler.simulator.injector` and answered by
:mod:`crawler.simulator.outcomes`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Literal

__all__ = ["PROFILES", "RATE_FIELDS", "FaultConfig", "parse_faults"]

RateKey = Literal["project", "token", "global"]
ThrottleStyle = Literal["huawei", "nova429", "nova413"]

#: The per-request probabilities, in the order their ranges are laid out on [0, 1).
RATE_FIELDS = ("error_rate", "throttle_rate", "reset_rate", "timeout_rate", "bad_json_rate")
_RATE_KEYS = ("project", "token", "global")
_THROTTLE_STYLES = ("huawei", "nova429", "nova413")


def _check_positive(name: str, value: float | None, *, allow_zero: bool) -> None:
    if value is None:
        return
    low_ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and low_ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Injected faults and throttling of the Nova route, and the Keystone token lifetime.

    Rates are shares of requests (0..1, summing to at most 1). Each injected fault is a
    function of ``(seed, project_id, image_id, n)`` for the n-th request of that pair, so
    runs are reproducible whatever the interleaving of concurrent requests.

    Attributes:
        seed: Key of the fault decisions.
        error_rate: Share answered 500/502/503/504.
        throttle_rate: Share answered as throttled (``throttle_style``) whatever the bucket.
        reset_rate: Share whose connection is cut after the headers or half the body.
        timeout_rate: Share delayed by ``hang_s`` before the normal answer.
        hang_s: The delay of a timeout fault; longer than the client's read timeout.
        bad_json_rate: Share answered 200 with truncated or malformed JSON.
        max_faults_per_item: After this many injected faults for one pair, answer it
            normally; None means no cap. The token bucket is not capped by this.
        rate_limit: Token bucket refill in requests per second, per ``rate_key``.
        rate_burst: Bucket size; default ``max(1, rate_limit / 10)``.
        rate_key: What a bucket belongs to: URL project, credential or everybody.
        throttle_style: Huawei API Gateway 429, or a Nova ``overLimit`` 429 or 413.
        retry_after_s: ``Retry-After`` of throttled answers; Nova styles default to 1 s,
            the Huawei style sends none unless this is set.
        retry_after_http_date: Send ``Retry-After`` as an HTTP date, not delta-seconds.
        token_ttl_s: Keystone token lifetime; default 3600 s.
    """

    seed: int = 0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    reset_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 30.0
    bad_json_rate: float = 0.0
    max_faults_per_item: int | None = None
    rate_limit: float | None = None
    rate_burst: float | None = None
    rate_key: RateKey = "project"
    throttle_style: ThrottleStyle = "huawei"
    retry_after_s: float | None = None
    retry_after_http_date: bool = False
    token_ttl_s: float | None = None

    def __post_init__(self) -> None:
        for name in RATE_FIELDS:
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if sum(getattr(self, name) for name in RATE_FIELDS) > 1 + 1e-9:
            raise ValueError(f"the sum of {', '.join(RATE_FIELDS)} must not exceed 1")
        _check_positive("hang_s", self.hang_s, allow_zero=True)
        _check_positive("retry_after_s", self.retry_after_s, allow_zero=True)
        _check_positive("rate_limit", self.rate_limit, allow_zero=False)
        _check_positive("token_ttl_s", self.token_ttl_s, allow_zero=False)
        if self.rate_burst is not None:
            if self.rate_limit is None:
                raise ValueError("rate_burst needs rate_limit")
            if not (math.isfinite(self.rate_burst) and self.rate_burst >= 1):
                raise ValueError(f"rate_burst must be a finite number >= 1, got {self.rate_burst}")
        if self.max_faults_per_item is not None and self.max_faults_per_item < 0:
            raise ValueError(f"max_faults_per_item must be >= 0, got {self.max_faults_per_item}")
        if self.rate_key not in _RATE_KEYS:
            raise ValueError(f"rate_key must be one of {_RATE_KEYS}, got {self.rate_key!r}")
        if self.throttle_style not in _THROTTLE_STYLES:
            raise ValueError(
                f"throttle_style must be one of {_THROTTLE_STYLES}, got {self.throttle_style!r}"
            )

    @property
    def random_faults(self) -> bool:
        """Whether any per-request fault rate is above 0 (so attempts must be counted)."""
        return any(getattr(self, name) for name in RATE_FIELDS)

    @property
    def enabled(self) -> bool:
        """Whether the Nova route needs the fault injector at all."""
        return self.random_faults or self.rate_limit is not None

    @property
    def burst(self) -> float:
        """The effective bucket size (only meaningful with ``rate_limit``)."""
        if self.rate_burst is not None:
            return self.rate_burst
        return max(1.0, (self.rate_limit or 0.0) / 10)

    @property
    def retry_after(self) -> float | None:
        """The ``Retry-After`` to send with throttled answers, None for no header."""
        if self.retry_after_s is None and self.throttle_style != "huawei":
            return 1.0
        return self.retry_after_s

    @property
    def token_ttl(self) -> float:
        """Keystone token lifetime in seconds."""
        return 3600.0 if self.token_ttl_s is None else self.token_ttl_s


PROFILES: dict[str, FaultConfig] = {
    "none": FaultConfig(),
    # Everything at once, capped per item so a retrying client still fetches every image.
    "chaos": FaultConfig(
        error_rate=0.20,
        throttle_rate=0.05,
        reset_rate=0.01,
        timeout_rate=0.01,
        hang_s=1.0,
        bad_json_rate=0.005,
        max_faults_per_item=3,
    ),
    # Huawei API Gateway's documented default: 200 requests per second per API.
    "throttle": FaultConfig(rate_limit=200.0),
    "nova-throttle": FaultConfig(rate_limit=200.0, throttle_style="nova429", retry_after_s=1.0),
    "flaky": FaultConfig(error_rate=0.05, reset_rate=0.01, max_faults_per_item=3),
}


def _optional(parse: Callable[[str], object]) -> Callable[[str], object]:
    def parse_optional(text: str) -> object:
        return None if text.lower() in ("none", "null", "") else parse(text)

    return parse_optional


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


_PARSERS: dict[str, Callable[[str], object]] = {
    "seed": int,
    "max_faults_per_item": _optional(int),
    "rate_limit": _optional(float),
    "rate_burst": _optional(float),
    "retry_after_s": _optional(float),
    "token_ttl_s": _optional(float),
    "retry_after_http_date": _bool,
    "rate_key": str,
    "throttle_style": str,
}
_FIELD_NAMES = frozenset(f.name for f in fields(FaultConfig))


def _parse_value(key: str, text: str) -> object:
    if key not in _FIELD_NAMES:
        raise ValueError(f"unknown fault setting {key!r}; known: {', '.join(sorted(_FIELD_NAMES))}")
    try:
        return _PARSERS.get(key, float)(text)
    except ValueError:
        raise ValueError(f"bad value for fault setting {key!r}: {text!r}") from None


def parse_faults(spec: str) -> FaultConfig:
    """Return the config described by ``spec``.

    ``spec`` is an optional profile name followed by ``key=value`` overrides, comma
    separated: ``"chaos"``, ``"chaos,error_rate=0.1,seed=3"``,
    ``"rate_limit=200,throttle_style=nova429"``. An empty spec means ``"none"``.

    Raises:
        ValueError: Unknown profile or key, or a bad value; the message names it.
    """
    items = [item.strip() for item in spec.split(",") if item.strip()]
    base = PROFILES["none"]
    if items and "=" not in items[0]:
        name = items.pop(0)
        if name not in PROFILES:
            raise ValueError(f"unknown fault profile {name!r}; known: {', '.join(PROFILES)}")
        base = PROFILES[name]
    overrides: dict[str, object] = {}
    for item in items:
        key, sep, text = (part.strip() for part in item.partition("="))
        if not sep:
            raise ValueError(f"expected key=value, got {item!r} (a profile name comes first)")
        overrides[key] = _parse_value(key, text)
    return replace(base, **overrides)  # type: ignore[arg-type]  # parsers fix the types
