"""The embedded local cloud: the Pulumi program deployed onto moto and an aiohttp gateway."""
