"""The openai Python SDK's Realtime WebSocket client against a server, unchanged: `client.realtime.connect(model=…)`,
a text turn, then a tool round trip (the model calls a function, the script answers with a
`function_call_output` item and asks for a new response, and the model answers with what the tool said).

Usage: realtime_ws.py <base_url>. Prints one JSON object of what it saw, with every raw server event it
received (for the caller to check against the schema).
"""

import json
import os
import sys

from openai import OpenAI

from received import Received

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def main() -> None:
    base_url = sys.argv[1]
    client = OpenAI(api_key=os.environ.get("TEST_CLIENT_API_KEY", "sk-test-python-sdk"), base_url=base_url)
    received = Received()

    with client.realtime.connect(model="gpt-realtime") as conn:
        created = received.until(conn, "session.created")[-1]
        conn.session.update(
            session={"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL]}
        )
        updated = received.until(conn, "session.updated")[-1]

        # A text turn.
        conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there"}]}
        )
        conn.response.create()
        text_turn = received.until(conn, "response.done")
        answer = text_turn[-1]["response"]["output"][0]["content"][0]["text"]
        deltas = "".join(e["delta"] for e in text_turn if e["type"] == "response.output_text.delta")

        # A tool round trip.
        conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What is the weather in Paris? Use get_weather."}],
            }
        )
        conn.response.create()
        call_turn = received.until(conn, "response.done")
        call = call_turn[-1]["response"]["output"][0]
        conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": json.dumps({"temperature_c": 21, "sky": "clear"}),
            }
        )
        received.until(conn, "conversation.item.done")
        conn.response.create()
        final_turn = received.until(conn, "response.done")
        final = final_turn[-1]["response"]["output"][0]["content"][0]["text"]

    print(
        json.dumps(
            {
                "model": created["session"]["model"],
                "modalities": updated["session"]["output_modalities"],
                "tools": [t["name"] for t in updated["session"]["tools"]],
                "answer": answer,
                "deltas": deltas,
                "call": {"type": call["type"], "name": call["name"], "arguments": json.loads(call["arguments"])},
                "call_status": call_turn[-1]["response"]["status"],
                "final": final,
                "events": received.events,
            }
        )
    )


if __name__ == "__main__":
    main()
