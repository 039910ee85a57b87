"""Outbound HTTP under one deadline, and an address policy for URLs a partner chooses.

requests' ``timeout`` bounds each socket operation, not the exchange: a server that
sends one byte a second never lets a single read wait long, and so holds the exchange
for as long as it likes (a response head trickled that way held a 10 s poll for 120 s).
An :class:`Exchange` gives everything it does one deadline, redirect hops included:

- the name is resolved in a helper thread that is waited for no longer than the time
  left (``getaddrinfo`` cannot be interrupted);
- each connect, TLS handshake and socket read waits at most the time left when it starts;
- a watchdog shuts the exchange's sockets down when the deadline passes, which ends
  a read that a trickle keeps alive. A response cut that way would read as a short
  body, so callers ask :attr:`Exchange.timed_out` after reading.

With an :class:`AddressPolicy` (image look-ups: the URL comes from a partner's feed
or an article), every address a host name resolves to is checked before connecting,
on every redirect hop, and the connection goes to the address that was checked: a
second resolution, which DNS rebinding would answer differently, never happens.

All of it rides on requests (a transport adapter whose connections resolve, check
and connect themselves); a session is made per exchange, without proxies from the
environment (a proxy would connect on our behalf, past the check).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from .addresses import AddressPolicy
from .errors import FeedpubError

# socket.getaddrinfo's signature and answer; tests pass their own to play a rebinding DNS.
Resolver = Callable[..., list[tuple[Any, ...]]]

class AddressRefused(FeedpubError):
    """The host resolves to an address the policy does not let a look-up reach."""


class ExchangeTimeout(FeedpubError):
    """The exchange's deadline passed before its host was resolved."""


def _resolve(resolver: Resolver, host: str, port: int, seconds: float) -> list[tuple[Any, ...]]:
    """getaddrinfo, waited for at most ``seconds`` (a stuck resolver is left to finish alone)."""
    try:   # an address literal needs no resolver
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sockaddr = (host, port, 0, 0) if address.version == 6 else (host, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
    answer: dict[str, Any] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            answer["infos"] = resolver(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            answer["error"] = exc
        finally:
            done.set()

    threading.Thread(target=lookup, name="feedpub-resolve", daemon=True).start()
    if not done.wait(max(seconds, 0.0)):
        raise ExchangeTimeout(f"timed out resolving {host}")
    if "error" in answer:
        raise answer["error"]
    return answer["infos"]


class Exchange:
    """One outbound exchange (one poll, one image look-up) under one deadline.

    Use as a context manager; :meth:`request` as often as the exchange needs (each
    redirect hop, a HEAD then a GET). Closing it cancels the watchdog and closes the
    connections.
    """

    def __init__(self, seconds: float, *, policy: AddressPolicy | None = None, max_redirects: int = 5,
                 resolver: Resolver = socket.getaddrinfo):
        self.seconds = seconds
        self.policy = policy
        self._resolver = resolver
        self._deadline = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._fired = False
        self._closed = False
        self.session = requests.Session()
        self.session.trust_env = False     # no proxy from the environment: it would connect past the check
        self.session.max_redirects = max_redirects
        adapter = _GuardedAdapter(self)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._watchdog = threading.Timer(seconds, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def remaining(self) -> float:
        return self._deadline - time.monotonic()

    @property
    def timed_out(self) -> bool:
        """The deadline has passed (the watchdog may have cut a read short)."""
        return self._fired or self.remaining() <= 0

    def request(self, method: str, url: str, *, headers: dict[str, str],
                allow_redirects: bool = False) -> requests.Response:
        """One request, its body streamed; every socket operation waits at most the time left."""
        remaining = self.remaining()
        if remaining <= 0 or self._fired:
            raise requests.Timeout(f"no time left for {method} {url}")
        return self.session.request(method, url, headers=headers, stream=True, timeout=(remaining, remaining),
                                    allow_redirects=allow_redirects)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._sockets.clear()
        self._watchdog.cancel()
        self.session.close()

    # --- for the connections -----------------------------------------------------------

    def _expire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._fired = True
            for sock in self._sockets:
                _shut(sock)

    def _watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._fired:
                _shut(sock)
            elif not self._closed:
                self._sockets.append(sock)

    def _connect(self, host: str, port: int, socket_options: Iterable[tuple[int, int, int]] | None) -> socket.socket:
        """Resolve, check every address (the policy's), connect to a checked one."""
        infos = _resolve(self._resolver, host, port, self.remaining())
        if not infos:
            raise OSError(f"{host} has no address")
        if self.policy is not None:
            for info in infos:
                address = ipaddress.ip_address(info[4][0].split("%")[0])
                problem = self.policy.refusal(host, address)
                if problem:
                    # One bad address is enough: a name that mixes public and private ones is
                    # exactly what a rebinding attacker would publish.
                    raise AddressRefused(problem)
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in infos:
            remaining = self.remaining()
            if remaining <= 0:
                raise socket.timeout(f"timed out connecting to {host}")
            sock = socket.socket(family, kind, proto)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(remaining)
                self._watch(sock)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        assert error is not None
        raise error


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)   # wakes a read blocked on it; closing is left to its owner
    except OSError:
        pass   # closed or detached (wrapped in TLS) already


class _GuardedHTTPConnection(urllib3.connection.HTTPConnection):
    def __init__(self, *args: Any, exchange: Exchange, **kwargs: Any):
        self._exchange = exchange
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        try:
            return self._exchange._connect(self._dns_host, self.port, self.socket_options)
        except (socket.timeout, ExchangeTimeout) as exc:
            raise urllib3.exceptions.ConnectTimeoutError(self, f"connecting to {self.host}: {exc}") from exc
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(self.host, self, exc) from exc
        except OSError as exc:
            raise urllib3.exceptions.NewConnectionError(self, f"cannot connect to {self.host}: {exc}") from exc


class _GuardedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def __init__(self, *args: Any, exchange: Exchange, **kwargs: Any):
        self._exchange = exchange
        super().__init__(*args, **kwargs)

    _new_conn = _GuardedHTTPConnection._new_conn   # type: ignore[assignment]

    def connect(self) -> None:
        # The handshake needs no watchdog: CPython bounds a whole handshake by the socket's
        # timeout (ssl module, "changed in version 3.5"), the time left when connecting.
        super().connect()
        # Wrapping detached the plain socket watched so far; the TLS one holds the descriptor now.
        self._exchange._watch(self.sock)   # type: ignore[arg-type]


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedPoolManager(urllib3.PoolManager):
    def __init__(self, exchange: Exchange, **kwargs: Any):
        super().__init__(**kwargs)
        self._exchange = exchange
        self.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def _new_pool(self, scheme: str, host: str, port: int,
                  request_context: dict[str, Any] | None = None) -> urllib3.connectionpool.HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.conn_kw["exchange"] = self._exchange   # passed to each connection the pool makes
        return pool


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, exchange: Exchange):
        self._exchange = exchange   # before HTTPAdapter.__init__, which makes the pool manager
        super().__init__(pool_connections=4, pool_maxsize=1, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self.poolmanager = _GuardedPoolManager(self._exchange, num_pools=connections, maxsize=maxsize, block=block,
                                               **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise requests.exceptions.InvalidProxyURL(f"{proxy}: proxies are not used for guarded exchanges")


__all__ = ["AddressRefused", "Exchange", "ExchangeTimeout"]
