// Storage with Solidity's layout: state variable N lives at slot N, and mapping(K => V) at
// slot N keeps m[k] at keccak256(k ‖ N) (nested: keccak256(k2 ‖ keccak256(k1 ‖ N))), so a
// WASM contract's storage reads the same as its Solidity twin's (eth_getStorageAt, proofs).
import * as env from "./env";
import { Address } from "./address";
import { U256 } from "./u256";
import { alloc } from "./mem";
import { keccak } from "./context";

/** The word at slot `slot` (a 32-byte key). */
export function loadWord(slot: usize): U256 {
  const out = alloc(32);
  env.storage_load(slot, out);
  return U256.fromBytes(out);
}

export function storeWord(slot: usize, value: U256): void {
  env.storage_store(slot, value.toBytes());
}

/** The slot of m[key] for a mapping at `slot`: keccak256(key ‖ slot). */
export function mappingSlot(key: usize, slot: usize): usize {
  const buf = alloc(64);
  memory.copy(buf, key, 32);
  memory.copy(buf + 32, slot, 32);
  return keccak(buf, 64);
}

/** The slot key of state variable number `n`. */
export function slotOf(n: u64): usize { return U256.fromU64(n).toBytes(); }

/** A uint256 state variable: `uint256 totalSupply;` at slot n. */
export class StorageU256 {
  slot: usize;
  constructor(n: u64) { this.slot = slotOf(n); }
  get(): U256 { return loadWord(this.slot); }
  set(v: U256): void { storeWord(this.slot, v); }
}

/** `mapping(address => uint256)` at slot n. */
export class AddressMap {
  slot: usize;
  constructor(n: u64) { this.slot = slotOf(n); }
  slotFor(key: Address): usize { return mappingSlot(key.word, this.slot); }
  get(key: Address): U256 { return loadWord(this.slotFor(key)); }
  set(key: Address, v: U256): void { storeWord(this.slotFor(key), v); }
}

/** `mapping(address => mapping(address => uint256))` at slot n (e.g. ERC-20 allowances). */
export class AddressMap2 {
  slot: usize;
  constructor(n: u64) { this.slot = slotOf(n); }
  slotFor(a: Address, b: Address): usize { return mappingSlot(b.word, mappingSlot(a.word, this.slot)); }
  get(a: Address, b: Address): U256 { return loadWord(this.slotFor(a, b)); }
  set(a: Address, b: Address, v: U256): void { storeWord(this.slotFor(a, b), v); }
}
