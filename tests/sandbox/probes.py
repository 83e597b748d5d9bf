"""Hostile probes, run INSIDE the sandbox by the system python3 (never imported by the suite).

``python3 probes.py NAME [ARGS...]`` prints one line, ``RESULT <outcome>``: ``ok`` when the
probe got what it wanted, else the exception class and errno name that stopped it, e.g.
``RESULT FileNotFoundError ENOENT``. The tests assert the exact outcome.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable


def read(path: str) -> None:
    with open(os.path.expanduser(path), "rb") as f:
        f.read(1)


def write(path: str) -> None:
    with open(path, "w") as f:
        f.write("probe\n")


def listdir(path: str) -> None:
    os.listdir(path)


def connect(host: str, port: str) -> None:
    with socket.create_connection((host, int(port)), timeout=5):
        pass


def resolve(name: str) -> None:
    socket.getaddrinfo(name, 443)


def fork(count: str) -> None:
    children = []
    try:
        for _ in range(int(count)):
            pid = os.fork()
            if pid == 0:
                time.sleep(5)
                os._exit(0)
            children.append(pid)
    finally:
        print(f"forked {len(children)}", flush=True)


def allocate(gib: str) -> None:
    block = bytearray(int(gib) << 30)
    block[-1] = 1


def linger(token: str) -> None:
    """Leaves a detached process behind that would write ``late.txt`` a little later."""
    script = f"sleep 2; echo {token} > late.txt"
    subprocess.Popen(["sh", "-c", script, token], start_new_session=True)


def control() -> None:
    write("control.txt")
    print(f"uid {os.getuid()}", flush=True)


PROBES: dict[str, Callable[..., None]] = {
    "read": read,
    "write": write,
    "listdir": listdir,
    "connect": connect,
    "resolve": resolve,
    "fork": fork,
    "allocate": allocate,
    "linger": linger,
    "control": control,
}


def main() -> None:
    name, *args = sys.argv[1:]
    try:
        PROBES[name](*args)
    except OSError as e:
        code = errno.errorcode.get(e.errno or 0, str(e.errno))
        if isinstance(e, socket.gaierror):
            code = "EAI"
        print(f"RESULT {type(e).__name__} {code}", flush=True)
    except MemoryError:
        print("RESULT MemoryError", flush=True)
    else:
        print("RESULT ok", flush=True)


if __name__ == "__main__":
    main()
