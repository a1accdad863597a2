"""Chat: a conversation with a model, streamed, saved and resumable."""

from ganymede.apps.chat.cli import add_cli
from ganymede.apps.chat.conversation import Conversation, stream_turn
from ganymede.apps.chat.export import export_file, export_text
from ganymede.apps.chat.store import ConversationStore

__all__ = ["Conversation", "ConversationStore", "add_cli", "export_file", "export_text", "stream_turn"]
