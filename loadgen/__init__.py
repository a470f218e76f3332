"""MarketStream load generator: open-loop, coordinated-omission-corrected load for the tick APIs.

Run it as `python -m loadgen --help`. The modules each do one job: `cli` parses arguments,
`config` holds the validated run settings, `targets` resolves the endpoints, `schedule` plans the
send times, `payloads` prebuilds the bodies, `runner` sends them, `stats` keeps the histograms,
`workers` fans the run out to processes, and `report`, `plot`, `live`, `verify` and `slo` turn the
result into output and an exit code.
"""

__all__: list[str] = []
