"""moto's server, in-process, on loopback: the sandbox's AWS.

The server runs in a daemon thread of this process; every backend is moto's, so a
boto3 client pointed at :attr:`MotoServer.endpoint` sees one account and region.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "eu-west-1"  # the region of the sample events in events/
HOST = "127.0.0.1"

#: fake credentials and region: never real ones, so nothing reaches a real account
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class MotoServer:
    """moto's ThreadedMotoServer on 127.0.0.1 (a free port unless one is given)."""

    port: int | None = None
    host: str = HOST
    _server: Any = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        from moto.server import ThreadedMotoServer

        # moto's request log goes to werkzeug's logger: keep the terminal for the story
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        if self.port is None:
            self.port = free_port(self.host)
        elif port_in_use(self.host, self.port):
            raise OSError(f"port {self.port} on {self.host} is already in use")
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client_kwargs(self) -> dict[str, Any]:
        return client_kwargs(self.endpoint)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((host, port)) == 0


def client_kwargs(endpoint: str) -> dict[str, Any]:
    """Arguments for ``boto3.client(service, **kwargs)`` reaching the sandbox."""
    return {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "aws_access_key_id": FAKE_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_ENV["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": FAKE_ENV["AWS_SESSION_TOKEN"],
    }


def sandbox_env(endpoint: str) -> dict[str, str]:
    """Environment that points any AWS SDK at the sandbox with fake credentials."""
    return {**FAKE_ENV, "AWS_ENDPOINT_URL": endpoint}


@contextmanager
def patched_environ(values: dict[str, str], *, replace: bool = False) -> Iterator[None]:
    """Set environment variables for the duration of a block, then restore them exactly."""
    saved = dict(os.environ)
    try:
        if replace:
            os.environ.clear()
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Clients:
    """Lazily built boto3 clients for one endpoint (the sandbox)."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.endpoint = endpoint
        self._session = boto3.session.Session()
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            client = self._session.client(service, **client_kwargs(self.endpoint))  # type: ignore[call-overload]
            self._clients[service] = client
        return client

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        return self(service.replace("_", "-"))
