"""The MQTT transport between the server and its agents: topics, messages, the server bridge, the broker.

``protocol`` is the wire contract both sides import (no server internals); ``bridge`` and ``relay``
are the server's side; ``broker`` writes a private mosquitto's configuration and runs it.
See docs/mqtt.md.
"""
