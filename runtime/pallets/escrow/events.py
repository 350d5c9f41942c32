"""Escrow events: ordinary logs, topic 0 = keccak of the signature."""
from runtime.pallets.framework import event

Opened = event("Opened(uint256 indexed id, address indexed buyer, address indexed seller, uint256 amount)")
Shipped = event("Shipped(uint256 indexed id)")
Released = event("Released(uint256 indexed id, address to, uint256 amount)")
Refunded = event("Refunded(uint256 indexed id, address to, uint256 amount)")
Disputed = event("Disputed(uint256 indexed id, address by)")
Resolved = event("Resolved(uint256 indexed id, uint16 buyerBps, uint256 toBuyer, uint256 toSeller)")
