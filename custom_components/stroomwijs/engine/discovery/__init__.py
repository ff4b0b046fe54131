"""Finding devices: zeroconf service types and an explicit Modbus scan.

Nothing here adds a device by itself: discovery produces candidates that a
host (Home Assistant's discovery flow, the CLI) shows for confirmation.
"""
