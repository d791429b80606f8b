"""Adapters of the chat ports: `history_store` (users, chats, messages: `HistoryStore`,
`UserDirectory`), `models` (which LLM answers a turn: `ModelResolver`) and `web_search`
(the pluggable `WebSearch` provider)."""
