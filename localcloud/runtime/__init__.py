"""The Lambda runtime: in-process function environments, each with its own environment and logs.

Functions import their own copy of the handler package and run in a shared thread pool.
"""
