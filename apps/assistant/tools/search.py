"""search_documents: hybrid search over the user's document index, returning numbered, citable passages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganymede.apps.assistant.tools import Tool, ToolError, ToolOutput

if TYPE_CHECKING:
    from ganymede.apps.assistant.index import DocumentIndex

MAX_K = 10


def search_tool(index: DocumentIndex) -> Tool:
    def search_documents(query: str, k: int = 4) -> ToolOutput:
        if not query.strip():
            raise ToolError("the query is empty")
        if not 1 <= k <= MAX_K:
            raise ToolError(f"k must be between 1 and {MAX_K}")
        passages = index.search(query, k=k)
        if not passages:
            return ToolOutput("no passages found")
        text = "\n\n".join(f"[{p.citation}]\n{p.text}" for p in passages)
        return ToolOutput(text, [p.to_dict() for p in passages])

    return Tool(
        name="search_documents",
        description="Search the user's documents (keyword + semantic) and return the best passages with their "
        "file and chunk, to cite.",
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "what to look for"},
                "k": {"type": "integer", "description": f"how many passages (1-{MAX_K}, default 4)"},
            },
            "required": ["query"],
        },
        func=search_documents,
    )
