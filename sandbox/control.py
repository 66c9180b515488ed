"""The `local up` process's control endpoint, and the state file other commands read.

`autopilot local up` keeps the sandbox (moto's server, the deployed stacks, the
simulator's state) in its own process. Other `autopilot local ...` commands reach that
process through a small JSON-over-HTTP endpoint on loopback, whose address is in the
state file (``.sandbox/state.json``) next to the moto server's port.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.router import missing_envelope_fields, rehome_event
from sandbox.simulator import SimulatorError
from sandbox.synth import REPO_ROOT

if TYPE_CHECKING:
    from sandbox.core import Sandbox

STATE_ENV = "AUTOPILOT_SANDBOX_STATE"


def state_file() -> Path:
    return Path(os.environ.get(STATE_ENV) or REPO_ROOT / ".sandbox" / "state.json")


class NoSandbox(RuntimeError):
    """No `autopilot local up` is running (or it does not answer)."""


class BadRequest(ValueError):
    """The control endpoint refused the request (bad input)."""


def _routes_payload(sb: Sandbox, mark: int, routes: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "routes": [r.to_json() for r in routes],
        "timeline": [
            e.to_json() | {"text": e.text, "kind": e.kind} for e in sb.timeline.since(mark)
        ],
        **extra,
    }


def handle(sb: Sandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One control request, also callable in-process (the demo and the tests use this)."""
    sim = sb.simulator
    assert sim is not None
    mark = sb.timeline.mark()
    if path == "/info":
        return sb.describe()
    if path == "/push":
        res = sim.push(
            str(body["repository"]),
            body.get("tag"),
            findings=body.get("findings") or {},
            crashing=bool(body.get("crashing")),
            scanner=body.get("scanner"),
            platforms=tuple(str(p) for p in body.get("platforms") or ()),
            attestation=bool(body.get("attestation")),
            drop_event=bool(body.get("drop_event")),
        )
        return _routes_payload(
            sb,
            mark,
            res.routes,
            digest=res.digest,
            scan=res.scan,
            repository=res.repository,
            tag=res.tag,
            **({"manifests": res.children} if res.children else {}),
        )
    if path == "/emit":
        event = body.get("event")
        if not isinstance(event, dict):
            raise BadRequest("the event must be a JSON object")
        missing = missing_envelope_fields(event)
        if missing:
            raise BadRequest(f"not a complete EventBridge event: it lacks {', '.join(missing)}")
        if not body.get("as_is"):
            event = rehome_event(event)
        return _routes_payload(sb, mark, sim.emit(event))
    if path == "/alarm":
        return _routes_payload(
            sb, mark, sim.alarm(str(body["name"]), str(body["state"]), body.get("reason"))
        )
    if path == "/tick":
        rule = body.get("rule")
        return _routes_payload(sb, mark, sim.tick(str(rule) if rule else None))
    if path == "/expire":
        repo = body.get("repository")
        try:
            done = sim.expire(str(repo) if repo else None)
        except SimulatorError as exc:
            raise BadRequest(str(exc)) from exc
        return {"expired": {name: [e.to_json() for e in gone] for name, gone in done.items()}}
    if path == "/stop-tasks":
        return _routes_payload(sb, mark, sim.stop_tasks(str(body["service"]), str(body["az"])))
    raise BadRequest(f"unknown control path {path}")


class ControlServer:
    def __init__(self, sb: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sb = sb
        sandbox = sb

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                return

            def _reply(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, default=str).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve({})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._reply(400, {"error": "the request body is not JSON"})
                    return
                self._serve(body)

            def _serve(self, body: dict[str, Any]) -> None:
                try:
                    self._reply(200, handle(sandbox, self.path, body))
                except (SimulatorError, BadRequest, KeyError, ValueError) as exc:
                    self._reply(400, {"error": str(exc).strip("'\"")})
                except Exception as exc:
                    self._reply(500, {"error": f"{type(exc).__name__}: {exc}"})

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address is (host, port)
        return f"http://{host}:{port}"

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def write_state(sb: Sandbox, control_url: str) -> Path:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "pid": os.getpid(),
        "endpoint": sb.endpoint,
        "port": sb.server.port,
        "control": control_url,
        **{k: v for k, v in sb.describe().items() if k in ("stacks", "outputs")},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(path)
    return path


def read_state() -> dict[str, Any]:
    path = state_file()
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise NoSandbox("no sandbox is running: start one with `autopilot local up`") from exc
    return doc


def remove_state() -> None:
    try:
        doc = json.loads(state_file().read_text())
        if doc.get("pid") == os.getpid():
            state_file().unlink()
    except (OSError, json.JSONDecodeError):
        pass


def call(
    path: str, body: dict[str, Any] | None = None, *, timeout: float = 120.0
) -> dict[str, Any]:
    """Send one request to the running `local up` process."""
    state = read_state()
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(
        state["control"] + path,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            doc: dict[str, Any] = json.loads(resp.read())
            return doc
    except urllib.error.HTTPError as exc:
        payload = json.loads(exc.read() or b"{}")
        if exc.code == 400:
            raise BadRequest(payload.get("error", "bad request")) from exc
        raise RuntimeError(payload.get("error", f"control endpoint answered {exc.code}")) from exc
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise NoSandbox(
            f"the sandbox at {state.get('control')} does not answer "
            "(stale .sandbox/state.json?): start one with `autopilot local up`"
        ) from exc
