"""The gateway: one ``Household`` in its own process, with a local API.

The add-on runs ``stroomwijs gateway``: it reads a ``HouseholdConfig``, runs
the household with its state in a folder (so it survives its own restart)
and offers an authenticated WebSocket API through which Home Assistant
pushes configuration, prices, forecasts and commands, and receives
snapshots and events. See docs/gateway.md.

Modules: ``protocol`` (message validation), ``auth`` (the API token),
``snapshot`` (JSON views of a household), ``api`` (the aiohttp server),
``service`` (the household's lifecycle) and ``cli`` (the command). Nothing is
imported here, so ``stroomwijs --help`` stays quick.
"""
