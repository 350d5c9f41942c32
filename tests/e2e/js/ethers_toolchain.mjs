// A dApp's test script with ethers v6 against a dev node (Anvil or `chameleon dev`): deploy,
// events pushed over WebSocket (eth_subscribe), snapshots and time travel.
//
//   node tests/e2e/js/ethers_toolchain.mjs URL
//
// URL is the node's HTTP URL; the WebSocket is the same host and port (ws://). Compiles
// tests/e2e/hardhat/contracts/Vault.sol with solc-js (npm `solc`), sends transactions over
// HTTP with a local wallet, listens over WebSocket. Prints ONE JSON line: {"ok": true,
// "client": "ethers", "vault": "0x...", "checks": [...]} or, on the first failed check,
// {"ok": false, "check": "...", "error": "...", "checks": [...passed so far]} and exits 1.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import {
  Contract,
  ContractFactory,
  JsonRpcProvider,
  Wallet,
  WebSocketProvider,
  isError,
  parseEther,
} from "ethers";

import { Checks, describeError, withTimeout } from "./checks.mjs";
import solc from "solc";

const [url] = process.argv.slice(2);
if (!url || !url.startsWith("http")) {
  console.error("usage: node ethers_toolchain.mjs HTTP_URL");
  process.exit(2);
}

const HERE = dirname(fileURLToPath(import.meta.url));
const VAULT_SOL = join(HERE, "..", "hardhat", "contracts", "Vault.sol");
const CHAIN_ID = 31337n;
const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const BENEFICIARY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const ONE_DAY = 86_400;
const EVENT_TIMEOUT_MS = 15_000;
const OVERALL_TIMEOUT_MS = 100_000;

const c = new Checks("ethers", OVERALL_TIMEOUT_MS);
const assert = c.assert.bind(c);
const eq = c.eq.bind(c);
const check = c.check.bind(c);
const rejects = c.rejects.bind(c);


/** A queue of values pushed by a listener; `next(pred)` waits for the first matching one. */
class Inbox {
  #items = [];
  #waiters = [];

  push(item) {
    const i = this.#waiters.findIndex((w) => w.pred(item));
    if (i >= 0) {
      const [w] = this.#waiters.splice(i, 1);
      w.resolve(item);
    } else {
      this.#items.push(item);
    }
  }

