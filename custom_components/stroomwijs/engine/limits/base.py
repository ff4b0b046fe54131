"""The common shape of a DSO limit and how several sources combine.

Every source reports zero or more :class:`Limit` objects: a value for import
and/or export in W, a source label and a validity window. The effective
limit is the minimum over all active limits, separately for import and for
export (:class:`LimitStack`). A source that depends on a signal (OpenADR, the
P1 text message) uses a :class:`SignalWatchdog` so that a lost feed turns
into the configured failsafe limit after a timeout, never into "unlimited".

A source that raises (a bug, or input nobody foresaw) never takes the stack
down: :class:`LimitStack` logs it, reports it as a problem, and puts the
failsafe import limit (``DEFAULT_FAILSAFE_IMPORT_W``) in that source's place
for as long as it keeps failing: the safe side, never "unlimited".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
import math
from typing import Protocol, runtime_checkable

_LOGGER = logging.getLogger(__name__)

DEFAULT_FAILSAFE_IMPORT_W = 4_200.0
"""Conservative failsafe import limit (the §14a / EEBus LPC minimum, 4.2 kW)."""
DEFAULT_FAILSAFE_MIN_HOLD = timedelta(hours=2)
"""How long a failsafe limit is held at least (EEBus LPC default)."""


def require_aware(when: datetime, what: str = "timestamp") -> datetime:
    """Return ``when`` if it carries a time zone, else raise ValueError."""
    if when.tzinfo is None or when.utcoffset() is None:
        msg = f"{what} must be time-zone aware, got naive {when.isoformat()}"
        raise ValueError(msg)
    return when


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """One limit from one source, valid from ``start`` until ``end``.

    ``import_w``/``export_w`` of None mean "this source does not restrict that
    direction". ``start``/``end`` of None mean "since ever"/"until further
    notice". ``failsafe`` marks a limit applied because a signal was lost.
    """

    source: str
    import_w: float | None = None
    export_w: float | None = None
    start: datetime | None = None
    end: datetime | None = None
    failsafe: bool = False
    detail: str = ""
    moving: bool = False
    """The value moves with every reading (the capacity target): listeners
    hear about a change of source, not about every change of value."""

    def __post_init__(self) -> None:
        """Reject negative values, naive datetimes and empty windows."""
        if not self.source:
            raise ValueError("a limit needs a source label")
        for name, value in (("import_w", self.import_w), ("export_w", self.export_w)):
            if value is not None and (not math.isfinite(value) or value < 0):
                msg = f"{name} must be a finite, non-negative number, got {value}"
                raise ValueError(msg)
        if self.start is not None:
            require_aware(self.start, "start")
        if self.end is not None:
            require_aware(self.end, "end")
        if self.start is not None and self.end is not None and self.end <= self.start:
            msg = f"limit ends ({self.end}) before it starts ({self.start})"
            raise ValueError(msg)

    def covers(self, when: datetime) -> bool:
        """Whether the limit applies at ``when``."""
        if self.start is not None and when < self.start:
            return False
        return self.end is None or when < self.end

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether the limit applies at any moment in ``[start, end)``."""
        if self.end is not None and self.end <= start:
            return False
        return self.start is None or self.start < end


