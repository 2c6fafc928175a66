"""`AsyncRolloutClient`: the client for asyncio services (FastAPI, aiohttp, ...).

Standard library only. It wraps a `RolloutClient`: reads are the same synchronous, lock-free
cache lookups (no I/O, nothing to await), and everything that does I/O (start-up, writes,
the learning service, closing) runs in a worker thread so the event loop never blocks.
`on_change` may be a coroutine function; it then runs on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, TypeVar, Union

from .api import RetryPolicy, WriteResult
from .client import RolloutClient
from .sources import FlagRow, Source

T = TypeVar("T")


class AsyncRolloutClient:
    """Create it, then `await client.start()` (or `async with AsyncRolloutClient(...) as
    client:`, or `client = await AsyncRolloutClient.connect(...)`). Arguments are those of
    `RolloutClient`. Start-up waits at most `timeout` (in a thread, not on the loop)."""

    def __init__(self, source: Union[Source, str], **kwargs: Any) -> None:
        self._source = source
        self._kwargs = kwargs
        self._client: Optional[RolloutClient] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    @classmethod
    async def connect(cls, source: Union[Source, str], **kwargs: Any) -> "AsyncRolloutClient":
        client = cls(source, **kwargs)
        await client.start()
        return client

    async def start(self) -> "AsyncRolloutClient":
        if self._client is not None:
            return self
        self._loop = asyncio.get_running_loop()
        kwargs = dict(self._kwargs)
        listener = kwargs.pop("on_change", None)
        if listener is not None:
            kwargs["on_change"] = self._on_loop(listener)
        self._client = await self._run(functools.partial(RolloutClient, self._source, **kwargs))
        return self

    def _on_loop(self, listener: Callable[..., Any]) -> Callable[..., None]:
        """Run the listener on the event loop (scheduled from the refresher thread)."""
        loop = self._loop
        assert loop is not None
        is_coroutine = inspect.iscoroutinefunction(listener)

        def call(*args: Any) -> None:
            if loop.is_closed():
                return
            if is_coroutine:
                asyncio.run_coroutine_threadsafe(listener(*args), loop)
            else:
                loop.call_soon_threadsafe(listener, *args)

        return call

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    @property
    def sync(self) -> RolloutClient:
        """The underlying `RolloutClient` (for code that is not async)."""
        if self._client is None:
            raise RuntimeError("AsyncRolloutClient is not started: await client.start() or use `async with`")
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._run(self._client.close)

    async def __aenter__(self) -> "AsyncRolloutClient":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # Reads: no I/O, no await (see RolloutClient for each).

    def flag(self, key: str, default: Optional[str] = None) -> Optional[str]:
        return self.sync.flag(key, default)

    def flags(self) -> Dict[str, str]:
        return self.sync.flags()

    def rows(self) -> Dict[str, FlagRow]:
        return self.sync.rows()

    @property
    def version(self) -> Optional[int]:
        return self.sync.version

    @property
    def origin(self) -> str:
        return self.sync.origin

    def is_enabled(self, name: str, unit: Optional[str] = None, default: bool = False) -> bool:
        return self.sync.is_enabled(name, unit, default)

    def enabled_for(self, rollout: str, unit: str) -> bool:
        return self.sync.enabled_for(rollout, unit)

    def variant(self, rollout: str, unit: str) -> Optional[str]:
        return self.sync.variant(rollout, unit)

    def get_number(self, key: str, default: Optional[Union[int, float]] = None) -> Optional[Union[int, float]]:
        return self.sync.get_number(key, default)

    def get_json(self, key: str, default: Any = None) -> Any:
        return self.sync.get_json(key, default)

    def parameters_for(self, rollout: str, unit: str,
                       default: Optional[Mapping[str, float]] = None) -> Optional[Dict[str, float]]:
        return self.sync.parameters_for(rollout, unit, default)

    def rollout_flags(self, rollout: str) -> Dict[str, str]:
        return self.sync.rollout_flags(rollout)

    def stats(self) -> Dict[str, Any]:
        return self.sync.stats()

    # I/O: awaited, run in a worker thread.

    async def refresh(self) -> bool:
        return await self._run(self.sync.refresh)

    async def post_observations(self, rollout: str, observations: Iterable[Mapping[str, Any]], *,
                                retry: Optional[RetryPolicy] = None) -> WriteResult:
        rows = list(observations)  # iterate on the loop: a generator may not be thread-safe
        return await self._run(functools.partial(self.sync.post_observations, rollout, rows, retry=retry))

    async def collect_discovery_data(self, records: Any, *, retry: Optional[RetryPolicy] = None) -> WriteResult:
        return await self._run(functools.partial(self.sync.collect_discovery_data, records, retry=retry))

    async def collect_thesis_decision(self, records: Any, *, retry: Optional[RetryPolicy] = None) -> WriteResult:
        return await self._run(functools.partial(self.sync.collect_thesis_decision, records, retry=retry))

    async def collect_trade_outcome(self, records: Any, *, retry: Optional[RetryPolicy] = None) -> WriteResult:
        return await self._run(functools.partial(self.sync.collect_trade_outcome, records, retry=retry))

    async def discovery_parameters(self, rollout: Optional[str] = None) -> Dict[str, Any]:
        return await self._run(functools.partial(self.sync.discovery_parameters, rollout))

    def __repr__(self) -> str:
        return f"Async{self._client!r}" if self._client is not None else "AsyncRolloutClient(not started)"
