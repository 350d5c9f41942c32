// An address kept as a 32-byte word (12 zero bytes, then the 20 address bytes): the form
// it takes in ABI data, event topics and mapping keys, so it is passed on without copying.
import { alloc, bytesEqual } from "./mem";

export class Address {
  /** `word` points at 32 bytes whose first 12 are zero. */
  constructor(public word: usize) {}

  /** The 20 address bytes at `ptr`. */
  static fromBytes20(ptr: usize): Address {
    const word = alloc(32);
    memory.copy(word + 12, ptr, 20);
    return new Address(word);
  }

  /** Parses "0x" followed by 40 hex digits (for constants such as a pallet's address). */
  static fromHex(hex: string): Address {
    const word = alloc(32);
    for (let i = 0; i < 20; i++) {
      const hi = hexDigit(hex.charCodeAt(2 + 2 * i));
      const lo = hexDigit(hex.charCodeAt(3 + 2 * i));
      store<u8>(word + 12 + <usize>i, <u8>((hi << 4) | lo));
    }
    return new Address(word);
  }

  static zero(): Address { return new Address(alloc(32)); }

  /** Pointer to the 20 address bytes, as host calls take them. */
  get bytes20(): usize { return this.word + 12; }

  isZero(): bool {
    return load<u32>(this.word, 12) == 0 && load<u64>(this.word, 16) == 0 && load<u64>(this.word, 24) == 0;
  }

  eq(o: Address): bool { return bytesEqual(this.word, o.word, 32); }
}

function hexDigit(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return 0;
}
