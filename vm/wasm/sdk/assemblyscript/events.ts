// Events: topic0 is keccak256 of the event's signature, as Solidity emits them; indexed
// values are further topics, the others are ABI-encoded data.
import * as env from "./env";
import { Address } from "./address";
import { U256 } from "./u256";
import { Writer } from "./abi";
import { alloc, asciiBytes } from "./mem";
import { keccak } from "./context";

function hexDigit(c: i32): u8 {
  return <u8>(c <= 57 ? c - 48 : (c | 32) - 87);
}

export class Event {
  topics: usize;
  count: i32 = 1;
  data: Writer = new Writer(64);

  /** `signature` as in Solidity, e.g. "Transfer(address,address,uint256)"; `topic0`, if
   *  given, its keccak256 as 64 hex digits, precomputed so emitting costs no keccak host call
   *  (the examples' unit test checks each against its signature). */
  constructor(signature: string, topic0: string = "") {
    this.topics = alloc(4 * 32);
    if (topic0.length == 64) {
      for (let i = 0; i < 32; i++) {
        store<u8>(this.topics + <usize>i, (hexDigit(topic0.charCodeAt(2 * i)) << 4) | hexDigit(topic0.charCodeAt(2 * i + 1)));
      }
    } else {
      memory.copy(this.topics, keccak(asciiBytes(signature), signature.length), 32);
    }
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
