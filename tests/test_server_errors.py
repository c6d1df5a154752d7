"""Vendor statuses map to stable codes through one table, each with what a caller can act on."""

from __future__ import annotations

import pytest

from ledgermcp.server import errors

TOOL = {"name": "get_invoice", "scopes": ["invoice"]}


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, errors.VALIDATION_ERROR),
        (401, errors.UNAUTHORIZED),
        (403, errors.FORBIDDEN),
        (404, errors.NOT_FOUND),
        (408, errors.TIMEOUT),
        (409, errors.CONFLICT),
        (418, errors.UPSTREAM_ERROR),
        (422, errors.VALIDATION_ERROR),
        (429, errors.RATE_LIMITED),
        (500, errors.UPSTREAM_ERROR),
        (503, errors.UPSTREAM_ERROR),
        (504, errors.TIMEOUT),
    ],
)
def test_each_status_gets_its_code_and_a_hint(status: int, code: str) -> None:
    failure = errors.from_status(status, tool=TOOL, vendor="acme", message="vendor text")
    assert (failure.code, failure.status, failure.sent) == (code, status, True)
    assert failure.message.startswith("get_invoice: ") and f"{status}" in failure.message
    assert failure.hint and failure.vendor_message == "vendor text"


def test_details_name_what_to_act_on() -> None:
    forbidden = errors.from_status(403, tool=TOOL, vendor="acme", message=None)
    assert forbidden.details == {"required_scopes": ["invoice"]} and "invoice" in forbidden.hint
    missing = errors.from_status(404, tool=TOOL, vendor="acme", message=None, path_values=[("id", "7")])
    assert missing.details == {"not_found": {"id": "7"}} and "id='7'" in missing.message
    unauthorised = errors.from_status(401, tool=TOOL, vendor="acme", message=None, has_credentials=False)
    assert "no credentials" in unauthorised.message and "ledgermcp login acme" in unauthorised.hint


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), (" 12 ", 12.0), ("soon", None), ("1.5", None), ("Wed, 21 Oct 2015 07:28:00", None)],
)
def test_retry_after_is_read_by_the_one_parser(header: str, seconds: float | None) -> None:
    """Delta-seconds are whole numbers and HTTP dates carry GMT: anything else is no promise."""
    failure = errors.from_status(429, tool=TOOL, vendor="acme", message=None, retry_after=header)
    assert failure.details.get("retry_after_seconds") == seconds
    assert (f"after {seconds:.0f} seconds" if seconds is not None else "in a few seconds") in failure.hint


def test_a_past_http_date_means_retry_now() -> None:
    failure = errors.from_status(
        429, tool=TOOL, vendor="acme", message=None, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"
    )
    assert failure.details["retry_after_seconds"] == 0.0
