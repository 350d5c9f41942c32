// The host API v1 imports (vm/wasm/HOST_API.md). Pointers and lengths are i32 (usize on
// wasm32); words are 32 bytes big-endian. Contracts use the wrappers in the other files.

@external("env", "input_size") export declare function input_size(): i32;
@external("env", "input_copy") export declare function input_copy(dest: usize, offset: i32, len: i32): void;
@external("env", "set_output") export declare function set_output(ptr: usize, len: i32): void;
/** Ends the message now, reverting with `len` bytes at `ptr` (no status to pass up). */
@external("env", "revert") export declare function revert(ptr: usize, len: i32): void;
@external("env", "storage_load") export declare function storage_load(key: usize, out: usize): void;
@external("env", "storage_store") export declare function storage_store(key: usize, value: usize): void;
@external("env", "caller") export declare function caller(out: usize): void;
@external("env", "origin") export declare function origin(out: usize): void;
@external("env", "address") export declare function address(out: usize): void;
@external("env", "callvalue") export declare function callvalue(out: usize): void;
@external("env", "balance") export declare function balance(addr: usize, out: usize): void;
@external("env", "block_number") export declare function block_number(): i64;
@external("env", "block_timestamp") export declare function block_timestamp(): i64;
@external("env", "chain_id") export declare function chain_id(): i64;
@external("env", "basefee") export declare function basefee(out: usize): void;
@external("env", "gas_left") export declare function gas_left(): i64;
@external("env", "keccak256") export declare function keccak256(ptr: usize, len: i32, out: usize): void;
@external("env", "emit_log") export declare function emit_log(data: usize, dataLen: i32, topics: usize, topicCount: i32): void;
@external("env", "call_contract") export declare function call_contract(addr: usize, value: usize, data: usize, dataLen: i32, gas: i64): i32;
@external("env", "static_call") export declare function static_call(addr: usize, data: usize, dataLen: i32, gas: i64): i32;
@external("env", "delegate_call") export declare function delegate_call(addr: usize, data: usize, dataLen: i32, gas: i64): i32;
@external("env", "returndata_size") export declare function returndata_size(): i32;
@external("env", "returndata_copy") export declare function returndata_copy(dest: usize, offset: i32, len: i32): void;
@external("env", "create") export declare function create(code: usize, codeLen: i32, value: usize, salt: usize, outAddr: usize): i32;
