#!/usr/bin/python3
"""A WebSocket test client for Berth's tests (Debian's python3 and its python3-websockets).

Usage: ws-client.py MODE URL [options]

Each mode prints ONE JSON object on stdout and exits 0 on success; on a failure it prints an
object with an "error" key (and whatever it measured) and exits 1. Every wait is bounded by
--timeout seconds (default 20).

Modes:
  echo URL --count N --size S [--pipelined]
        N text messages of S bytes (each starts with its index), one at a time waiting for each
        echo, or with --pipelined all sent while the echoes are read; checks every echo, in order,
        then closes with 1000.
        {"sent": N, "received": N, "in_order": true, "p50_ms": .., "p99_ms": .., "close_code": 1000}
  big URL --size BYTES
        one binary message of BYTES random bytes; checks the echo is identical.
        {"size": BYTES, "identical": true, "ms": ..}
  many URL --sockets K --rounds R
        K sockets opened at once, each sends R messages and checks the echoes; all stay open
        until all are done, then all close.
        {"sockets": K, "ok": K, "failed": [..first errors..]}
  hold URL --seconds T [--message M]
        connects, sends M if given, collects what arrives and waits up to T seconds for the
        server to close (closing with 1000 itself at the end of T).
        {"closed_by": "server"|"timeout", "close_code": .., "close_reason": "..", "messages": [..]}
  open URL --seconds T
        holds the socket T seconds with a ping every second (each pong checked), then closes
        with 1000.
        {"pongs": .., "close_code": ..}
  handshake URL
        tries the opening handshake.
        {"status": 101, "headers": {..}} or, refused, {"status": 426, "body": "..", "headers": {..}}

Options:
  --header 'Name: value'   a request header (repeatable; repeats of a name add up); it replaces
                           the client's own header of that name (Host, Origin, User-Agent,
                           Sec-WebSocket-Version, ...), and 'Name:' with no value removes it
  --ca FILE                the CA certificates for wss:// URLs
  --timeout SECONDS        the bound of every wait (default 20)

"close_code" is the code of the close frame the server sent (its answer to ours, or its own).
Messages are not compressed (no permessage-deflate), so sizes on the wire are the sizes sent.
"""

import argparse
import asyncio
import functools
import json
import math
import os
import ssl
import sys
import time

import websockets
import websockets.exceptions

try:  # websockets 10.x: the legacy asyncio client
    from websockets.legacy.client import WebSocketClientProtocol
except ImportError:  # pragma: no cover - older layouts
    from websockets.client import WebSocketClientProtocol


class Failure(Exception):
    """A check that failed; `details` go into the printed object next to "error"."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


class Refused(Exception):
    """The server answered the opening handshake with another status than 101."""

    def __init__(self, status, headers, body):
        super().__init__(f"server rejected WebSocket connection: HTTP {status}")
        self.status, self.headers, self.body = status, headers, body


class Protocol(WebSocketClientProtocol):
    """The legacy client, with the --header values in place of its own headers of those names,
    also reading the body of a refused handshake (at most 1 MiB)."""

    def __init__(self, *arguments, headers=(), **options):
        super().__init__(*arguments, **options)
        self.header_overrides = headers

    def write_http_request(self, path, headers):
        for name in {name.lower() for name, _ in self.header_overrides}:
            if name in headers:
                del headers[name]
        for name, value in self.header_overrides:
            if value:
                headers[name] = value
        super().write_http_request(path, headers)

    async def wait_for_connection_lost(self):
        # After a failed opening handshake (no data transfer started) the library would wait its
        # close timeout for the server's TCP close; there is nothing to wait for: drop it now.
        if not hasattr(self, "transfer_data_task"):
            self.transport.abort()
        return await super().wait_for_connection_lost()

    async def read_http_response(self):
        status, headers = await super().read_http_response()
        if status != 101:
            raise Refused(status, headers, await self._read_body(headers))
        return status, headers

    async def _read_body(self, headers):
        limit = 1 << 20
        try:
            if "Content-Length" in headers:
                length = min(int(headers["Content-Length"]), limit)
                data = await self.reader.readexactly(length)
            elif "chunked" in headers.get("Transfer-Encoding", "").lower():
                data = b""
                while len(data) < limit:
                    size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        break
                    data += await self.reader.readexactly(size)
                    await self.reader.readline()
            else:
                data = await self.reader.read(limit)
        except (asyncio.IncompleteReadError, ValueError, ConnectionError) as error:
            data = getattr(error, "partial", b"")
        return data.decode("utf-8", "replace")


class Parser(argparse.ArgumentParser):
    """Wrong usage: the usage on stderr, the JSON error on stdout, exit 2."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(json.dumps({"error": f"usage: {message}"}))
        sys.exit(2)


