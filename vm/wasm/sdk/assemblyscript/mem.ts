// Raw memory: every value the host reads or writes is a pointer into linear memory.
// Contracts are built with `--runtime stub` (a bump allocator that never frees): each
// message gets a fresh instance, so nothing outlives a call and freeing buys nothing.

/** `len` zeroed bytes. */
export function alloc(len: i32): usize {
  const ptr = heap.alloc(<usize>len);
  memory.fill(ptr, 0, <usize>len);
  return ptr;
}

/** A copy of `len` bytes at `src`. */
export function copyOf(src: usize, len: i32): usize {
  const ptr = heap.alloc(<usize>len);
  memory.copy(ptr, src, <usize>len);
  return ptr;
}

/** True when the `len` bytes at `a` and `b` are equal. */
export function bytesEqual(a: usize, b: usize, len: i32): bool {
  return memory.compare(a, b, <usize>len) == 0;
}

/** A string's characters as bytes (ASCII only: signatures, revert messages, names). */
export function asciiBytes(s: string): usize {
  const n = s.length;
  const ptr = heap.alloc(<usize>n);
  for (let i = 0; i < n; i++) store<u8>(ptr + <usize>i, <u8>s.charCodeAt(i));
  return ptr;
}
