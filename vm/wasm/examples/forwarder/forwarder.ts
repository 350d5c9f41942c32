// Calls any contract (EVM, WASM or pallet) with the bytes it is given, as a WASM frame in
// the middle of a call chain: forward(target, data) first counts the call in its own storage
// (`uint256 calls;` at slot 0) and logs Forwarded(target, calls), then calls `target` with
// `data`; it returns the callee's return data as `bytes`, or reverts with the callee's revert
// data (bubbled up as Solidity does), which also undoes its own count and log.
import {
  Address, Event, OK, Reader, StorageU256, U256, Writer, alloc, bubbleRevert, callContract, msgValue,
  returnU256, revertEmpty,
} from "chameleon-sdk";
import * as env from "chameleon-sdk/env";

const FORWARD_SEL: u32 = 0x6fadcf72; // forward(address,bytes)
const CALLS_SEL: u32 = 0x305f72b7; // calls()

function calls(): StorageU256 { return new StorageU256(0); }

export function call(): i32 {
  const input = Reader.calldata();
  if (!input.hasSelector() || !msgValue().isZero()) return revertEmpty();
  const selector = input.selector();
  if (selector == CALLS_SEL) return returnU256(calls().get());
  if (selector != FORWARD_SEL) return revertEmpty();

  const target = input.address(0);
  const offset = input.u64(1); // where `data` starts, from the first argument word
  if (!input.ok || offset > <u64>input.len) return revertEmpty();
  const lenAt = input.base + <i32>offset;
  if (lenAt + 32 > input.len) return revertEmpty();
  const length = new Reader(input.ptr + <usize>lenAt, 32, 0).u64(0);
  if (length > <u64>(input.len - lenAt - 32)) return revertEmpty();
  const len = <i32>length;

  // The write and the log before the call: a failing callee must undo them with ours.
  const count = calls().get().add(U256.fromU64(1));
  calls().set(count);
  new Event("Forwarded(address,uint256)").indexedAddress(target).u256(count).emit();

  const data = new Writer(len > 0 ? len : 1);
  memory.copy(data.ptr, input.ptr + <usize>(lenAt + 32), <usize>len);
  data.len = len;
  if (!callContract(target, U256.fromU64(0), data)) return bubbleRevert();

  // return abi.encode(bytes(returndata))
  const n = env.returndata_size();
  const padded = (n + 31) & ~31;
  const out = alloc(64 + padded);
  memory.fill(out, 0, <usize>(64 + padded));
  store<u8>(out, 0x20, 31);
  store<u32>(out, bswap<u32>(<u32>n), 60);
  env.returndata_copy(out + 64, 0, n);
  env.set_output(out, 64 + padded);
  return OK;
}
