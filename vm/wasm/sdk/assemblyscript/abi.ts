// Solidity ABI: reading call/constructor/return data, writing return and revert data.
// Entry points return a status (0 = return the output, 1 = revert with it) because
// AssemblyScript cannot unwind: helpers that revert set the output and return 1, and
// callers pass that status up (`if (status != OK) return status;`).
import * as env from "./env";
import { Address } from "./address";
import { U256 } from "./u256";
import { alloc, asciiBytes } from "./mem";

export const OK: i32 = 0;
export const REVERT: i32 = 1;

/** Panic codes, as Solidity 0.8 reverts with Panic(uint256 code). */
export const PANIC_OVERFLOW: u32 = 0x11;
export const PANIC_DIVISION_BY_ZERO: u32 = 0x12;

const ERROR_SELECTOR: u32 = 0x08c379a0; // Error(string)
const PANIC_SELECTOR: u32 = 0x4e487b71; // Panic(uint256)

/** Reads ABI-encoded arguments; a bad argument clears `ok` (Solidity reverts then, with no data). */
export class Reader {
  ok: bool = true;

  /** `base`: where the first argument word starts (4 after a selector, else 0). */
  constructor(public ptr: usize, public len: i32, public base: i32) {}

  /** The message's calldata: a selector, then the arguments. */
  static calldata(): Reader {
    const len = env.input_size();
    const ptr = alloc(len);
    env.input_copy(ptr, 0, len);
    return new Reader(ptr, len, 4);
  }

  /** In `deploy`: the ABI-encoded constructor arguments (what follows the module in the init code). */
  static constructorArgs(): Reader {
    const r = Reader.calldata();
    r.base = 0;
    return r;
  }

  /** The return (or revert) data of the last call. */
  static returndata(): Reader {
    const len = env.returndata_size();
    const ptr = alloc(len);
    env.returndata_copy(ptr, 0, len);
    return new Reader(ptr, len, 0);
  }

  /** False when the data is shorter than a selector: Solidity reverts (no fallback). */
  hasSelector(): bool { return this.len >= 4; }

  /** The first 4 bytes as a number, e.g. 0xa9059cbb for transfer(address,uint256). */
  selector(): u32 { return this.len >= 4 ? bswap<u32>(load<u32>(this.ptr)) : 0; }

  /** Pointer to argument word `i`; a missing word clears `ok` and reads as zero. */
  word(i: i32): usize {
    const at = this.base + 32 * i;
    if (at + 32 > this.len) {
      this.ok = false;
      return alloc(32);
    }
    return this.ptr + <usize>at;
  }

  u256(i: i32): U256 { return U256.fromBytes(this.word(i)); }

  /** An address argument; dirty upper bytes clear `ok`. */
  address(i: i32): Address {
    const w = this.word(i);
    if (!highZero(w, 12)) this.ok = false;
    return new Address(w);
  }

  /** A uint64 argument; a larger value clears `ok`. */
  u64(i: i32): u64 {
    const w = this.word(i);
    if (!highZero(w, 24)) this.ok = false;
    return bswap<u64>(load<u64>(w, 24));
  }

  /** A bool argument; anything but 0 or 1 clears `ok`. */
  bool(i: i32): bool {
    const w = this.word(i);
    const last = load<u8>(w, 31);
    if (!highZero(w, 31) || last > 1) this.ok = false;
    return last == 1;
  }
}

function highZero(w: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(w + <usize>i) != 0) return false;
  return true;
}

/** Builds ABI data of static values: return data, calldata, error or event data. */
export class Writer {
  ptr: usize;
  len: i32 = 0;
  cap: i32;

  constructor(cap: i32 = 128) {
    this.cap = cap;
    this.ptr = alloc(cap);
  }

  /** Data that starts with a 4-byte selector: calldata, or a custom error's revert data. */
  static withSelector(selector: u32, cap: i32 = 132): Writer {
    const w = new Writer(cap);
    store<u32>(w.ptr, bswap<u32>(selector));
    w.len = 4;
    return w;
  }

  private room(n: i32): usize {
    if (this.len + n > this.cap) {
      const cap = (this.len + n) * 2;
      const ptr = alloc(cap);
      memory.copy(ptr, this.ptr, <usize>this.len);
      this.ptr = ptr;
      this.cap = cap;
    }
    const at = this.ptr + <usize>this.len;
    this.len += n;
    return at;
  }

  /** Appends the 32 bytes at `ptr`. */
  word(ptr: usize): Writer {
    memory.copy(this.room(32), ptr, 32);
    return this;
  }

  u256(v: U256): Writer {
    v.writeTo(this.room(32));
    return this;
  }

  address(a: Address): Writer { return this.word(a.word); }

  u64(v: u64): Writer {
    const at = this.room(32);
    memory.fill(at, 0, 24);
    store<u64>(at, bswap<u64>(v), 24);
    return this;
  }

  bool(b: bool): Writer {
    const at = this.room(32);
    memory.fill(at, 0, 31);
    store<u8>(at, b ? 1 : 0, 31);
    return this;
  }

  /** Appends a string as the only dynamic value: its offset (0x20), length, padded bytes. */
  onlyString(s: string): Writer {
    const n = s.length;
    this.u64(32);
    this.u64(<u64>n);
    const padded = (n + 31) & ~31;
    const at = this.room(padded);
    memory.fill(at, 0, <usize>padded);
    memory.copy(at, asciiBytes(s), <usize>n);
    return this;
  }

  /** Sets the data as the message's output and returns OK: `return w.ret();` */
  ret(): i32 {
    env.set_output(this.ptr, this.len);
    return OK;
  }

  /** Sets the data as revert data and returns REVERT: `return w.revert();` */
  revert(): i32 {
    env.set_output(this.ptr, this.len);
    return REVERT;
  }
}

export function returnEmpty(): i32 { return OK; }
export function returnU256(v: U256): i32 { return new Writer(32).u256(v).ret(); }
export function returnU64(v: u64): i32 { return new Writer(32).u64(v).ret(); }
export function returnBool(b: bool): i32 { return new Writer(32).bool(b).ret(); }
export function returnAddress(a: Address): i32 { return new Writer(32).address(a).ret(); }
export function returnString(s: string): i32 { return new Writer(64 + s.length + 32).onlyString(s).ret(); }

/** Reverts with no data, as Solidity does for bad calldata or an unknown selector. */
export function revertEmpty(): i32 { return REVERT; }

/** Reverts with Error(string), as `require(cond, "message")` does. */
export function revertError(message: string): i32 {
  return Writer.withSelector(ERROR_SELECTOR, 100 + message.length).onlyString(message).revert();
}

/** Reverts with Panic(uint256 code), as Solidity's checked arithmetic does. */
export function revertPanic(code: u32): i32 {
  return Writer.withSelector(PANIC_SELECTOR, 36).u64(code).revert();
}

/** Starts a custom error's revert data: `return customError(0xe450d38c).address(a).u256(x).revert();` */
export function customError(selector: u32): Writer { return Writer.withSelector(selector); }
