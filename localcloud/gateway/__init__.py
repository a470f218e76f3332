"""The local API Gateway: one aiohttp app serving the program's HTTP, REST and WebSocket APIs.

Routing, authorizers, API keys, usage plans, throttles and API Gateway's event and error shapes.
"""