@runtime_checkable
class LimitSource(Protocol):
    """Anything that can restrict what the household may draw or feed in."""

    @property
    def name(self) -> str:
        """Short label of the source, e.g. ``window`` or ``openadr``."""
        ...

    def limits_between(self, start: datetime, end: datetime) -> Sequence[Limit]:
        """Every limit that applies at some moment in ``[start, end)``."""
        ...

    def problem(self, now: datetime) -> str | None:
        """Why the source needs the user's attention (a repair), if it does."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectiveLimit:
    """The combined limit at one moment, with where each value comes from."""

    at: datetime
    import_w: float | None
    import_source: str | None
    export_w: float | None
    export_source: str | None
    until: datetime | None
    """When the binding import limit ends (None: open-ended or no limit)."""
    failsafe: bool = False
    problems: tuple[str, ...] = ()
    contributing: tuple[Limit, ...] = field(default=())
    import_moving: bool = False
    """The binding import limit is a moving target (see ``Limit.moving``)."""

    @property
    def active(self) -> bool:
        """Whether any source restricts import or export now."""
        return self.import_w is not None or self.export_w is not None

    @property
    def repairs_needed(self) -> bool:
        """Whether a source reports a problem the user must fix."""
        return bool(self.problems)


def combine(at: datetime, limits: Iterable[Limit]) -> EffectiveLimit:
    """Minimum over the limits that cover ``at``, per direction."""
    active = tuple(limit for limit in limits if limit.covers(at))
    imp = min(
        (limit for limit in active if limit.import_w is not None),
        key=lambda limit: (limit.import_w, limit.source),
        default=None,
    )
    exp = min(
        (limit for limit in active if limit.export_w is not None),
        key=lambda limit: (limit.export_w, limit.source),
        default=None,
    )
    return EffectiveLimit(
        at=at,
        import_w=None if imp is None else imp.import_w,
        import_source=None if imp is None else imp.source,
        export_w=None if exp is None else exp.export_w,
        export_source=None if exp is None else exp.source,
        until=None if imp is None else imp.end,
        failsafe=any(limit.failsafe for limit in active),
        contributing=active,
        import_moving=imp is not None and imp.moving,
    )


type LimitListener = Callable[[EffectiveLimit, EffectiveLimit | None], None]


class LimitStack:
    """All limit sources of one household; the effective limit is their minimum."""

    def __init__(self, sources: Iterable[LimitSource] = ()) -> None:
        """Start with the given sources."""
        self._sources: list[LimitSource] = list(sources)
        self._listeners: list[LimitListener] = []
        self._last: EffectiveLimit | None = None
        self._failures: dict[int, str] = {}

    @property
    def sources(self) -> tuple[LimitSource, ...]:
        """The registered sources."""
        return tuple(self._sources)

    def add(self, source: LimitSource) -> Callable[[], None]:
        """Register a source; returns a function that removes it again."""
        self._sources.append(source)

        def _remove() -> None:
            if source in self._sources:
                self._sources.remove(source)

        return _remove

    def limits_between(self, start: datetime, end: datetime) -> list[Limit]:
        """Every limit of every source that applies somewhere in the range."""
        found: list[Limit] = []
        for source in self._sources:
            found.extend(self._limits_of(source, start, end))
        return found

    def _limits_of(
        self, source: LimitSource, start: datetime, end: datetime
    ) -> list[Limit]:
        """One source's limits; the failsafe in its place if it raises."""
        try:
            limits = list(source.limits_between(start, end))
            items: list[object] = list(limits)
            for limit in items:
                if not isinstance(limit, Limit):
                    msg = f"returned {type(limit).__name__}, not a Limit"
                    raise TypeError(msg)  # noqa: TRY301 - handled just below
        except Exception as err:
            label = _label(source)
            text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            if self._failures.get(id(source)) != text:
                _LOGGER.exception("limit source %s failed: %s", label, text)
            self._failures[id(source)] = text
            return [
                Limit(
                    source=f"{label}:failed",
                    import_w=DEFAULT_FAILSAFE_IMPORT_W,
                    failsafe=True,
                    detail=f"the source failed ({text}): failsafe limit",
                )
            ]
        if self._failures.pop(id(source), None) is not None:
            _LOGGER.info("limit source %s works again", _label(source))
        return limits

    def _problems(self, now: datetime) -> tuple[str, ...]:
        problems: list[str] = []
        for source in self._sources:
            label = _label(source)
            failure = self._failures.get(id(source))
            if failure is not None:
                problems.append(f"{label}: failed ({failure}); failsafe limit")
            try:
                problem = source.problem(now)
            except Exception as err:  # noqa: BLE001 - reported, never raised
                problem = f"cannot report its state ({type(err).__name__}: {err})"
            if problem is not None:
                problems.append(f"{label}: {problem}")
        return tuple(problems)

    def effective(self, now: datetime) -> EffectiveLimit:
        """Return the effective limit at ``now``, with the sources' problems."""
        require_aware(now, "now")
        limits = self.limits_between(now, now + timedelta(microseconds=1))
        result = combine(now, limits)
        problems = self._problems(now)
        if problems:
            result = EffectiveLimit(
                at=result.at,
                import_w=result.import_w,
                import_source=result.import_source,
                export_w=result.export_w,
                export_source=result.export_source,
                until=result.until,
                failsafe=result.failsafe,
                problems=problems,
                contributing=result.contributing,
                import_moving=result.import_moving,
            )
        return result

    def upcoming(self, now: datetime, horizon: timedelta) -> list[Limit]:
        """Limits that start after ``now`` and before ``now + horizon``, by start."""
        found = [
            limit
            for limit in self.limits_between(now, now + horizon)
            if limit.start is not None and limit.start > now
        ]
        return sorted(found, key=lambda limit: (limit.start or now, limit.source))

    def subscribe(self, listener: LimitListener) -> Callable[[], None]:
        """Call ``listener(new, old)`` whenever :meth:`refresh` sees a change."""
        self._listeners.append(listener)

        def _unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return _unsubscribe

    def refresh(self, now: datetime) -> EffectiveLimit:
        """Recompute the effective limit and tell listeners if it changed."""
        current = self.effective(now)
        old = self._last
        changed = old is None or _key(old) != _key(current)
        self._last = current
        if changed:
            for listener in tuple(self._listeners):
                try:
                    listener(current, old)
                except Exception:
                    # One listener's bug must not keep the others (or the
                    # caller) from the new limit.
                    _LOGGER.exception("a limit listener failed")
        return current


