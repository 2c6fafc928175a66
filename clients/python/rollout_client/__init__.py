"""Python client of the `rollout` controller: cached flags, local assignment, circuit breaker.

    from rollout_client import RolloutClient
    client = RolloutClient("http://127.0.0.1:8080", defaults={"LEARNING_APPLY_PARAMETERS": "false"})
    if client.enabled_for("learning-intelligence", "AAPL"): ...
"""

from .assignment import ASSIGNMENT_VERSION, draw, draw_u64
from .breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpenError
from .client import Refresh, RolloutClient, rollout_prefixes
from .sources import (
    FlagRow,
    HTTPSource,
    PostgresSource,
    Source,
    SourceError,
    SQLiteSource,
    StreamUnsupported,
    TableSnapshot,
    source_from_url,
)

__all__ = [
    "ASSIGNMENT_VERSION", "CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker", "CircuitOpenError",
    "FlagRow", "HTTPSource", "PostgresSource", "Refresh", "RolloutClient", "SQLiteSource",
    "Source", "SourceError", "StreamUnsupported", "TableSnapshot", "draw", "draw_u64",
    "rollout_prefixes", "source_from_url",
]
__version__ = "0.1.0"
