"""State: the key-value store protocol and the views py-evm reads and writes through."""
