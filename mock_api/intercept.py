"""In-process interception: respx routes every Chat Completions request to a handler.

openai 2.x sends through httpx (httpcore underneath); openai 3.x through httpx2 (httpcore2),
which respx reaches only with the ``httpcore2`` mocker that pytest-httpx2 defines. We start a
router for each transport that is importable, so unmodified ``OpenAI()`` or ``AsyncOpenAI()``
code is caught under either major. Anything else raises: no real request can leave.

respx and httpx are imported only when interception starts, so importing ``mock_api`` (the
server, the grader) does not pay for them.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from mock_api.core import ChatCompletionsMock, MockRequest, MockResponse

if TYPE_CHECKING:
    import httpx
    import respx

Handler = Callable[[MockRequest], MockResponse]
_active = threading.Lock()  # held while an intercept() is in effect
CHAT_ROUTE = {"method": "POST", "path__regex": r"(^|/)chat/completions/?$"}


def available_mockers() -> list[str]:
    """respx mocker names for the HTTP stacks installed here."""
    from respx.mocks import Mocker

    names = []
    if importlib.util.find_spec("httpcore2") is not None:
        if "httpcore2" not in Mocker.registry:
            import pytest_httpx2._plugin  # noqa: F401  (registers respx's httpcore2 mocker)
        names.append("httpcore2")
    if importlib.util.find_spec("httpcore") is not None:
        names.append("httpcore")
    return names


def timeout_error(mocker: str) -> Exception:
    """The transport-level timeout the client maps to its own (and the SDK to APITimeoutError)."""
    if mocker == "httpcore2":
        import httpcore2

        return httpcore2.ReadTimeout("mock timeout fault")
    import httpcore

    return httpcore.ReadTimeout("mock timeout fault")


def to_mock_request(request: httpx.Request) -> MockRequest:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return MockRequest(request.method, request.url.path, headers, request.content)


def side_effect(handler: Handler, mocker: str) -> Callable[[httpx.Request], httpx.Response]:
    import httpx

    def respond(request: httpx.Request) -> httpx.Response:
        response = handler(to_mock_request(request))
        if response.timeout is not None:
            raise timeout_error(mocker)
        return httpx.Response(response.status, headers=response.headers, content=response.body)

    return respond


@contextmanager
def intercept(handler: Handler | ChatCompletionsMock) -> Iterator[list[respx.Router]]:
    """Route Chat Completions requests from any OpenAI client in this process to ``handler``.

    One at a time: respx's patches are process-wide and the first router answers, so a nested
    or concurrent second interception would silently get the first one's replies. It raises.
    """
    import respx

    if isinstance(handler, ChatCompletionsMock):
        handler = handler.handle
    if not _active.acquire(blocking=False):
        raise RuntimeError(
            "intercept() is already active in this process; nesting it would route every "
            "request to the outer handler"
        )
    try:
        with ExitStack() as stack:
            routers = []
            for name in available_mockers():
                router = stack.enter_context(
                    respx.mock(using=name, assert_all_called=False, assert_all_mocked=True)
                )
                router.route(**CHAT_ROUTE, name="chat_completions").mock(
                    side_effect=side_effect(handler, name)
                )
                routers.append(router)
            yield routers
    finally:
        _active.release()
