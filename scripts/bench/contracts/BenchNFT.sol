// SPDX-License-Identifier: MIT
// scripts/bench/pallets.py: the Solidity side of the ERC-721 mint workload.
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";

/// An OpenZeppelin ERC721URIStorage collection anyone may mint from, as anyone may open a
/// store with the stores pallet: `mint(uri)` mints the next id (from 1) to the caller and
/// stores its token URI.
contract BenchNFT is ERC721URIStorage {
    uint256 public lastId;

    constructor() ERC721("Bench Stores", "BST") {}

    function mint(string calldata uri) external returns (uint256 id) {
        id = ++lastId;
        _mint(msg.sender, id);
        _setTokenURI(id, uri);
    }
}