def parse_arguments(argv):
    parser = Parser(
        prog="ws-client.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["echo", "big", "many", "hold", "open", "handshake"])
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--pipelined", action="store_true")
    parser.add_argument("--sockets", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--message")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--ca")
    parser.add_argument("--timeout", type=float, default=20)
    arguments = parser.parse_args(argv)
    headers = []
    for header in arguments.header:
        name, colon, value = header.partition(":")
        if not colon or not name.strip():
            parser.error(f"--header wants 'Name: value', not {header!r}")
        headers.append((name.strip(), value.strip()))
    arguments.headers = headers
    return arguments


def connect(arguments):
    """websockets.connect with the options every mode shares (keep-alive pings off)."""
    options = dict(
        create_protocol=functools.partial(Protocol, headers=arguments.headers),
        open_timeout=arguments.timeout,
        close_timeout=arguments.timeout,
        ping_interval=None,
        max_size=None,
        max_queue=None,
        compression=None,
    )
    if arguments.ca:
        options["ssl"] = ssl.create_default_context(cafile=arguments.ca)
    return websockets.connect(arguments.url, **options)


async def bounded(awaitable, arguments, what):
    try:
        return await asyncio.wait_for(awaitable, arguments.timeout)
    except asyncio.TimeoutError:
        raise Failure(f"timed out after {arguments.timeout:g} s {what}") from None


async def close(socket, arguments):
    """Closes with 1000 and returns the code of the server's close frame (None if none)."""
    try:
        await asyncio.wait_for(socket.close(code=1000), arguments.timeout)
    except asyncio.TimeoutError:
        # Which half of the closing handshake did not come: the server's close frame, or
        # (after it) the server's end of the TCP connection.
        answered = getattr(socket, "close_rcvd", None) is not None
        waited = "the TCP close after the server's close frame" if answered else "the server's close frame"
        raise Failure(f"timed out after {arguments.timeout:g} s closing (waiting for {waited})") from None
    return received_close_code(socket)


def received_close_code(socket):
    """The code of the server's close frame; 1005 if it had none, 1006 if there was no frame."""
    frame = getattr(socket, "close_rcvd", None)
    return frame.code if frame is not None else socket.close_code


def received_close_reason(socket):
    frame = getattr(socket, "close_rcvd", None)
    return frame.reason if frame is not None else socket.close_reason


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)  # the nearest rank
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return round(ordered[index], 3)


def text_message(index, size):
    prefix = f"{index:08d}:"
    return prefix + "x" * max(0, size - len(prefix))


async def mode_echo(arguments):
    sent = [text_message(i, arguments.size) for i in range(arguments.count)]
    latencies, received, in_order = [], 0, True
    mismatch = None
    async with connect(arguments) as socket:
        if arguments.pipelined:
            started = [0.0] * len(sent)

            async def send_all():
                for i, message in enumerate(sent):
                    started[i] = time.perf_counter()
                    await bounded(socket.send(message), arguments, f"sending message {i}")

            async def read_all():
                nonlocal received, in_order, mismatch
                for i, message in enumerate(sent):
                    echo = await bounded(socket.recv(), arguments, f"waiting for echo {i}")
                    latencies.append((time.perf_counter() - started[i]) * 1000)
                    received += 1
                    if echo != message and mismatch is None:
                        in_order, mismatch = False, i

            await asyncio.gather(send_all(), read_all())
        else:
            for i, message in enumerate(sent):
                start = time.perf_counter()
                await bounded(socket.send(message), arguments, f"sending message {i}")
                echo = await bounded(socket.recv(), arguments, f"waiting for echo {i}")
                latencies.append((time.perf_counter() - start) * 1000)
                received += 1
                if echo != message and mismatch is None:
                    in_order, mismatch = False, i
        close_code = await close(socket, arguments)
    result = {
        "sent": len(sent),
        "received": received,
        "in_order": in_order,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "close_code": close_code,
    }
    if not in_order:
        raise Failure(f"echo {mismatch} differs from what was sent", **result)
    if close_code != 1000:
        raise Failure(f"the server closed with {close_code}, not 1000", **result)
    return result


async def mode_big(arguments):
    data = os.urandom(arguments.size)
    async with connect(arguments) as socket:
        start = time.perf_counter()
        await bounded(socket.send(data), arguments, "sending the message")
        echo = await bounded(socket.recv(), arguments, "waiting for the echo")
        elapsed = (time.perf_counter() - start) * 1000
        await close(socket, arguments)
    identical = isinstance(echo, bytes) and echo == data
    result = {"size": arguments.size, "identical": identical, "ms": round(elapsed, 3)}
    if not identical:
        kind = "binary" if isinstance(echo, bytes) else "text"
        raise Failure(f"the echo ({kind}, {len(echo)} bytes) differs from what was sent", **result)
    return result


