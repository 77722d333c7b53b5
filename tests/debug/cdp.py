"""A small Chrome DevTools Protocol client, as VS Code's and Chrome's Node debuggers talk to
node's inspector: the target from http://HOST:PORT/json/list, then JSON messages over its
WebSocket (requests answered by `id`, events by `method`); and a source map reader, for what a
debugger does with a bundle's `sourceMappingURL` (V8 knows nothing of TypeScript)."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import aiohttp


class CdpError(Exception):
    pass


class CdpSession:
    """One WebSocket session with a node inspector; every event it sends is kept, in order."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._http = http
        self._ws = ws
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._seen = 0  # events before this index were handed out by `next_event`
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def attach(cls, port: int, timeout: float = 60) -> CdpSession:
        """The first target on `port`, once its inspector answers (a function's instance starts
        with its first invocation)."""
        http = aiohttp.ClientSession()
        try:
            url = await websocket_url(http, port, timeout)
            ws = await http.ws_connect(url, max_msg_size=0)
        except BaseException:
            await http.close()
            raise
        return cls(http, ws)

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                if "id" in data:
                    answer = self._answers.pop(data["id"], None)
                    if answer is not None and not answer.done():
                        answer.set_result(data)
                else:
                    self.events.append(data)
                    self._arrived.set()
        finally:
            for answer in self._answers.values():
                if not answer.done():
                    answer.set_exception(CdpError("the inspector closed the connection"))
            self._arrived.set()

    async def call(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        """A request and its result (CdpError when the inspector answers with an error)."""
        number = next(self._ids)
        answer = self._answers[number] = asyncio.get_running_loop().create_future()
        await self._ws.send_str(json.dumps({"id": number, "method": method, "params": params}))
        async with asyncio.timeout(timeout):
            data = await answer
        if "error" in data:
            raise CdpError(f"{method}: {data['error']}")
        result: dict[str, Any] = data.get("result", {})
        return result

    async def next_event(self, method: str, timeout: float = 60) -> dict[str, Any]:
        """The params of the next `method` event not handed out yet (earlier events of other
        methods are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                for index in range(self._seen, len(self.events)):
                    if self.events[index]["method"] == method:
                        self._seen = index + 1
                        params: dict[str, Any] = self.events[index].get("params", {})
                        return params
                if self._reader.done():
                    raise CdpError(f"the inspector closed the connection before {method}")
                self._arrived.clear()
                await self._arrived.wait()

    def script(self, script_id: str) -> dict[str, Any]:
        """The `Debugger.scriptParsed` params of `script_id`."""
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Debugger.scriptParsed" and params["scriptId"] == script_id:
                return dict(params)
        raise CdpError(f"no script {script_id} was parsed")

    async def wait_script(self, suffix: str, timeout: float = 60) -> dict[str, Any]:
        """The `Debugger.scriptParsed` params of the first script whose URL ends with `suffix`,
        parsed already or once it is."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    params = event.get("params", {})
                    if event["method"] == "Debugger.scriptParsed" and str(
                        params.get("url", "")
                    ).endswith(suffix):
                        return dict(params)
                if self._reader.done():
                    raise CdpError(f"the inspector closed the connection before {suffix} loaded")
                self._arrived.clear()
                await self._arrived.wait()

    async def close(self) -> None:
        await self._ws.close()
        await self._reader
        await self._http.close()


async def websocket_url(http: aiohttp.ClientSession, port: int, timeout: float) -> str:
    """`webSocketDebuggerUrl` of the first target /json/list names, waiting for the inspector."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json(content_type=None)
            if targets:
                return str(targets[0]["webSocketDebuggerUrl"])
        except (aiohttp.ClientError, ValueError):
            pass
        if loop.time() > deadline:
            raise AssertionError(f"no inspector answered on 127.0.0.1:{port} within {timeout} s")
        await asyncio.sleep(0.1)


def file_of(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


# -- source maps (version 3): the `mappings` field, Base64 VLQ ----------------------------------

BASE64 = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def vlq_values(segment: str) -> list[int]:
    values, shift, value = [], 0, 0
    for char in segment:
        digit = BASE64[char]
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        shift, value = 0, 0
    return values


class SourceMap:
    """Which original line and column each generated position came from (0-based lines)."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text())
        folder = path.parent
        self.sources = [(folder / name).resolve() for name in data["sources"]]
        # (generated line, generated column, source index, original line, original column)
        self.entries: list[tuple[int, int, int, int, int]] = []
        source = line = column = 0
        for generated_line, text in enumerate(data["mappings"].split(";")):
            generated_column = 0
            for segment in filter(None, text.split(",")):
                values = vlq_values(segment)
                generated_column += values[0]
                if len(values) >= 4:
                    source += values[1]
                    line += values[2]
                    column += values[3]
                    self.entries.append((generated_line, generated_column, source, line, column))

    def generated(self, source: Path, line: int) -> tuple[int, int]:
        """The first generated position of original `line` of `source`."""
        index = self.sources.index(source.resolve())
        found = sorted((g, c) for g, c, s, o, _ in self.entries if s == index and o == line)
        if not found:
            raise AssertionError(f"line {line} of {source} maps to nothing")
        return found[0]

    def original(self, line: int, column: int) -> tuple[Path, int]:
        """The original file and line of generated position (line, column)."""
        before = [e for e in self.entries if (e[0], e[1]) <= (line, column)]
        if not before:
            raise AssertionError(f"{line}:{column} maps to nothing")
        _, _, source, original_line, _ = max(before, key=lambda e: (e[0], e[1]))
        return self.sources[source], original_line