  next(pred, what) {
    const i = this.#items.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.#items.splice(i, 1)[0]);
    return withTimeout(new Promise((resolve) => this.#waiters.push({ pred, resolve })), EVENT_TIMEOUT_MS, what);
  }

  get size() {
    return this.#items.length;
  }
}

/** ethers' WebSocketProvider, keeping what went over the wire: to tell a pushed event from a polled one. */
class RecordingWebSocketProvider extends WebSocketProvider {
  sent = []; // requests: {id, method, params}
  answered = new Map(); // request id -> response
  pushed = []; // eth_subscription params: {subscription, result}

  async _write(message) {
    this.sent.push(JSON.parse(message));
    return super._write(message);
  }

  async _processMessage(message) {
    const msg = JSON.parse(message);
    if (msg.method === "eth_subscription") this.pushed.push(msg.params);
    else if ("id" in msg) this.answered.set(msg.id, msg);
    return super._processMessage(message);
  }

  /** Resolves with the subscription id once the node accepted eth_subscribe(kind). */
  async subscribed(kind) {
    const deadline = Date.now() + EVENT_TIMEOUT_MS;
    for (;;) {
      const request = this.sent.find((r) => r.method === "eth_subscribe" && r.params[0] === kind);
      const response = request && this.answered.get(request.id);
      if (response) {
        assert(typeof response.result === "string", `eth_subscribe(${kind}) answered ${JSON.stringify(response)}`);
        return response.result;
      }
      assert(Date.now() < deadline, `no answered eth_subscribe(${kind}) within ${EVENT_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function compileVault() {
  const input = {
    language: "Solidity",
    sources: { "Vault.sol": { content: readFileSync(VAULT_SOL, "utf8") } },
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { "Vault.sol": { Vault: ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  assert(errors.length === 0, `solc: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  const vault = output.contracts["Vault.sol"].Vault;
  return { abi: vault.abi, bytecode: "0x" + vault.evm.bytecode.object };
}

async function main() {
  const provider = new JsonRpcProvider(url, undefined, { pollingInterval: 200, cacheTimeout: -1 });
  const ws = new RecordingWebSocketProvider(url.replace(/^http/, "ws"));
  const wallet = new Wallet(KEY0, provider);
  const rpc = (method, params = []) => provider.send(method, params);
  let artifact;
  let vault; // over HTTP, with the wallet
  let vaultWs; // over WebSocket, read-only
  let vaultAddress;
  let releaseTime;
  const deposits = new Inbox();
  const releases = new Inbox();
  const heads = new Inbox();

  await check("HTTP and WebSocket on one port: same chain id, same head", async () => {
    eq((await provider.getNetwork()).chainId, CHAIN_ID, "HTTP chainId");
    eq((await ws.getNetwork()).chainId, CHAIN_ID, "WebSocket chainId");
    eq(await ws.getBlockNumber(), await provider.getBlockNumber(), "block number over both");
  });

  await check("compile Vault.sol with solc-js", async () => {
    artifact = compileVault();
    assert(artifact.bytecode.length > 100, "empty bytecode");
  });

  await check("deploy Vault (1 ETH locked for a day) with ContractFactory", async () => {
    const factory = new ContractFactory(artifact.abi, artifact.bytecode, wallet);
    const contract = await factory.deploy(BENEFICIARY, ONE_DAY, { value: parseEther("1") });
    await withTimeout(contract.waitForDeployment(), 30_000, "waitForDeployment");
    vaultAddress = await contract.getAddress();
    const receipt = await contract.deploymentTransaction().wait();
    eq(receipt.status, 1, "deployment receipt status");
    const block = await provider.getBlock(receipt.blockNumber);
    vault = new Contract(vaultAddress, artifact.abi, wallet);
    vaultWs = new Contract(vaultAddress, artifact.abi, ws);
    releaseTime = await vault.releaseTime();
    eq(releaseTime, BigInt(block.timestamp + ONE_DAY), "releaseTime = deployment block time + 1 day");
    eq(await vault.beneficiary(), BENEFICIARY, "beneficiary()");
    eq(await provider.getBalance(vaultAddress), parseEther("1"), "vault balance");
  });

  await check("contract.on over WebSocket: Deposited pushed by eth_subscribe(logs)", async () => {
    await vaultWs.on("Deposited", (from, amount, payload) => deposits.push({ from, amount, log: payload.log }));
    await vaultWs.on("Released", (to, amount, at, payload) => releases.push({ to, amount, at, log: payload.log }));
    await ws.subscribed("logs");
    const tx = await vault.deposit({ value: parseEther("0.5") });
    const receipt = await tx.wait();
    const got = await deposits.next((d) => d.log.transactionHash === tx.hash, "Deposited over WebSocket");
    eq(got.from, ADDR0, "Deposited.from");
    eq(got.amount, parseEther("0.5"), "Deposited.amount");
    eq(got.log.blockNumber, receipt.blockNumber, "log blockNumber");
    const polled = ws.sent.filter((r) => /^eth_(newFilter|getFilterChanges|getLogs)$/.test(r.method));
    eq(polled.length, 0, "filter/getLogs requests over the WebSocket (a push subscription needs none)");
    assert(ws.pushed.some((p) => p.result?.transactionHash === tx.hash), "no eth_subscription message for the deposit");
  });

  await check("release() before the time rejects with custom error TooEarly", async () => {
    // a transaction: ethers' eth_estimateGas fails with the revert data, decoded by the ABI
    const err = await rejects(vault.release(), "early release()");
    assert(isError(err, "CALL_EXCEPTION"), `expected CALL_EXCEPTION, got ${describeError(err)}`);
    const decoded = vault.interface.parseError(err.data);
    eq(decoded?.name, "TooEarly", "parseError(err.data).name");
    eq(decoded.args.releaseTime, releaseTime, "TooEarly.releaseTime");
    // a call: ethers decodes it itself
    const callErr = await rejects(vault.release.staticCall(), "early release.staticCall()");
    eq(callErr.revert?.name, "TooEarly", "err.revert.name (staticCall)");
  });

  let snapshot;
  let before;
  await check("evm_snapshot", async () => {
    snapshot = await rpc("evm_snapshot");
    assert(/^0x[0-9a-f]+$/.test(snapshot), `snapshot id ${snapshot}`);
    const head = await provider.getBlock("latest");
    before = {
      number: head.number,
      timestamp: head.timestamp,
      vault: await provider.getBalance(vaultAddress),
      beneficiary: await provider.getBalance(BENEFICIARY),
      nonce: await provider.getTransactionCount(ADDR0),
    };
    eq(before.vault, parseEther("1.5"), "vault balance at the snapshot");
  });

  await check("time travel: evm_increaseTime(1 day) + evm_mine, new head pushed by eth_subscribe(newHeads)", async () => {
    await ws.on("block", (n) => heads.push(n));
    await ws.subscribed("newHeads");
    await rpc("evm_increaseTime", [ONE_DAY]);
    await rpc("evm_mine");
    const n = await heads.next((h) => h === before.number + 1, "newHeads for the mined block");
    const block = await provider.getBlock(n);
    assert(block.timestamp >= before.timestamp + ONE_DAY,
      `mined block time ${block.timestamp} < ${before.timestamp} + ${ONE_DAY}`);
    assert(BigInt(block.timestamp) >= releaseTime, `block time ${block.timestamp} before releaseTime ${releaseTime}`);
  });

  let releaseTx;
  await check("release() after the time travel: Released pushed over WebSocket, ether moved", async () => {
    releaseTx = await vault.release();
    const receipt = await releaseTx.wait();
    eq(receipt.status, 1, "release receipt status");
    const got = await releases.next((r) => r.log.transactionHash === releaseTx.hash, "Released over WebSocket");
    eq(got.to, BENEFICIARY, "Released.to");
    eq(got.amount, parseEther("1.5"), "Released.amount");
    eq(got.at, BigInt((await provider.getBlock(receipt.blockNumber)).timestamp), "Released.releasedAt");
    eq(await provider.getBalance(vaultAddress), 0n, "vault balance after release");
    eq(await provider.getBalance(BENEFICIARY), before.beneficiary + parseEther("1.5"), "beneficiary balance");
  });

  let pushedBeforeRevert;
  await check("evm_revert to the snapshot: blocks, balances, nonce and clock back", async () => {
    pushedBeforeRevert = ws.pushed.length;
    eq(await rpc("evm_revert", [snapshot]), true, "evm_revert result");
    const head = await provider.getBlock("latest");
    eq(head.number, before.number, "head block number");
    eq(head.timestamp, before.timestamp, "head block time");
    eq(await provider.getBalance(vaultAddress), before.vault, "vault balance");
    eq(await provider.getBalance(BENEFICIARY), before.beneficiary, "beneficiary balance");
    eq(await provider.getTransactionCount(ADDR0), before.nonce, "nonce");
    eq(await provider.getTransaction(releaseTx.hash), null, "the release transaction is gone");
  });

  // Chameleon tells log subscribers of a revert as of a reorg: the reverted logs again, with
  // removed: true (Anvil sends nothing). ethers routes removed logs to its "orphan" events,
  // not to the contract listener.
  if ((await rpc("web3_clientVersion")).startsWith("chameleon/")) {
    await check("the reverted Released log is pushed again with removed: true", async () => {
      const deadline = Date.now() + EVENT_TIMEOUT_MS;
      let removed;
      while (!removed && Date.now() < deadline) {
        removed = ws.pushed.slice(pushedBeforeRevert).find(
          (p) => p.result?.transactionHash === releaseTx.hash && p.result.removed === true);
        if (!removed) await new Promise((r) => setTimeout(r, 50));
      }
      assert(removed, "no removed: true log for the reverted release over the WebSocket");
      eq(releases.size, 0, "contract listener called again for the removed log");
    });
  }

  await check("after the revert the vault is locked again (the time travel is undone too)", async () => {
    const err = await rejects(vault.release(), "release() after revert");
    eq(vault.interface.parseError(err.data)?.name, "TooEarly", "parseError(err.data).name");
    eq(await rpc("evm_revert", [snapshot]), false, "evm_revert of a used snapshot");
  });

  await check("evm_setNextBlockTimestamp(releaseTime): release lands at exactly that second", async () => {
    await rpc("evm_setNextBlockTimestamp", [Number(releaseTime)]);
    const tx = await vault.release();
    const receipt = await tx.wait();
    const got = await releases.next((r) => r.log.transactionHash === tx.hash, "Released over WebSocket");
    eq(got.at, releaseTime, "Released.releasedAt");
    eq((await provider.getBlock(receipt.blockNumber)).timestamp, Number(releaseTime), "block time");
  });

  await ws.removeAllListeners();
  await vaultWs.removeAllListeners();
  await ws.destroy();
  provider.destroy();
  c.finish({ vault: vaultAddress });
}

main().catch((err) => c.fail(err));
