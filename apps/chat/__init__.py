"""Chat: a conversation with a model, streamed, saved and resumable."""

from ganymede.apps.chat.conversation import add_cli

__all__ = ["add_cli"]
