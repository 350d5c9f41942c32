"""Ethereum JSON-RPC: the JSON-RPC 2.0 transport (HTTP + WebSocket) and its errors."""
from node.rpc.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    invalid_params,
)
from node.rpc.server import Dispatcher, Method, WebSocketConnection, serve

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "Dispatcher",
    "Method",
    "RpcError",
    "WebSocketConnection",
    "invalid_params",
    "serve",
]