async def mode_many(arguments):
    everyone_done = asyncio.Event()
    finished = 0

    async def one(index):
        counted = False

        def done():  # this socket's exchange is over, well or not
            nonlocal counted, finished
            if not counted:
                counted, finished = True, finished + 1
                if finished == arguments.sockets:
                    everyone_done.set()

        try:
            async with connect(arguments) as socket:
                for round_ in range(arguments.rounds):
                    message = f"socket {index} round {round_}"
                    await bounded(socket.send(message), arguments, f"socket {index} sending")
                    echo = await bounded(socket.recv(), arguments, f"socket {index} waiting for an echo")
                    if echo != message:
                        raise Failure(f"socket {index} round {round_}: echo {echo!r}")
                done()
                # Every socket stays open until all are done (bounded: a stuck one fails itself).
                await bounded(everyone_done.wait(), arguments, f"socket {index} waiting for the others")
                if socket.closed:
                    raise Failure(f"socket {index} was closed by the server ({socket.close_code})")
                close_code = await close(socket, arguments)
                if close_code != 1000:
                    raise Failure(f"socket {index}: the server closed with {close_code}, not 1000")
            return None
        except Exception as error:  # noqa: BLE001 - every failure is reported
            return describe(error)
        finally:
            done()

    errors = await asyncio.gather(*(one(i) for i in range(arguments.sockets)))
    failed = [error for error in errors if error is not None]
    result = {"sockets": arguments.sockets, "ok": arguments.sockets - len(failed), "failed": failed[:5]}
    if failed:
        raise Failure(f"{len(failed)} of {arguments.sockets} sockets failed", **result)
    return result


async def mode_hold(arguments):
    messages = []
    async with connect(arguments) as socket:
        if arguments.message is not None:
            await bounded(socket.send(arguments.message), arguments, "sending the message")
        deadline = time.monotonic() + arguments.seconds
        closed_by = "timeout"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                message = await asyncio.wait_for(socket.recv(), left)
            except asyncio.TimeoutError:
                break
            except websockets.exceptions.ConnectionClosed:
                closed_by = "server"
                break
            messages.append(message if isinstance(message, str) else f"<binary {len(message)} bytes>")
        if closed_by == "server":
            await bounded(socket.wait_closed(), arguments, "waiting for the TCP close")
        else:
            await close(socket, arguments)
        return {
            "closed_by": closed_by,
            "close_code": received_close_code(socket),
            "close_reason": received_close_reason(socket),
            "messages": messages,
        }


async def mode_open(arguments):
    pongs = 0
    async with connect(arguments) as socket:
        start = time.monotonic()
        index = 0
        while time.monotonic() - start < arguments.seconds:
            waiter = await bounded(socket.ping(f"ping {index}".encode()), arguments, f"sending ping {index}")
            await bounded(waiter, arguments, f"waiting for pong {index}")
            pongs += 1
            index += 1
            left = start + index - time.monotonic()  # the next ping a second after this one
            left = min(left, start + arguments.seconds - time.monotonic())
            if left > 0:
                await asyncio.sleep(left)
        close_code = await close(socket, arguments)
    return {"pongs": pongs, "close_code": close_code}


async def mode_handshake(arguments):
    try:
        socket = await bounded(connect(arguments), arguments, "waiting for the handshake")
    except Refused as refused:
        return {"status": refused.status, "body": refused.body, "headers": dict(refused.headers.raw_items())}
    headers = dict(socket.response_headers.raw_items())
    await close(socket, arguments)
    return {"status": 101, "headers": headers}


def describe(error):
    if isinstance(error, (Failure, Refused)):
        return str(error)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def run(arguments):
    """The mode's result; a failure is printed at once and ends the process without waiting for
    the library's own cleanup (which can wait its close timeout once more)."""
    mode = globals()["mode_" + arguments.mode]
    try:
        return await mode(arguments)
    except Failure as failure:
        report = {"error": str(failure), **failure.details}
    except Refused as refused:
        report = {"error": str(refused), "status": refused.status, "body": refused.body}
    except Exception as error:  # noqa: BLE001 - every failure becomes the JSON error
        report = {"error": describe(error)}
    print(json.dumps(report), flush=True)
    os._exit(1)


def main(argv):
    arguments = parse_arguments(argv)
    result = asyncio.run(run(arguments))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
