// A 256-bit unsigned integer (Solidity's uint256) as four u64 limbs, least significant
// first. Arithmetic wraps like Solidity's `unchecked`; checkedAdd/checkedSub return null on
// overflow so the caller can revert with Panic(0x11) as Solidity 0.8 does.
import { alloc } from "./mem";

let carry: u64 = 0; // carry (add) or borrow (sub) out of the last add/sub

export class U256 {
  constructor(public l0: u64 = 0, public l1: u64 = 0, public l2: u64 = 0, public l3: u64 = 0) {}

  static zero(): U256 { return new U256(); }
  static fromU64(v: u64): U256 { return new U256(v); }
  static max(): U256 { return new U256(u64.MAX_VALUE, u64.MAX_VALUE, u64.MAX_VALUE, u64.MAX_VALUE); }

  /** The 32-byte big-endian word at `ptr`. */
  static fromBytes(ptr: usize): U256 {
    return new U256(
      bswap<u64>(load<u64>(ptr, 24)), bswap<u64>(load<u64>(ptr, 16)),
      bswap<u64>(load<u64>(ptr, 8)), bswap<u64>(load<u64>(ptr)));
  }

  /** Writes the value as a 32-byte big-endian word at `ptr`. */
  writeTo(ptr: usize): void {
    store<u64>(ptr, bswap<u64>(this.l3));
    store<u64>(ptr, bswap<u64>(this.l2), 8);
    store<u64>(ptr, bswap<u64>(this.l1), 16);
    store<u64>(ptr, bswap<u64>(this.l0), 24);
  }

  /** A fresh 32-byte big-endian word holding the value. */
  toBytes(): usize {
    const ptr = alloc(32);
    this.writeTo(ptr);
    return ptr;
  }

  isZero(): bool { return (this.l0 | this.l1 | this.l2 | this.l3) == 0; }
  fitsU64(): bool { return (this.l1 | this.l2 | this.l3) == 0; }
  toU64(): u64 { return this.l0; }

  eq(o: U256): bool {
    return this.l0 == o.l0 && this.l1 == o.l1 && this.l2 == o.l2 && this.l3 == o.l3;
  }

  lt(o: U256): bool {
    if (this.l3 != o.l3) return this.l3 < o.l3;
    if (this.l2 != o.l2) return this.l2 < o.l2;
    if (this.l1 != o.l1) return this.l1 < o.l1;
    return this.l0 < o.l0;
  }
  gt(o: U256): bool { return o.lt(this); }
  lte(o: U256): bool { return !o.lt(this); }
  gte(o: U256): bool { return !this.lt(o); }

  /** this + o, wrapping modulo 2^256. */
  add(o: U256): U256 {
    const r0 = addc(this.l0, o.l0, 0);
    const r1 = addc(this.l1, o.l1, carry);
    const r2 = addc(this.l2, o.l2, carry);
    const r3 = addc(this.l3, o.l3, carry);
    return new U256(r0, r1, r2, r3);
  }

  /** this - o, wrapping modulo 2^256. */
  sub(o: U256): U256 {
    const r0 = subb(this.l0, o.l0, 0);
    const r1 = subb(this.l1, o.l1, carry);
    const r2 = subb(this.l2, o.l2, carry);
    const r3 = subb(this.l3, o.l3, carry);
    return new U256(r0, r1, r2, r3);
  }

  /** this + o, or null when it overflows. */
  checkedAdd(o: U256): U256 | null {
    const r = this.add(o);
    return carry != 0 ? null : r;
  }

  /** this - o, or null when o > this. */
  checkedSub(o: U256): U256 | null {
    const r = this.sub(o);
    return carry != 0 ? null : r;
  }
}

function addc(a: u64, b: u64, c: u64): u64 {
  const s = a + b;
  const r = s + c;
  carry = <u64>(s < a) | <u64>(r < s);
  return r;
}

function subb(a: u64, b: u64, c: u64): u64 {
  const d = a - b;
  const r = d - c;
  carry = <u64>(a < b) | <u64>(d < c);
  return r;
}
