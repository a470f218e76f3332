"""The moto server: a child process serving AWS's data-plane APIs on 127.0.0.1.

`process` is that child, `server` starts and stops it, `patches` is every change the local cloud
makes to moto's behaviour, each guarded against the pinned moto version.
"""
