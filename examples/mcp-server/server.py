"""A small MCP server to give an agent version (README, "Tools"): a book catalogue, offline.

    uv run python examples/mcp-server/server.py --port 9200

serves Streamable HTTP at ``http://127.0.0.1:9200/mcp`` with two tools, ``search_books`` and
``book_details``. Written with FastMCP; any MCP server speaking Streamable HTTP works the same way.
"""

from __future__ import annotations

import argparse

from fastmcp import FastMCP

BOOKS: dict[str, dict[str, str | int]] = {
    "9781449373320": {
        "title": "Designing Data-Intensive Applications",
        "author": "Martin Kleppmann",
        "year": 2017,
    },
    "9780134757599": {"title": "Refactoring", "author": "Martin Fowler", "year": 2018},
    "9781617298660": {"title": "Python Concurrency with asyncio", "author": "Matthew Fowler", "year": 2022},
}


def build_server() -> FastMCP:
    """The book catalogue server."""
    server = FastMCP("books")

    @server.tool
    def search_books(query: str = "Fowler") -> list[dict[str, str | int]]:
        """Find books whose title or author contains ``query`` (case-insensitive)."""
        needle = query.lower()
        return [
            {"isbn": isbn, **book}
            for isbn, book in BOOKS.items()
            if needle in str(book["title"]).lower() or needle in str(book["author"]).lower()
        ]

    @server.tool
    def book_details(isbn: str = "9780134757599") -> dict[str, str | int]:
        """The catalogue entry of one book, by ISBN-13."""
        if isbn not in BOOKS:
            raise ValueError(f"no book with ISBN {isbn}; search first")
        return {"isbn": isbn, **BOOKS[isbn]}

    return server


def main() -> None:
    """Serve over Streamable HTTP until interrupted."""
    parser = argparse.ArgumentParser(description="An offline book catalogue MCP server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    args = parser.parse_args()
    build_server().run(transport="streamable-http", host=args.host, port=args.port, path="/mcp")


if __name__ == "__main__":
    main()
