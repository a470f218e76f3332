"""GIVEN function threads printing WHEN logs are installed THEN each print lands in its own log."""

from __future__ import annotations

import sys
import threading

from localcloud.runtime.logs import FunctionLogs


def test_prints_on_function_threads_go_to_their_log_and_others_to_stdout(tmp_path, capsys):
    logs = FunctionLogs(tmp_path / "logs")
    logs.install()
    try:

        def run(name: str) -> None:
            with logs.capture(name):
                print(f"metrics of {name}")

        threads = [threading.Thread(target=run, args=(n,)) for n in ("ingest", "query")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print("gateway line")
    finally:
        logs.uninstall()
    assert logs.path("ingest").read_text() == "metrics of ingest\n"
    assert logs.path("query").read_text() == "metrics of query\n"
    assert capsys.readouterr().out == "gateway line\n"
    assert type(sys.stdout).__name__ != "_Router"
