// The store's usage totals (`stats.usage` of a session) in the shape of a `response.usage`, so the console's
// own pricing (lib/metrics.js) prices recorded sessions exactly as it prices live ones. No DOM.

export function storeUsageToApi(u) {
  return {
    input_tokens: u.input_tokens ?? 0,
    output_tokens: u.output_tokens ?? 0,
    total_tokens: u.total_tokens ?? 0,
    input_token_details: {
      text_tokens: u.input_text_tokens ?? 0,
      audio_tokens: u.input_audio_tokens ?? 0,
      cached_tokens: u.cached_tokens ?? 0,
    },
    output_token_details: {
      text_tokens: u.output_text_tokens ?? 0,
      audio_tokens: u.output_audio_tokens ?? 0,
    },
  };
}
