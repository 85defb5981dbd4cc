//! Recorded sessions made up for tests: events a test posts to a console as if a page had recorded them.

use serde_json::{Value, json};

/// `turns` text turns, each answered in `deltas` text deltas and a `response.done` with usage, after a
/// `session.created`; `gap_ms` between events. Returns the events and the assistant's answers.
pub fn conversation(turns: usize, deltas: usize, gap_ms: f64) -> (Vec<Value>, Vec<String>) {
    let mut events = Vec::new();
    let mut answers = Vec::new();
    let mut ts = 1_764_000_000_000.0_f64;
    let mut push = |events: &mut Vec<Value>, direction: &str, event: Value| {
        ts += gap_ms;
        let seq = events.len() + 1;
        events.push(json!({"seq": seq, "ts": ts, "direction": direction, "event": event}));
    };
    push(
        &mut events,
        "server",
        json!({"type": "session.created", "event_id": "ev_0",
               "session": {"model": "gpt-realtime", "audio": {"output": {"voice": "marin"}}}}),
    );
    for i in 0..turns {
        let (user, asst, resp) = (
            format!("user_{i}"),
            format!("asst_{i}"),
            format!("resp_{i}"),
        );
        let question = json!({"id": user, "type": "message", "role": "user",
                              "content": [{"type": "input_text", "text": format!("Question {i}: will the ferry run?")}]});
        push(
            &mut events,
            "client",
            json!({"type": "conversation.item.create", "event_id": format!("c{i}"), "item": question}),
        );
        push(
            &mut events,
            "server",
            json!({"type": "conversation.item.added", "event_id": format!("a{i}"), "item": question}),
        );
        push(
            &mut events,
            "server",
            json!({"type": "response.created", "event_id": format!("r{i}"), "response": {"id": resp, "status": "in_progress"}}),
        );
        push(
            &mut events,
            "server",
            json!({"type": "conversation.item.added", "event_id": format!("b{i}"), "previous_item_id": user,
                   "item": {"id": asst, "type": "message", "role": "assistant", "content": []}}),
        );
        let words: Vec<String> = (0..deltas).map(|w| format!("w{i}_{w} ")).collect();
        for word in &words {
            push(
                &mut events,
                "server",
                json!({"type": "response.output_text.delta", "event_id": format!("d{i}"), "response_id": resp,
                       "item_id": asst, "output_index": 0, "content_index": 0, "delta": word}),
            );
        }
        let answer = words.concat();
        push(
            &mut events,
            "server",
            json!({"type": "response.output_text.done", "event_id": format!("t{i}"), "response_id": resp,
                   "item_id": asst, "output_index": 0, "content_index": 0, "text": answer}),
        );
        let output = json!({"id": asst, "type": "message", "role": "assistant", "status": "completed",
                            "content": [{"type": "output_text", "text": answer}]});
        push(
            &mut events,
            "server",
            json!({"type": "response.done", "event_id": format!("e{i}"),
                   "response": {"id": resp, "status": "completed", "output": [output],
                                "usage": {"total_tokens": 30, "input_tokens": 20, "output_tokens": 10}}}),
        );
        answers.push(answer);
    }
    (events, answers)
}
