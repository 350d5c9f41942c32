// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// The callee of Tracing: storage, a log, a revert with a reason, a panic.
contract TraceTarget {
    uint256 public value;

    event Poked(address indexed by, uint256 value);

    constructor() payable {}

    function poke(uint256 v) external payable returns (uint256) {
        value = v;
        emit Poked(msg.sender, v);
        return v * 2;
    }

    /// Logs, then reverts with Error("target: nonzero") unless v is 0 (the log goes too).
    function fail(uint256 v) external {
        emit Poked(msg.sender, v);
        require(v == 0, "target: nonzero");
    }

    /// Panics with 0x12 (division by zero) when d is 0.
    function divide(uint256 n, uint256 d) external pure returns (uint256) {
        return n / d;
    }

    function peek() external view returns (uint256) {
        return value;
    }
}

/// Exercises what debug_ traces show: nested calls of every kind, value, logs, reverts
/// with reasons, CREATE and CREATE2, a precompile, and storage reads and writes.
contract Tracing {
    uint256 public counter;
    mapping(uint256 => uint256) public slots;
    TraceTarget public target;

    event Step(uint256 indexed n, address who);

    constructor() payable {
        target = new TraceTarget();
    }

    /// A plain storage write: two SSTOREs and an SLOAD.
    function store(uint256 k, uint256 v) external {
        slots[k] = v;
        counter += 1;
    }

    /// One of each: CALL with value, a reverting CALL caught, STATICCALL, DELEGATECALL,
    /// a precompile, CREATE and CREATE2, logs before and after.
    function nested(uint256 v) external payable returns (uint256 r) {
        counter += 1;
        emit Step(counter, msg.sender);
        r = target.poke{value: msg.value}(v);
        try target.fail(v) {} catch {}
        try target.divide(v, 0) returns (uint256 q) { r += q; } catch {}
        r += target.peek();
        (bool ok, bytes memory out) = address(target).delegatecall(abi.encodeCall(TraceTarget.peek, ()));
        if (ok) r += abi.decode(out, (uint256));
        r += uint256(sha256(abi.encode(v)));
        TraceTarget made = new TraceTarget();
        TraceTarget salted = new TraceTarget{salt: bytes32(v)}();
        r += made.poke(1) + salted.poke(2);
        emit Step(r, address(made));
    }

    /// Reverts with the callee's reason, after writing storage and logging.
    function failing(uint256 v) external {
        counter += 1;
        emit Step(counter, msg.sender);
        target.fail(v);
    }

    /// Sends more than this contract holds: the CALL fails before entering the callee.
    function overdraw() external returns (bool ok) {
        (ok, ) = address(target).call{value: address(this).balance + 1}("");
    }
}
