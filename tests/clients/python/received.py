"""What a test script received on a Realtime socket: every raw server event, in order, for the Rust test to
check against the schema. Each event must also parse with the SDK's own types."""

import json


class Received:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def until(self, conn, event_type: str) -> list[dict]:
        """Server events up to and including the first of `event_type`; an `error` event ends the script."""
        seen = []
        while True:
            raw = conn.recv_bytes()
            event = json.loads(raw)
            self.events.append(event)
            parsed = conn.parse_event(raw)
            assert parsed.type == event["type"], (parsed.type, event["type"])
            seen.append(event)
            if event["type"] == "error":
                raise SystemExit(f"error event: {json.dumps(event)}")
            if event["type"] == event_type:
                return seen
