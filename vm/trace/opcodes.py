"""Opcode names and stack arities as geth prints them in traces."""
from __future__ import annotations

from typing import Final

_NAMED: Final = {
    0x00: "STOP", 0x01: "ADD", 0x02: "MUL", 0x03: "SUB", 0x04: "DIV", 0x05: "SDIV", 0x06: "MOD",
    0x07: "SMOD", 0x08: "ADDMOD", 0x09: "MULMOD", 0x0A: "EXP", 0x0B: "SIGNEXTEND",
    0x10: "LT", 0x11: "GT", 0x12: "SLT", 0x13: "SGT", 0x14: "EQ", 0x15: "ISZERO", 0x16: "AND",
    0x17: "OR", 0x18: "XOR", 0x19: "NOT", 0x1A: "BYTE", 0x1B: "SHL", 0x1C: "SHR", 0x1D: "SAR",
    0x1E: "CLZ", 0x20: "KECCAK256",
    0x30: "ADDRESS", 0x31: "BALANCE", 0x32: "ORIGIN", 0x33: "CALLER", 0x34: "CALLVALUE",
    0x35: "CALLDATALOAD", 0x36: "CALLDATASIZE", 0x37: "CALLDATACOPY", 0x38: "CODESIZE",
    0x39: "CODECOPY", 0x3A: "GASPRICE", 0x3B: "EXTCODESIZE", 0x3C: "EXTCODECOPY",
    0x3D: "RETURNDATASIZE", 0x3E: "RETURNDATACOPY", 0x3F: "EXTCODEHASH",
    # geth still calls 0x44 DIFFICULTY (PREVRANDAO since the merge).
    0x40: "BLOCKHASH", 0x41: "COINBASE", 0x42: "TIMESTAMP", 0x43: "NUMBER", 0x44: "DIFFICULTY",
    0x45: "GASLIMIT", 0x46: "CHAINID", 0x47: "SELFBALANCE", 0x48: "BASEFEE", 0x49: "BLOBHASH",
    0x4A: "BLOBBASEFEE", 0x4B: "SLOTNUM",
    0x50: "POP", 0x51: "MLOAD", 0x52: "MSTORE", 0x53: "MSTORE8", 0x54: "SLOAD", 0x55: "SSTORE",
    0x56: "JUMP", 0x57: "JUMPI", 0x58: "PC", 0x59: "MSIZE", 0x5A: "GAS", 0x5B: "JUMPDEST",
    0x5C: "TLOAD", 0x5D: "TSTORE", 0x5E: "MCOPY", 0x5F: "PUSH0",
    0xD0: "DATALOAD", 0xD1: "DATALOADN", 0xD2: "DATASIZE", 0xD3: "DATACOPY",
    0xE0: "RJUMP", 0xE1: "RJUMPI", 0xE2: "RJUMPV", 0xE3: "CALLF", 0xE4: "RETF", 0xE5: "JUMPF",
    0xE6: "DUPN", 0xE7: "SWAPN", 0xE8: "EXCHANGE", 0xEC: "EOFCREATE", 0xEE: "RETURNCONTRACT",
    0xF0: "CREATE", 0xF1: "CALL", 0xF2: "CALLCODE", 0xF3: "RETURN", 0xF4: "DELEGATECALL",
    0xF5: "CREATE2", 0xF7: "RETURNDATALOAD", 0xF8: "EXTCALL", 0xF9: "EXTDELEGATECALL",
    0xFA: "STATICCALL", 0xFB: "EXTSTATICCALL", 0xFD: "REVERT", 0xFE: "INVALID", 0xFF: "SELFDESTRUCT",
}


def _name(op: int) -> str:
    if 0x60 <= op <= 0x7F:
        return f"PUSH{op - 0x5F}"
    if 0x80 <= op <= 0x8F:
        return f"DUP{op - 0x7F}"
    if 0x90 <= op <= 0x9F:
        return f"SWAP{op - 0x8F}"
    if 0xA0 <= op <= 0xA4:
        return f"LOG{op - 0xA0}"
    return _NAMED.get(op, f"opcode {op:#x} not defined")


# geth's vm.OpCode.String() for every byte.
OP_NAMES: Final[tuple[str, ...]] = tuple(_name(op) for op in range(256))

_POPS: Final = {
    0x08: 3, 0x09: 3, 0x15: 1, 0x19: 1, 0x1E: 1, 0x31: 1, 0x35: 1, 0x37: 3, 0x39: 3, 0x3B: 1,
    0x3C: 4, 0x3E: 3, 0x3F: 1, 0x40: 1, 0x49: 1, 0x50: 1, 0x51: 1, 0x52: 2, 0x53: 2, 0x54: 1,
    0x55: 2, 0x56: 1, 0x57: 2, 0x5C: 1, 0x5D: 2, 0x5E: 3, 0xF0: 3, 0xF1: 7, 0xF2: 7, 0xF3: 2,
    0xF4: 6, 0xF5: 4, 0xFA: 6, 0xFD: 2, 0xFF: 1,
}


def _pops(op: int) -> int:
    if op in _POPS:
        return _POPS[op]
    if 0x01 <= op <= 0x07 or 0x0A <= op <= 0x14 or 0x16 <= op <= 0x18 or 0x1A <= op <= 0x1D or op == 0x20:
        return 2
    if 0x80 <= op <= 0x8F:
        return op - 0x7F
    if 0x90 <= op <= 0x9F:
        return op - 0x8E
    if 0xA0 <= op <= 0xA4:
        return op - 0x9E
    return 0


# How many stack items each opcode needs (geth's minStack): "stack underflow (have <=> need)".
STACK_INPUTS: Final[tuple[int, ...]] = tuple(_pops(op) for op in range(256))

CREATE, CALL, CALLCODE, DELEGATECALL, CREATE2, STATICCALL = 0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA
SLOAD, SSTORE = 0x54, 0x55
CALL_OPS: Final = frozenset((CALL, CALLCODE, DELEGATECALL, STATICCALL))
CREATE_OPS: Final = frozenset((CREATE, CREATE2))
