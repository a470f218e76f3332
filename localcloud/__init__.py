"""The embedded local cloud: the Pulumi program deployed onto moto and a local API gateway.

`python -m localcloud up` runs `__main__.py` under Pulumi's mock runtime, materialises what it
declares (docs/architecture.md) and serves it on 127.0.0.1; see docs/localcloud.md.
"""

__all__: list[str] = []
