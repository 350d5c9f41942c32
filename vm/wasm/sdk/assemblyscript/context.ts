// The message and block context (msg.sender, msg.value, block.timestamp, ...).
import * as env from "./env";
import { Address } from "./address";
import { U256 } from "./u256";
import { alloc } from "./mem";

/** msg.sender */
export function msgSender(): Address {
  const word = alloc(32);
  env.caller(word + 12);
  return new Address(word);
}

/** tx.origin */
export function txOrigin(): Address {
  const word = alloc(32);
  env.origin(word + 12);
  return new Address(word);
}

/** address(this) */
export function selfAddress(): Address {
  const word = alloc(32);
  env.address(word + 12);
  return new Address(word);
}

/** msg.value */
export function msgValue(): U256 {
  const word = alloc(32);
  env.callvalue(word);
  return U256.fromBytes(word);
}

/** The balance of `account`, in wei. */
export function balanceOf(account: Address): U256 {
  const word = alloc(32);
  env.balance(account.bytes20, word);
  return U256.fromBytes(word);
}

export function blockNumber(): u64 { return <u64>env.block_number(); }
export function blockTimestamp(): u64 { return <u64>env.block_timestamp(); }
export function chainId(): u64 { return <u64>env.chain_id(); }
export function gasLeft(): u64 { return <u64>env.gas_left(); }

/** keccak256 of `len` bytes at `ptr`, as a fresh 32-byte word. */
export function keccak(ptr: usize, len: i32): usize {
  const out = alloc(32);
  env.keccak256(ptr, len, out);
  return out;
}
