// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// Deployed by Probe through CREATE and CREATE2.
contract Child {
    address public immutable parent;
    uint256 public immutable tag;

    constructor(uint256 tag_) payable {
        parent = msg.sender;
        tag = tag_;
    }
}

/// Exercises the runtime: storage, logs, block context, contract creation,
/// value transfer, reverts and gas use.
contract Probe {
    uint256 private stored;

    event Stored(address indexed who, uint256 value);
    event Created(address indexed child, bool create2);
    event Deposited(address indexed from, uint256 amount);

    // --- storage and logs ---------------------------------------------------

    function set(uint256 value) external {
        stored = value;
        emit Stored(msg.sender, value);
    }

    function get() external view returns (uint256) {
        return stored;
    }

    // --- block context --------------------------------------------------------

    function blockInfo()
        external
        view
        returns (
            uint256 number,
            uint256 timestamp,
            uint256 basefee,
            uint256 chainid,
            address coinbase,
            bytes32 parentHash
        )
    {
        return (
            block.number,
            block.timestamp,
            block.basefee,
            block.chainid,
            block.coinbase,
            blockhash(block.number - 1)
        );
    }

    // --- contract creation ----------------------------------------------------

    /// CREATE: the child's address depends on this contract's nonce.
    function create(uint256 tag) external returns (address child) {
        child = address(new Child(tag));
        emit Created(child, false);
    }

    /// CREATE2: the child's address is predictCreate2(salt, tag).
    function create2(bytes32 salt, uint256 tag) external returns (address child) {
        child = address(new Child{salt: salt}(tag));
        emit Created(child, true);
    }

    function predictCreate2(bytes32 salt, uint256 tag) external view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(Child).creationCode, abi.encode(tag)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash)))));
    }

    // --- value ----------------------------------------------------------------

    function deposit() external payable {
        emit Deposited(msg.sender, msg.value);
    }

    function selfBalance() external view returns (uint256) {
        return address(this).balance;
    }

    // --- failure and gas ------------------------------------------------------

    /// Always reverts with Error("probe: nope").
    function fail() external pure {
        require(false, "probe: nope");
    }

    /// Burns gas: n rounds of hashing, then one storage write so the work is not optimised away.
    function burn(uint256 n) external returns (bytes32 acc) {
        for (uint256 i = 0; i < n; ++i) {
            acc = keccak256(abi.encodePacked(acc, i));
        }
        stored = uint256(acc);
    }
}