def _label(source: LimitSource) -> str:
    try:
        return str(source.name) or type(source).__name__
    except Exception:  # noqa: BLE001 - a label must never fail
        return type(source).__name__


def _key(effective: EffectiveLimit) -> tuple[object, ...]:
    """Return what counts as a change for listeners (not a moving value)."""
    value = None if effective.import_moving else effective.import_w
    return (
        value,
        effective.import_source,
        effective.export_w,
        effective.export_source,
        effective.problems,
    )


class SignalWatchdog:
    """Turns a lost signal into a failsafe period (EEBus LPC style).

    The feed counts as lost when nothing was heard for ``timeout``. From then
    on the failsafe applies; it is held for at least ``min_hold`` even when
    the feed comes back, and for as long as the feed stays lost. The failsafe
    never ends in "unlimited": afterwards the source's own limits apply again.
    """

    def __init__(
        self,
        *,
        timeout: timedelta,
        min_hold: timedelta = DEFAULT_FAILSAFE_MIN_HOLD,
        started: datetime,
    ) -> None:
        """Watch a feed that was set up at ``started`` (nothing heard yet)."""
        if timeout <= timedelta(0):
            raise ValueError("the signal timeout must be positive")
        if min_hold < timedelta(0):
            raise ValueError("the failsafe hold cannot be negative")
        self.timeout = timeout
        self.min_hold = min_hold
        self._last_heard = require_aware(started, "started")
        self._heard_once = False
        self._entered: datetime | None = None

    @property
    def last_heard(self) -> datetime | None:
        """When the feed last answered (None: never)."""
        return self._last_heard if self._heard_once else None

    def heard(self, now: datetime) -> None:
        """Record that the feed answered at ``now``."""
        self._update(now)
        self._last_heard = max(self._last_heard, now)
        self._heard_once = True

    def _update(self, now: datetime) -> None:
        deadline = self._last_heard + self.timeout
        if now >= deadline and (self._entered is None or self._entered < deadline):
            self._entered = deadline

    def lost(self, now: datetime) -> bool:
        """Whether the feed is lost right now (silent for longer than timeout)."""
        return now >= self._last_heard + self.timeout

    def failsafe_window(self, now: datetime) -> tuple[datetime, datetime | None] | None:
        """Return the failsafe period covering ``now``: (start, end or None)."""
        self._update(now)
        if self.lost(now):
            return (self._last_heard + self.timeout, None)
        if self._entered is not None:
            hold_until = self._entered + self.min_hold
            if now < hold_until:
                return (self._entered, hold_until)
        return None


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)
