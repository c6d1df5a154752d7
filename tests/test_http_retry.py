"""The retry rule: the pure decision function and both transport wrappers, on a simulated clock."""

from __future__ import annotations

import contextlib
import email.utils

import anyio.lowlevel
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgermcp.server.http.errors import RETRIES_KEY, Code, classify_exception, classify_rate_limited
from ledgermcp.server.http.retry import AsyncRetryTransport, RetryPolicy, RetryTransport, decide


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await anyio.lowlevel.checkpoint()


def scripted(outcomes: list[int | type[Exception]], calls: list[httpx.Request]):
    """A MockTransport handler answering with the given statuses / raising the given errors in turn."""

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        outcome = outcomes[min(len(calls), len(outcomes)) - 1]
        if isinstance(outcome, int):
            headers = {"Retry-After": "2"} if outcome == 429 else {}
            return httpx.Response(outcome, headers=headers, json={"n": len(calls)})
        raise outcome("connection trouble", request=request)

    return handler


def sync_client(handler, clock: FakeClock, policy: RetryPolicy | None = None) -> httpx.Client:
    transport = RetryTransport(
        httpx.MockTransport(handler),
        policy,
        clock=clock,
        sleep=clock.sleep,
        wall_clock=clock,
        jitter=lambda: 0.5,
    )
    return httpx.Client(transport=transport, base_url="https://api.example.test")


def async_client(handler, clock: FakeClock, policy: RetryPolicy | None = None) -> httpx.AsyncClient:
    transport = AsyncRetryTransport(
        httpx.MockTransport(handler),
        policy,
        clock=clock,
        sleep=clock.asleep,
        wall_clock=clock,
        jitter=lambda: 0.5,
    )
    return httpx.AsyncClient(transport=transport, base_url="https://api.example.test")


# ---------------------------------------------------------------------------- decide()

POLICY = RetryPolicy(
    max_attempts=4, base_backoff=0.5, max_backoff=8.0, max_retry_after=30.0, max_elapsed=60.0
)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_idempotent_methods_retry_on_retryable_statuses(method: str, status: int) -> None:
    assert decide(method=method, attempt=1, elapsed=0, policy=POLICY, status=status).retry


@pytest.mark.parametrize("status", [200, 201, 301, 400, 401, 403, 404, 409, 422])
def test_other_statuses_are_final(status: int) -> None:
    assert not decide(method="GET", attempt=1, elapsed=0, policy=POLICY, status=status).retry


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_writes_are_never_resent_after_a_response(method: str, status: int) -> None:
    decision = decide(method=method, attempt=1, elapsed=0, policy=POLICY, status=status)
    assert not decision.retry
    assert "not idempotent" in decision.reason


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
def test_connect_errors_are_retried_for_every_method(method: str, error: type[Exception]) -> None:
    assert decide(method=method, attempt=1, elapsed=0, policy=POLICY, error=error("x")).retry


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "error",
    [httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.PoolTimeout],
)
def test_errors_after_connecting_are_not_retried(method: str, error: type[Exception]) -> None:
    assert not decide(method=method, attempt=1, elapsed=0, policy=POLICY, error=error("x")).retry


def test_retry_after_seconds_and_http_date() -> None:
    now = 1_700_000_000.0
    seconds = decide(method="GET", attempt=1, elapsed=0, policy=POLICY, status=429, retry_after="2", now=now)
    assert seconds.retry and seconds.delay == 2.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    dated = decide(method="GET", attempt=1, elapsed=0, policy=POLICY, status=503, retry_after=date, now=now)
    assert dated.retry and dated.delay == pytest.approx(7.0)
    past = email.utils.formatdate(now - 100, usegmt=True)
    assert (
        decide(method="GET", attempt=1, elapsed=0, policy=POLICY, status=503, retry_after=past, now=now).delay
        == 0
    )


def test_retry_after_beyond_the_cap_is_handed_back() -> None:
    decision = decide(method="GET", attempt=1, elapsed=0, policy=POLICY, status=429, retry_after="3600")
    assert not decision.retry and "cap" in decision.reason


def test_garbage_retry_after_falls_back_to_backoff() -> None:
    decision = decide(
        method="GET", attempt=1, elapsed=0, policy=POLICY, status=503, retry_after="soon", jitter=lambda: 0.5
    )
    assert decision.retry and decision.delay == pytest.approx(0.25)


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(max_attempts=20, base_backoff=0.5, max_backoff=8.0, max_elapsed=1e9)
    top = [
        decide(method="GET", attempt=n, elapsed=0, policy=policy, status=503, jitter=lambda: 1.0).delay
        for n in range(1, 8)
    ]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert (
        decide(method="GET", attempt=3, elapsed=0, policy=policy, status=503, jitter=lambda: 0.0).delay == 0.0
    )


def test_attempt_and_time_bounds() -> None:
    assert not decide(method="GET", attempt=4, elapsed=0, policy=POLICY, status=503).retry
    late = decide(method="GET", attempt=1, elapsed=59.0, policy=POLICY, status=429, retry_after="2")
    assert not late.retry and "time budget" in late.reason


def test_unreplayable_body_is_not_resent() -> None:
    assert not decide(method="PUT", attempt=1, elapsed=0, policy=POLICY, status=503, replayable=False).retry


# ---------------------------------------------------------------------------- transports


