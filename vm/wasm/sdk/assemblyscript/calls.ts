// Calls to other contracts (EVM, WASM or pallets: they look the same). A failed call
// undoes the callee's writes and returns false; its revert data is then in returndata.
import * as env from "./env";
import { Address } from "./address";
import { U256 } from "./u256";
import { Reader, Writer, REVERT } from "./abi";
import { alloc } from "./mem";

/** Calls `to` with `data`, sending `value` wei; `gas` 0 = all but 1/64 of what is left. */
export function callContract(to: Address, value: U256, data: Writer, gas: u64 = 0): bool {
  return env.call_contract(to.bytes20, value.toBytes(), data.ptr, data.len, <i64>gas) == 0;
}

/** A read-only call: any write in the callee fails it. */
export function staticCall(to: Address, data: Writer, gas: u64 = 0): bool {
  return env.static_call(to.bytes20, data.ptr, data.len, <i64>gas) == 0;
}

/** The last call's return (or revert) data, ready to decode: `returnData().u256(0)`. */
export function returnData(): Reader { return Reader.returndata(); }

/** Reverts with the last call's revert data, as Solidity bubbles a failed call up. */
export function bubbleRevert(): i32 {
  const len = env.returndata_size();
  const ptr = alloc(len);
  env.returndata_copy(ptr, 0, len);
  env.set_output(ptr, len);
  return REVERT;
}
