"""Python client of the `rollout` controller: cached flags, local assignment, the SDK helpers.

    from rollout_client import RolloutClient
    client = RolloutClient("http://127.0.0.1:8080", defaults={"LEARNING_APPLY_PARAMETERS": "false"})
    if client.is_enabled("learning-intelligence", "AAPL"): ...
    weights = client.parameters_for("learning-intelligence", "AAPL")
"""

from .aio import AsyncRolloutClient
from .api import ApiError, RetryPolicy, WriteResult, event_id
from .assignment import ASSIGNMENT_VERSION, draw, draw_u64
from .breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpenError
from .client import Refresh, RolloutClient, rollout_prefixes
from .persist import read_snapshot_file, write_snapshot_file
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
    "ASSIGNMENT_VERSION", "ApiError", "AsyncRolloutClient", "CLOSED", "CircuitBreaker", "CircuitOpenError",
    "FlagRow", "HALF_OPEN", "HTTPSource", "OPEN", "PostgresSource", "Refresh", "RetryPolicy", "RolloutClient",
    "SQLiteSource", "Source", "SourceError", "StreamUnsupported", "TableSnapshot", "WriteResult", "draw",
    "draw_u64", "event_id", "read_snapshot_file", "rollout_prefixes", "source_from_url", "write_snapshot_file",
]
__version__ = "0.2.0"