def test_get_retried_on_503_then_succeeds() -> None:
    clock, calls = FakeClock(), []
    with sync_client(scripted([503, 200], calls), clock) as client:
        response = client.get("/invoices")
    assert response.status_code == 200 and response.json() == {"n": 2}
    assert len(calls) == 2
    assert response.extensions[RETRIES_KEY] == 1
    assert clock.sleeps == [0.25]  # base 0.5 * jitter 0.5


@pytest.mark.anyio
async def test_get_retried_on_503_then_succeeds_async() -> None:
    clock, calls = FakeClock(), []
    async with async_client(scripted([503, 200], calls), clock) as client:
        response = await client.get("/invoices")
    assert response.status_code == 200 and len(calls) == 2
    assert response.extensions[RETRIES_KEY] == 1


@pytest.mark.anyio
async def test_429_with_retry_after_waits_two_seconds_then_retries() -> None:
    clock, calls = FakeClock(), []
    start = clock.now
    async with async_client(scripted([429, 200], calls), clock) as client:
        response = await client.get("/invoices")
    assert response.status_code == 200
    assert clock.sleeps == [2.0]
    assert clock.now - start == 2.0
    assert len(calls) == 2


def test_429_with_retry_after_waits_two_seconds_then_retries_sync() -> None:
    clock, calls = FakeClock(), []
    with sync_client(scripted([429, 200], calls), clock) as client:
        assert client.get("/invoices").status_code == 200
    assert clock.sleeps == [2.0]


@pytest.mark.parametrize("error", [httpx.ReadError, httpx.RemoteProtocolError])
@pytest.mark.anyio
async def test_post_dying_after_send_is_not_retried_and_warns_the_write_may_have_happened(
    error: type[Exception],
) -> None:
    clock, calls = FakeClock(), []
    async with async_client(scripted([error, 201], calls), clock) as client:
        with pytest.raises(error) as caught:
            await client.post("/invoices", json={"Invoice": {"CustomerNumber": "1"}})
    assert len(calls) == 1 and clock.sleeps == []
    failure = classify_exception(caught.value)
    assert failure.code is Code.NETWORK_ERROR
    assert failure.may_have_been_sent
    assert "may have been applied" in failure.hint
    assert failure.retries == 0
    assert any("may have happened" in note for note in caught.value.__notes__)


def test_post_read_timeout_is_a_timeout_that_may_have_been_applied() -> None:
    clock, calls = FakeClock(), []
    with (
        sync_client(scripted([httpx.ReadTimeout], calls), clock) as client,
        pytest.raises(httpx.ReadTimeout) as caught,
    ):
        client.post("/invoices", json={})
    failure = classify_exception(caught.value)
    assert failure.code is Code.TIMEOUT and failure.may_have_been_sent
    assert len(calls) == 1


def test_post_connect_error_before_sending_is_retried() -> None:
    clock, calls = FakeClock(), []
    with sync_client(scripted([httpx.ConnectError, 201], calls), clock) as client:
        response = client.post("/invoices", json={"a": 1})
    assert response.status_code == 201 and len(calls) == 2
    assert calls[0].content == calls[1].content


def test_post_503_is_handed_back_unretried() -> None:
    clock, calls = FakeClock(), []
    with sync_client(scripted([503, 201], calls), clock) as client:
        assert client.post("/invoices", json={}).status_code == 503
    assert len(calls) == 1


def test_get_that_never_connects_reports_network_error_without_write_warning() -> None:
    clock, calls = FakeClock(), []
    with (
        sync_client(scripted([httpx.ConnectError], calls), clock) as client,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        client.get("/invoices")
    failure = classify_exception(caught.value)
    assert failure.code is Code.NETWORK_ERROR and not failure.may_have_been_sent
    assert failure.retries == 3
    assert len(calls) == 4


def test_exhausted_429_is_classified_rate_limited() -> None:
    clock, calls = FakeClock(), []
    with sync_client(scripted([429], calls), clock, RetryPolicy(max_attempts=2)) as client:
        response = client.get("/invoices")
    failure = classify_rate_limited(response)
    assert failure is not None and failure.code is Code.RATE_LIMITED
    assert failure.retry_after == 2.0 and failure.retries == 1


def test_streamed_put_body_is_not_resent() -> None:
    clock, calls = FakeClock(), []

    def chunks():
        yield b"part"

    with sync_client(scripted([503, 200], calls), clock) as client:
        assert client.put("/files/1", content=chunks()).status_code == 503
    assert len(calls) == 1


@settings(max_examples=60, deadline=None)
@given(
    max_attempts=st.integers(min_value=1, max_value=6),
    outcomes=st.lists(
        st.sampled_from([200, 408, 429, 500, 503, 404, httpx.ConnectError, httpx.ReadError]),
        min_size=1,
        max_size=10,
    ),
    method=st.sampled_from(["GET", "PUT", "DELETE", "POST", "PATCH"]),
)
def test_attempts_never_exceed_the_bound(max_attempts: int, outcomes: list, method: str) -> None:
    policy = RetryPolicy(max_attempts=max_attempts, max_elapsed=30.0)
    clock, calls = FakeClock(), []
    with (
        sync_client(scripted(outcomes, calls), clock, policy) as client,
        contextlib.suppress(httpx.TransportError),
    ):
        client.request(method, "/x", json={"a": 1})
    assert 1 <= len(calls) <= max_attempts
    assert sum(clock.sleeps) <= policy.max_elapsed
    if method in ("POST", "PATCH"):
        # a write is re-sent only after connect errors
        assert all(o is httpx.ConnectError for o in outcomes[: len(calls) - 1])
