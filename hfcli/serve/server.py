"""Binding the port and running uvicorn on it.

The socket is bound before the model loads, so a port already in use is one clear error at
once rather than after seconds of loading, and port 0 (any free port) can be reported.
"""

from __future__ import annotations

import errno
import socket

from ..errors import HfcliError


def open_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); HfcliError when the port is taken or the host unknown."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as err:
        raise HfcliError(f"--host {host}: not an address of this machine ({err.strerror})") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Lets a restarted server take the port while the last one's connections linger in TIME_WAIT;
    # on Linux it never lets two servers listen on one port.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise HfcliError(
                f"port {port} on {host} is already in use; stop what holds it or pick another --port"
            ) from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise HfcliError(f"--host {host}: not an address of this machine") from None
        if err.errno == errno.EACCES:
            raise HfcliError(f"port {port} needs privileges here; pick one above 1023 with --port") from None
        raise HfcliError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def run(app, sock: socket.socket) -> None:
    """Serve `app` on `sock` until SIGINT or SIGTERM (uvicorn shuts down gracefully on both).
    Returns normally after Ctrl-C: for a server that is the ordinary way to stop, not an error."""
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",  # errors only: the CLI prints its own start line
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=3,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the SIGINT it caught once it has shut down
