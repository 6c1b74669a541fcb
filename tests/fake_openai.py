"""A fake OpenAI-compatible server for tests: what every scripted ``/v1/chat/completions`` endpoint of the test
suite shares (127.0.0.1 only, an ephemeral port, nothing leaves the machine).

A test subclasses :class:`ChatHandler` and writes ``answer`` (the scripted reply to one request), or overrides
``do_POST`` for errors; :func:`serve` runs it in a thread. Replies are in the real response format
(:func:`chat_completion`)::

    class Echo(ChatHandler):
        def answer(self, req):
            return req["messages"][-1]["content"]

    with serve(Echo) as (url, handler):   # url: "http://127.0.0.1:PORT"; handler.requests: every request body
        ...
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

__all__ = ["CHAT_PATH", "ChatHandler", "chat_completion", "serve"]

#: The route OpenAI-compatible clients post chat completions to.
CHAT_PATH = "/v1/chat/completions"


def chat_completion(model: str, content: str, *, id: str = "chatcmpl-0", prompt_tokens: int = 1,
                    **fields) -> dict:
    """An OpenAI ``chat.completion`` object with one choice whose message is ``content``; ``fields`` are added at
    the top level (e.g. ``system_fingerprint``). Usage: ``prompt_tokens`` and the words of ``content``."""
    completion = len(content.split())
    return {"id": id, "object": "chat.completion", "created": int(time.time()), "model": model, **fields,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None,
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                      "total_tokens": prompt_tokens + completion}}


class ChatHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler of JSON requests. ``requests`` (a class attribute, one list per :func:`serve`)
    records what the subclass appends; the default ``do_POST`` appends each request body and answers
    :meth:`answer` on :data:`CHAT_PATH` (404 elsewhere)."""

    protocol_version = "HTTP/1.1"
    requests: ClassVar[list] = []

    def log_message(self, *a):  # keep pytest output clean
        pass

    def read_json(self) -> dict:
        """The request's JSON body."""
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def send_json(self, code: int, obj) -> None:
        """Reply ``obj`` as JSON with status ``code``."""
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_completion(self, req: dict, content: str, **kw) -> None:
        """Reply 200 with :func:`chat_completion` of ``content`` for the model ``req`` asked for."""
        self.send_json(200, chat_completion(req.get("model"), content, **kw))

    def answer(self, req: dict) -> str:
        raise NotImplementedError

    def do_POST(self):
        req = self.read_json()
        type(self).requests.append(req)
        if self.path != CHAT_PATH:
            return self.send_json(404, {"error": {"message": "no such route", "type": "invalid_request_error"}})
        return self.send_completion(req, self.answer(req))


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], **attrs) -> Iterator[tuple[str, type]]:
    """Serve a subclass of ``handler`` (with the class attributes ``attrs``, and a fresh ``requests`` list unless
    given) on 127.0.0.1 in a daemon thread; yields ``(base URL without /v1, the subclass)`` and shuts the server
    down on exit."""
    cls = type(handler.__name__, (handler,), {"requests": [], **attrs})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), cls)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", cls
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(timeout=5)
