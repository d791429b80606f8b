"""Almanac as a Model Context Protocol server: a third presentation layer beside the HTTP
routes and the CLI, over the same use cases.

- `tools.py` builds the server (the official SDK's `MCPServer`): six tools and the documents as
  resources, each a few lines that call a use case as the HTTP route does and return its HTTP
  schema as the tool's structured result.
- `http.py` serves it as streamable HTTP at `/mcp` of the API server, behind the same caller
  dependency (API keys) as every protected route.
- `almanac mcp` (`backend/cli/mcp_commands.py`) serves it over stdio, as the local admin or
  `--user NAME`.

Nothing is imported here: the MCP SDK costs a process about a second to import, so only the
server's start (`http.serving_mcp`) and `almanac mcp` import `tools.py`.
"""
