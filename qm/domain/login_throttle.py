"""Slowing down, then blocking, password guessing.

Every sign-in attempt is counted against two keys: the username tried and the client's
address. Counting happens *before* the password is checked (a success takes its count back),
so forty attempts sent at the same moment are counted one by one, not all seen as "first".

Limits, per key, over a sliding 15-minute window (the numbers a typical site uses: OWASP's
authentication cheat sheet, and what GitLab and Django-axes ship with):

=========  ==========  ==============================================  ==========  =========
key        free tries  then, before checking the password              blocked at  block
=========  ==========  ==============================================  ==========  =========
username   5           wait 1, 2, 4, 8 s, then 10 s per further try    10 failed   15 min
address    20          the same growing wait                           50 failed   15 min
=========  ==========  ==============================================  ==========  =========

"Blocked at 10" means the 11th attempt inside the window and every attempt after it, until
the block ends, is refused without looking at the password (HTTP 429 with Retry-After).
The address limit is higher because a whole call-center floor may share one address. A
successful sign-in clears the username's count and takes back its own attempt from the
address's count. Nothing is told to the client about which key blocked it.

Counts live in the `login_throttle` table (`DatabaseThrottle`) or in Redis
(`RedisThrottle`) when the site has one; both update a key in one atomic step, so several
web processes share the limits.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from qm.db import session_scope
from qm.models import LoginThrottle, utcnow
from qm.models.base import UTCDateTime

MAX_KEY_LENGTH = 200  # the column's length


@dataclass(frozen=True, slots=True)
class Limit:
    """How many failures one key may have, and what happens after that."""

    free: int  # failures answered without delay
    block_after: int  # failures after which attempts are refused
    window: timedelta = timedelta(minutes=15)
    block: timedelta = timedelta(minutes=15)
    first_delay: float = 1.0  # seconds of wait for the first failure past `free`
    max_delay: float = 10.0

    def delay(self, failures_before: int) -> float:
        """Seconds to wait before checking a password after `failures_before` failures."""
        excess = failures_before - self.free
        if excess < 0:
            return 0.0
        return min(self.first_delay * 2.0**excess, self.max_delay)


USERNAME_LIMIT = Limit(free=5, block_after=10)
ADDRESS_LIMIT = Limit(free=20, block_after=50)


@dataclass(frozen=True, slots=True)
class ThrottleKey:
    """One counter: `user:<name>` or `addr:<address>`, with its limit."""

    name: str
    limit: Limit


def username_key(username: str, limit: Limit = USERNAME_LIMIT) -> ThrottleKey:
    """The counter of a username; case and surrounding spaces do not make a new one."""
    return ThrottleKey(f"user:{username.strip().casefold()}"[:MAX_KEY_LENGTH], limit)


def address_key(address: str, limit: Limit = ADDRESS_LIMIT) -> ThrottleKey:
    """The counter of a client address."""
    return ThrottleKey(f"addr:{address}"[:MAX_KEY_LENGTH], limit)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one sign-in attempt."""

    delay: float  # seconds to wait before checking the password
    blocked_until: datetime | None  # set: refuse the attempt until then

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the block ends (at least 1), for the Retry-After header."""
        if self.blocked_until is None:
            return 0
        return max(1, math.ceil((self.blocked_until - now).total_seconds()))


def _verdict(results: Sequence[tuple[ThrottleKey, int, datetime | None]], now: datetime) -> Verdict:
    """Combine per-key counts (failures including this attempt, block end) into a verdict."""
    blocks = [until for _, _, until in results if until is not None and until > now]
    delay = max((key.limit.delay(failures - 1) for key, failures, _ in results), default=0.0)
    return Verdict(delay=delay, blocked_until=max(blocks) if blocks else None)


class Throttle(Protocol):
    """Where the counts are kept."""

    def attempt(self, keys: Sequence[ThrottleKey], now: datetime) -> Verdict:
        """Count one attempt against every key (unless blocked) and say what to do."""
        ...

    def blocked_until(self, keys: Sequence[ThrottleKey], now: datetime) -> datetime | None:
        """When the latest block among `keys` ends, or None; counts nothing."""
        ...

    def succeeded(self, user: ThrottleKey, address: ThrottleKey) -> None:
        """Forget the username's failures and take this attempt back from the address."""
        ...

    def sweep(self, now: datetime) -> int:
        """Drop counts whose window and block are over; returns how many."""
        ...

    def close(self) -> None:
        """Release connections (when the app stops)."""
        ...


