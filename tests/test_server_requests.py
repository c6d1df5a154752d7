"""Request building from a binding: path encoding, query styles, bodies (no network)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from fixtures.acme_tools import acme_vendor

from ledgermcp.server.requests import RequestBuildError, build_request, encode_path_value, encode_query

VENDOR = acme_vendor()


def test_path_values_are_percent_encoded_with_nothing_reserved() -> None:
    req = build_request(VENDOR.tool("get_customer"), {"CustomerNumber": "A/B ?&#%ü"})
    assert req.path == "/3/customers/A%2FB%20%3F%26%23%25%C3%BC"
    assert dict(req.path_values) == {"CustomerNumber": "A/B ?&#%ü"}
    url = req.build(httpx.AsyncClient(base_url="https://x.invalid/v2")).url
    assert url.raw_path == b"/v2/3/customers/A%2FB%20%3F%26%23%25%C3%BC"


def test_path_arrays_are_comma_joined() -> None:
    assert encode_path_value(["1", "a b", 3]) == "1,a%20b,3"
    assert encode_path_value(True) == "true"


@pytest.mark.parametrize(
    ("value", "raw_path"),
    [
        ("..", b"/v2/3/invoices/%2E%2E/bookkeep"),
        (".", b"/v2/3/invoices/%2E/bookkeep"),
        ("a..b", b"/v2/3/invoices/a..b/bookkeep"),
    ],
)
def test_dot_segments_stay_in_their_parameter(value: str, raw_path: bytes) -> None:
    """Left bare, ".." would be normalised away and PUT /3/invoices/../bookkeep reach PUT /3/bookkeep."""
    tool = {
        "name": "bookkeep_invoice",
        "binding": {
            "method": "PUT",
            "path": "/3/invoices/{DocumentNumber}/bookkeep",
            "params": [{"arg": "DocumentNumber", "name": "DocumentNumber", "in": "path", "required": True}],
            "body": None,
        },
    }
    req = build_request(tool, {"DocumentNumber": value})
    url = req.build(httpx.AsyncClient(base_url="https://x.invalid/v2")).url
    assert url.raw_path == raw_path


@pytest.mark.parametrize(
    ("style", "explode", "value", "expected"),
    [
        ("form", True, ["a", "b c"], [("ids", "a"), ("ids", "b%20c")]),
        ("form", False, ["a", "b,c"], [("ids", "a,b%2Cc")]),
        ("spaceDelimited", False, ["a", "b"], [("ids", "a%20b")]),
        ("pipeDelimited", False, [1, 2], [("ids", "1|2")]),
        ("form", True, {"k": "v w", "n": 1}, [("k", "v%20w"), ("n", "1")]),
        ("form", False, {"k": "v", "n": 1}, [("ids", "k,v,n,1")]),
        ("deepObject", True, {"k": "v&"}, [("ids%5Bk%5D", "v%26")]),
        ("form", True, False, [("ids", "false")]),
    ],
)
def test_query_styles(style: str, explode: bool, value: object, expected: list[tuple[str, str]]) -> None:
    assert encode_query("ids", value, style, explode) == expected


def test_every_style_in_one_request() -> None:
    args = {
        "itemIds": ["a&b", "c"],
        "codes": ["x", "y"],
        "spaced": ["s", "t"],
        "piped": [1, 2],
        "filter": {"status": "open"},
        "color": {"R": "100", "G": "200"},
        "deep": {"from": "2024-01-01"},
        "flag": True,
        "X-Request-Tag": "tag-1",
    }
    req = build_request(VENDOR.tool("search_stock"), args)
    assert req.target == (
        "/api/stock?itemIds=a%26b&itemIds=c&codes=x,y&spaced=s%20t&piped=1|2&status=open"
        "&color=R,100,G,200&deep%5Bfrom%5D=2024-01-01&flag=true"
    )
    assert dict(req.headers) == {"X-Request-Tag": "tag-1"}
    built = req.build(httpx.AsyncClient(base_url="https://x.invalid"))
    assert built.url.params.get_list("itemIds") == ["a&b", "c"]
    assert built.headers["X-Request-Tag"] == "tag-1"


def test_wrapped_json_body_from_flattened_fields() -> None:
    req = build_request(
        VENDOR.tool("update_customer"), {"CustomerNumber": "7", "Name": "Acme", "Active": False}
    )
    assert req.method == "PUT" and req.path == "/3/customers/7"
    assert req.json_body == {"Customer": {"Name": "Acme", "Active": False}}
    built = req.build(httpx.AsyncClient(base_url="https://x.invalid"))
    assert built.headers["content-type"] == "application/json"
    assert json.loads(built.content) == {"Customer": {"Name": "Acme", "Active": False}}


def test_unwrapped_body_and_nested_objects() -> None:
    req = build_request(VENDOR.tool("create_contact"), {"name": "N", "main_address": {"city": "Bern"}})
    assert req.json_body == {"name": "N", "main_address": {"city": "Bern"}}


def test_whole_body_argument() -> None:
    req = build_request(VENDOR.tool("set_contact_tags"), {"contactId": 3, "body": ["a", "b"]})
    assert req.path == "/contacts/3/tags" and req.json_body == ["a", "b"]


def test_optional_query_arguments_left_out() -> None:
    req = build_request(VENDOR.tool("list_customers"), {})
    assert req.target == "/3/customers" and not req.has_json_body


def test_multipart_upload_from_base64() -> None:
    content = b"%PDF-1.4 hello"
    req = build_request(
        VENDOR.tool("upload_inbox_file"), {"file": base64.b64encode(content).decode(), "path": "inbox_s"}
    )
    assert req.target == "/3/inbox?path=inbox_s"
    built = req.build(httpx.AsyncClient(base_url="https://x.invalid"))
    assert built.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = built.read()
    assert content in body and b'name="file"' in body
    assert req.describe()["files"] == [
        {
            "field": "file",
            "filename": "file",
            "bytes": len(content),
            "content_type": "application/octet-stream",
        }
    ]


def test_multipart_rejects_bad_base64() -> None:
    with pytest.raises(RequestBuildError) as info:
        build_request(VENDOR.tool("upload_inbox_file"), {"file": "not base64!!"})
    assert info.value.field == "file"


def test_describe_is_plain_and_secret_free() -> None:
    req = build_request(VENDOR.tool("create_customer"), {"Name": "Acme"})
    assert req.describe() == {
        "method": "POST",
        "path": "/3/customers",
        "body": {"Customer": {"Name": "Acme"}},
    }
