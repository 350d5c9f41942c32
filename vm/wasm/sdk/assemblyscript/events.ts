// Events: topic0 is keccak256 of the event's signature, as Solidity emits them; indexed
// values are further topics, the others are ABI-encoded data.
import * as env from "./env";
import { Address } from "./address";
import { U256 } from "./u256";
import { Writer } from "./abi";
import { alloc, asciiBytes } from "./mem";
import { keccak } from "./context";

export class Event {
  topics: usize;
  count: i32 = 1;
  data: Writer = new Writer(64);

  /** `signature` as in Solidity, e.g. "Transfer(address,address,uint256)". */
  constructor(signature: string) {
    this.topics = alloc(4 * 32);
    memory.copy(this.topics, keccak(asciiBytes(signature), signature.length), 32);
  }

  /** Adds an indexed value (a topic); at most 3. */
  topic(word: usize): Event {
    memory.copy(this.topics + <usize>(32 * this.count), word, 32);
    this.count++;
    return this;
  }
  indexedAddress(a: Address): Event { return this.topic(a.word); }
  indexedU256(v: U256): Event { return this.topic(v.toBytes()); }

  /** Adds a non-indexed value to the data. */
  address(a: Address): Event { this.data.address(a); return this; }
  u256(v: U256): Event { this.data.u256(v); return this; }
  u64(v: u64): Event { this.data.u64(v); return this; }
  bool(b: bool): Event { this.data.bool(b); return this; }

  emit(): void { env.emit_log(this.data.ptr, this.data.len, this.topics, this.count); }
}
