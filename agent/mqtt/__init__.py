"""The agent's MQTT transport (``MQTTTransport``) and its logs/exec stream relay. See docs/mqtt.md."""