class DatabaseThrottle:
    """Counts in the `login_throttle` table, each key updated by one atomic upsert."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table: sa.Table = LoginThrottle.__table__  # type: ignore[attr-defined]

    def _upsert(self, key: ThrottleKey, now: datetime) -> Any:
        t = self.table
        limit = key.limit
        cutoff = now - limit.window
        blocked = t.c.blocked_until > now  # NULL (no block) counts as false in CASE
        expired = t.c.window_start <= cutoff
        new_block = sa.literal(now + limit.block, UTCDateTime())
        insert_fn = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        insert = insert_fn(t).values(key=key.name, failures=1, window_start=now, blocked_until=None)
        # Inside DO UPDATE, `t.c.*` are the stored row's values before this update.
        return insert.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "failures": sa.case((blocked, t.c.failures), (expired, 1), else_=t.c.failures + 1),
                "window_start": sa.case(
                    (blocked, t.c.window_start),
                    (expired, sa.literal(now, UTCDateTime())),
                    else_=t.c.window_start,
                ),
                "blocked_until": sa.case(
                    (blocked, t.c.blocked_until),
                    (sa.and_(~expired, t.c.failures + 1 > limit.block_after), new_block),
                    else_=sa.null(),
                ),
            },
        ).returning(t.c.failures, t.c.blocked_until)

    def attempt(self, keys: Sequence[ThrottleKey], now: datetime) -> Verdict:
        """Count one attempt against every key (unless blocked) and say what to do."""
        results: list[tuple[ThrottleKey, int, datetime | None]] = []
        with session_scope(self.engine) as session:
            for key in keys:
                failures, until = session.execute(self._upsert(key, now)).one()
                results.append((key, int(failures), until))
        return _verdict(results, now)

    def blocked_until(self, keys: Sequence[ThrottleKey], now: datetime) -> datetime | None:
        """When the latest block among `keys` ends, or None; counts nothing."""
        t = self.table
        with self.engine.connect() as conn:
            until = conn.execute(
                sa.select(sa.func.max(t.c.blocked_until)).where(
                    t.c.key.in_([key.name for key in keys]), t.c.blocked_until > now
                )
            ).scalar()
        return until if isinstance(until, datetime) else None

    def succeeded(self, user: ThrottleKey, address: ThrottleKey) -> None:
        """Forget the username's failures and take this attempt back from the address."""
        t = self.table
        with session_scope(self.engine) as session:
            session.execute(sa.delete(t).where(t.c.key == user.name))
            session.execute(
                sa.update(t)
                .where(t.c.key == address.name, t.c.failures > 0)
                .values(failures=t.c.failures - 1)
            )

    def sweep(self, now: datetime) -> int:
        """Drop counts whose window and block are over; returns how many."""
        t = self.table
        longest = max(USERNAME_LIMIT.window, ADDRESS_LIMIT.window)
        with session_scope(self.engine) as session:
            result = session.execute(
                sa.delete(t).where(
                    t.c.window_start <= now - longest,
                    sa.or_(t.c.blocked_until.is_(None), t.c.blocked_until <= now),
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def close(self) -> None:
        """Nothing to release: the engine belongs to the app."""


# One key, atomically: no count while blocked; a new window when the old one is over;
# a block once the count passes the limit. Times are Unix seconds, kept to the microsecond
# (Lua's tostring would round them to 14 digits).
_ATTEMPT_LUA = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local block_after = tonumber(ARGV[3])
local block = tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'failures', 'window_start', 'blocked_until')
local failures = tonumber(h[1]) or 0
local start = tonumber(h[2]) or 0
local blocked = tonumber(h[3]) or 0
local function fmt(x) return string.format('%.6f', x) end
if blocked > now then return {failures, fmt(blocked)} end
if start + window <= now then failures = 1; start = now else failures = failures + 1 end
if failures > block_after then blocked = now + block else blocked = 0 end
redis.call('HSET', KEYS[1], 'failures', failures, 'window_start', fmt(start),
           'blocked_until', fmt(blocked))
redis.call('EXPIRE', KEYS[1], math.ceil(math.max(window, block)) + 1)
return {failures, fmt(blocked)}
"""

_TAKE_BACK_LUA = """
local f = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
if f > 0 then redis.call('HINCRBY', KEYS[1], 'failures', -1) end
return f
"""


class RedisThrottle:
    """Counts in Redis hashes (`<prefix><key>`) that expire by themselves."""

    def __init__(self, client: Any, prefix: str = "qm:login-throttle:") -> None:
        # `client` is a synchronous redis.Redis; its calls run in worker threads.
        self.client = client
        self.prefix = prefix
        self._attempt = client.register_script(_ATTEMPT_LUA)
        self._take_back = client.register_script(_TAKE_BACK_LUA)

    @classmethod
    def from_url(cls, url: str) -> "RedisThrottle":
        """A throttle on the Redis server at `url`."""
        import redis

        return cls(redis.Redis.from_url(url))

    def attempt(self, keys: Sequence[ThrottleKey], now: datetime) -> Verdict:
        """Count one attempt against every key (unless blocked) and say what to do."""
        results: list[tuple[ThrottleKey, int, datetime | None]] = []
        for key in keys:
            limit = key.limit
            failures, blocked = self._attempt(
                keys=[self.prefix + key.name],
                args=[
                    repr(now.timestamp()),
                    limit.window.total_seconds(),
                    limit.block_after,
                    limit.block.total_seconds(),
                ],
            )
            until = float(blocked)
            results.append((key, int(failures), _from_unix(until) if until > 0 else None))
        return _verdict(results, now)

    def blocked_until(self, keys: Sequence[ThrottleKey], now: datetime) -> datetime | None:
        """When the latest block among `keys` ends, or None; counts nothing."""
        ends = [
            _from_unix(float(raw))
            for key in keys
            if (raw := self.client.hget(self.prefix + key.name, "blocked_until")) is not None
            and float(raw) > now.timestamp()
        ]
        return max(ends) if ends else None

    def succeeded(self, user: ThrottleKey, address: ThrottleKey) -> None:
        """Forget the username's failures and take this attempt back from the address."""
        self.client.delete(self.prefix + user.name)
        self._take_back(keys=[self.prefix + address.name])

    def sweep(self, now: datetime) -> int:  # noqa: ARG002
        """Nothing to do: Redis expires the counts by itself."""
        return 0

    def close(self) -> None:
        """Close the connections to Redis."""
        self.client.close()


def _from_unix(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=utcnow().tzinfo)
