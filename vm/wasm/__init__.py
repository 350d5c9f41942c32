"""WASM contracts on wasmtime, joined to py-evm's message calls (spec: HOST_API.md).

``executor.run_wasm`` runs a message whose code starts with ``\\0asm``; ``vm.evm`` calls it.
"""
