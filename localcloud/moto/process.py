"""The moto server process: `python -m localcloud.moto.process` prints `PORT <n>` once it listens.

It runs until its stdin closes or it gets SIGTERM/SIGINT, so a parent that dies never leaves it
behind. Before it imports moto's server, it applies `localcloud.moto.patches` (every change the
local cloud makes to moto's behaviour lives there), whose guard runs first: if a patch no longer
applies to the installed moto, the process prints `REFUSED <one-line reason>` instead and exits
1. A moto of another version that passes the guard gets a one-line warning on stderr and is
served, patched.

The process's own settings, tuned for the local cloud's load:

- Python's cyclic GC pauses 130-230 ms once moto holds many items (docs/architecture.md,
  Pitfalls): thresholds raised, and everything that exists after start-up frozen
  (`localcloud.interpreter`, as in the gateway's process).
- werkzeug logs every request line to stderr: silenced (CPU, and a full pipe would block moto).
- The GIL is handed over every `interpreter.SWITCH_INTERVAL_S`, not every 5 ms.
- moto's own `MOTO_DISABLE_GLOBAL_CORS` setting is on: CORS headers are for a browser calling
  moto, and no page calls it (they call the gateway); they cost ~2% of moto's CPU per request.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Final

from cliargs import usage_error
from localcloud import interpreter
from localcloud.moto import patches

__all__ = ["EXIT_REFUSED", "PORT_PREFIX", "REFUSED_PREFIX", "main"]

PORT_PREFIX: Final = "PORT "
"""The line the parent waits for (readiness), followed by the port number."""
REFUSED_PREFIX: Final = "REFUSED "
"""The line printed instead when the guard refuses the installed moto, followed by why."""
EXIT_REFUSED: Final = 1
"""Exit status after a `REFUSED` line."""


def main(argv: list[str] | None = None) -> int:
    """Check and patch moto, start it on 127.0.0.1 (ephemeral port), print the port, serve.

    Arguments: names of patches to leave out (`python -m bench.moto_query` measures that way).
    """
    without = sys.argv[1:] if argv is None else argv
    interpreter.tune()
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"  # read when moto's settings are imported
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        warning = patches.apply(without)
    except patches.MotoMismatch as exc:
        print(f"{REFUSED_PREFIX}{exc}", flush=True)
        return EXIT_REFUSED
    except ValueError as exc:
        return usage_error("localcloud.moto.process", exc)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    interpreter.freeze_startup()  # what exists now lives until the process ends
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
        stop.set()

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    print(f"{PORT_PREFIX}{server.get_host_and_port()[1]}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
