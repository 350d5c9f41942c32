// chameleon-sdk: write Chameleon WASM contracts in AssemblyScript. See README.md.
export * from "./abi";
export * from "./address";
export * from "./calls";
export * from "./context";
export * from "./events";
export * from "./storage";
export * from "./u256";
export { alloc, copyOf, bytesEqual, asciiBytes } from "./mem";
