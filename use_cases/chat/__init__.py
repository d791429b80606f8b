"""Chat: the grounded-answer agent, the turn core every kind of turn shares, and chats with
their history."""
