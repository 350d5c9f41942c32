// The check harness the dApp scripts share: named checks, assertions, one JSON result line.
//
//   import { Checks } from "./checks.mjs";
//   const c = new Checks("ethers-pallets");
//   await c.check("name", async () => { c.eq(a, b, "what"); });
//   c.finish({ extra: 1 });          // {"ok": true, "client": ..., "checks": [...], ...}, exit 0
// On the first failure the script prints {"ok": false, "check", "error", "checks"} and exits 1.

export class CheckFailed extends Error {}

export function fmt(v) {
  return typeof v === "bigint" ? `${v}n` : JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
}

export function describeError(err) {
  if (err == null) return String(err);
  const parts = [err.stack || err.message || String(err)];
  if (err.code) parts.push(`code=${err.code}`);
  if (err.info) {
    try {
      parts.push(`info=${fmt(err.info)}`);
    } catch { /* circular */ }
  }
  return parts.join(" | ");
}

/** `promise`, or a CheckFailed after `ms` milliseconds. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]);
}

export class Checks {
  constructor(client, overallTimeoutMs = 100_000) {
    this.client = client;
    this.passed = [];
    this.current = "(setup)";
    const overall = setTimeout(() => this.fail(new CheckFailed(`overall timeout ${overallTimeoutMs} ms`)), overallTimeoutMs);
    overall.unref();
  }

  assert(cond, message) {
    if (!cond) throw new CheckFailed(message);
  }

  eq(actual, expected, what) {
    this.assert(actual === expected, `${what}: expected ${fmt(expected)}, got ${fmt(actual)}`);
  }

  async check(name, fn) {
    this.current = name;
    await fn();
    this.passed.push(name);
  }

  /** `promise` must reject; returns the error. */
  async rejects(promise, what) {
    try {
      const value = await promise;
      throw new CheckFailed(`${what}: expected a rejection, got ${fmt(value?.hash ?? String(value))}`);
    } catch (err) {
      if (err instanceof CheckFailed) throw err;
      return err;
    }
  }

  finish(extra = {}) {
    this._write({ ok: true, client: this.client, checks: this.passed, ...extra }, 0);
  }

  fail(err) {
    this._write({ ok: false, client: this.client, check: this.current, error: describeError(err), checks: this.passed }, 1);
  }

  _write(result, code) {
    process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code));
  }
}
