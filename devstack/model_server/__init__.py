"""The offline model: scenario replies, scripted tool-calling trajectories and gold-patch play,
over the OpenAI chat-completions and Anthropic Messages wire formats (see ``__main__``)."""
