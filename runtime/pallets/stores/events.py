"""Stores events: ERC-721's (exact signatures and indexing), then the marketplace's."""
from runtime.pallets.framework import event

# ERC-721
Transfer = event("Transfer(address indexed from, address indexed to, uint256 indexed tokenId)")
Approval = event("Approval(address indexed owner, address indexed approved, uint256 indexed tokenId)")
ApprovalForAll = event("ApprovalForAll(address indexed owner, address indexed operator, bool approved)")

# the marketplace
StoreCreated = event("StoreCreated(uint256 indexed storeId, address indexed owner, string name, string catalogURI)")
CatalogUpdated = event("CatalogUpdated(uint256 indexed storeId, string catalogURI)")
ProductListed = event("ProductListed(uint256 indexed productId, uint256 indexed storeId, uint256 price, "
                      "uint32 stock, string metadataURI)")
ProductUpdated = event("ProductUpdated(uint256 indexed productId, uint256 price, uint32 stock)")
Purchased = event("Purchased(uint256 indexed escrowId, uint256 indexed productId, address indexed buyer, "
                  "uint32 quantity, uint256 amount)")
OrderSettled = event("OrderSettled(uint256 indexed escrowId, uint256 indexed storeId, uint8 status)")
Rated = event("Rated(uint256 indexed escrowId, uint256 indexed storeId, address indexed buyer, uint8 stars)")
