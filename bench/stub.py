"""The upstream both servers call during the benchmark: a tiny HTTP/1.1 server on 127.0.0.1.

It answers the Fortnox operations the benchmark calls with fixed JSON that matches the spec's
response schemas (FastMCP validates responses against them):

- `GET /3/customers/{CustomerNumber}` -> `{"Customer": {...}}`
- `GET /3/customers` -> `{"MetaInformation": {...}, "Customers": [...]}`
- `GET /__stats` -> `{"requests": N}`: how many vendor requests it has answered, so the harness
  can check that every measured call really reached the upstream.

Anything else gets 404 with a Fortnox-style error body. Connections are kept alive and each
response is written in one piece (no Nagle/delayed-ACK stalls between header and body).

Run: `python -m bench.stub` prints `READY <port>` on stdout once it listens (port 0 = any free
port, or `--port N`), then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket
import sys

CUSTOMER_PATH = re.compile(r"^/3/customers/([^/?]+)$")


def customer(number: str) -> dict[str, object]:
    """A customer record that the Fortnox description's `Customer` schema accepts (FastMCP and the
    official client check answers against it)."""
    return {
        "@url": f"https://api.fortnox.se/3/customers/{number}",
        "Active": True,
        "Address1": "Storgatan 1",
        "Address2": "",
        "City": "Lund",
        "Comments": "",
        "CostCenter": "",
        "Country": "Sverige",
        "CountryCode": "SE",
        "Currency": "SEK",
        "CustomerNumber": number,
        "DeliveryAddress1": "",
        "DeliveryCity": "",
        "DeliveryCountry": "",
        "DeliveryName": "",
        "DeliveryZipCode": "",
        "Email": "info@example.se",
        "EmailInvoice": "faktura@example.se",
        "ExternalReference": "",
        "GLN": "7300009000001",
        "InvoiceDiscount": 0.0,
        "InvoiceRemark": "",
        "Name": "Acme AB",
        "OrganisationNumber": "556000-0000",
        "OurReference": "",
        "Phone1": "046-123456",
        "PriceList": "A",
        "Project": "",
        "SalesAccount": "3001",
        "ShowPriceVATIncluded": False,
        "TermsOfDelivery": "",
        "TermsOfPayment": "30",
        "Type": "COMPANY",
        "VATNumber": "SE556000000001",
        "VATType": "SEVAT",
        "WWW": "",
        "WayOfDelivery": "",
        "YourReference": "",
        "ZipCode": "22100",
    }


def customer_list() -> dict[str, object]:
    items = [
        {
            "@url": f"https://api.fortnox.se/3/customers/{n}",
            "Address1": "Storgatan 1",
            "City": "Lund",
            "CustomerNumber": str(n),
            "Email": "info@example.se",
            "Name": f"Customer {n}",
            "OrganisationNumber": "556000-0000",
            "Phone": "046-123456",
            "ZipCode": "22100",
        }
        for n in range(1, 11)
    ]
    meta = {"@CurrentPage": 1, "@TotalPages": 1, "@TotalResources": len(items)}
    return {"MetaInformation": meta, "Customers": items}


NOT_FOUND = {"ErrorInformation": {"error": 1, "message": "Kan inte hitta sökvägen.", "code": 2000428}}


class Stub:
    def __init__(self) -> None:
        self.requests = 0

    def answer(self, method: str, target: str) -> tuple[int, object]:
        path = target.split("?", 1)[0]
        if path == "/__stats":
            return 200, {"requests": self.requests}
        self.requests += 1
        if method == "GET" and path == "/3/customers":
            return 200, customer_list()
        match = CUSTOMER_PATH.match(path)
        if method == "GET" and match:
            return 200, {"Customer": customer(match.group(1))}
        return 404, NOT_FOUND

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length:
                    await reader.readexactly(length)
                status, payload = self.answer(method, target)
                body = json.dumps(payload, ensure_ascii=False).encode()
                reason = "OK" if status == 200 else "Not Found"
                keep = headers.get("connection", "").lower() != "close"
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: {'keep-alive' if keep else 'close'}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                if not keep:
                    return
        finally:
            writer.close()


async def serve(port: int) -> None:
    stub = Stub()
    server = await asyncio.start_server(stub.handle, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the benchmark's stub upstream on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free port)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
