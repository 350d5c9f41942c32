"""JSON-RPC 2.0 error codes and the one exception every RPC method raises to report an error."""
from __future__ import annotations

from typing import Final

# Codes defined by the JSON-RPC 2.0 specification.
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603

# Server-defined codes, as Ethereum clients (geth, Anvil) use them.
EXECUTION_ERROR: Final = -32000  # generic failure: "nonce too low", "insufficient funds", ...
EXECUTION_REVERTED: Final = 3  # eth_call / eth_estimateGas revert; data is the revert payload


class RpcError(Exception):
    """An error a JSON-RPC method reports to its caller as `{"code", "message", "data"?}`."""

    def __init__(self, code: int, message: str, data: object | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def __repr__(self) -> str:
        return f"RpcError(code={self.code!r}, message={self.message!r}, data={self.data!r})"

    def to_json(self) -> dict[str, object]:
        """Return the JSON-RPC `error` member; `data` is omitted when it is None."""
        if self.data is None:
            return {"code": self.code, "message": self.message}
        return {"code": self.code, "message": self.message, "data": self.data}


def invalid_params(message: str) -> RpcError:
    """Return a -32602 error whose message says what is wrong with the params."""
    return RpcError(INVALID_PARAMS, message)


def method_not_found(method: str) -> RpcError:
    """Return the -32601 error, worded as geth words it."""
    return RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available")


def invalid_request(message: str = "Invalid Request") -> RpcError:
    """Return a -32600 error."""
    return RpcError(INVALID_REQUEST, message)
