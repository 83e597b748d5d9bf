"""The offline model: replays a scenario file over the OpenAI chat-completions wire format."""
