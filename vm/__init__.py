"""Virtual machines behind one small interface: the EVM (py-evm) now, WASM later."""
