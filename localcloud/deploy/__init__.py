"""Deploying the Pulumi program onto the local cloud: stack config, the mock run, provisioning.

The program runs unchanged under Pulumi's mock runtime; what it declares is created in moto or
recorded for the gateway and the function runtime.
"""
