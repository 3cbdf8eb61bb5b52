"""A TCP server that accepts connections and never answers: a hung host (a signing-key URL that stalls)."""

from __future__ import annotations

import asyncio


class Blackhole:
    """Accepts every connection, reads nothing, answers nothing; counts the connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1 (``port``)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Drop every connection and stop listening."""
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
