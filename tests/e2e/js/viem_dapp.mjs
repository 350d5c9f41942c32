// A dApp's user story with viem v2 against a JSON-RPC node (Anvil or `chameleon dev`).
//
//   node tests/e2e/js/viem_dapp.mjs URL ARTIFACT_JSON
//
// ARTIFACT_JSON holds {"abi": [...], "bytecode": "0x..."} of tests/contracts/Token.sol
// (constructor(name, symbol, initialSupply), failWith(string), guarded() -> NotAllowed(address)).
// Prints ONE JSON line: {"ok": true, "token": "0x...", "checks": [...]} or, on the first failed
// check, {"ok": false, "check": "...", "error": "...", "checks": [...passed so far]} and exits 1.
// Runs against a fresh or a used chain alike: every balance check is a difference.
import { readFileSync } from "node:fs";
import {
  BaseError,
  ContractFunctionRevertedError,
  InsufficientFundsError,
  NonceTooLowError,
  createPublicClient,
  createWalletClient,
  decodeEventLog,
  defineChain,
  getAddress,
  http,
  parseAbiItem,
  parseEther,
  parseEventLogs,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const [url, artifactPath] = process.argv.slice(2);
if (!url || !artifactPath) {
  console.error("usage: node viem_dapp.mjs URL ARTIFACT_JSON");
  process.exit(2);
}

const CHAIN_ID = 31337;
const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const ADDR1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const ADDR2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const ZERO = "0x0000000000000000000000000000000000000000";
const SUPPLY = 10n ** 24n;
const OVERALL_TIMEOUT_MS = 100_000;
const TRANSFER_EVENT = parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)");

const checks = [];
let current = "(setup)";

class CheckFailed extends Error {}

function assert(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

function fmt(v) {
  return typeof v === "bigint" ? `${v}n` : JSON.stringify(v);
}

function eq(actual, expected, what) {
  assert(actual === expected, `${what}: expected ${fmt(expected)}, got ${fmt(actual)}`);
}

function describeError(err) {
  if (err == null) return String(err);
  if (err instanceof BaseError) {
    // viem's message carries the request (URL, body) and the node's details
    const chain = [];
    for (let e = err; e; e = e.cause) chain.push(e.name);
    return `${err.message} | causes: ${chain.join(" <- ")}`;
  }
  return err.stack || err.message || String(err);
}

function finish(result, code) {
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code));
}

function fail(err) {
  finish({ ok: false, check: current, error: describeError(err), checks }, 1);
}

async function check(name, fn) {
  current = name;
  await fn();
  checks.push(name);
}

/** `promise` must reject; returns the error. */
async function rejects(promise, what) {
  try {
    const value = await promise;
    throw new CheckFailed(`${what}: expected a rejection, got ${fmt(typeof value === "bigint" ? value : String(value))}`);
  } catch (err) {
    if (err instanceof CheckFailed) throw err;
    return err;
  }
}

/** The first error of class `cls` in err's cause chain (viem's BaseError.walk). */
function find(err, cls, what) {
  const found = err instanceof BaseError ? err.walk((e) => e instanceof cls) : null;
  assert(found instanceof cls, `${what}: expected a ${cls.name} in the cause chain, got ${describeError(err)}`);
  return found;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]);
}

async function main() {
  const artifact = JSON.parse(readFileSync(artifactPath, "utf8"));
  const abi = artifact.abi;
  const chain = defineChain({
    id: CHAIN_ID,
    name: "Chameleon dev",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  });
  const transport = http(url, { timeout: 30_000 });
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 100 });
  const account = privateKeyToAccount(KEY0);
  const walletClient = createWalletClient({ account, chain, transport, pollingInterval: 100 });
  const receiptOf = (hash) =>
    withTimeout(publicClient.waitForTransactionReceipt({ hash, timeout: 30_000 }), 35_000, `receipt of ${hash}`);
  let token;
  let deployBlock;
  let transferHash;
  let transferBlock;

  await check("getChainId and the wallet's chain check", async () => {
    eq(await publicClient.getChainId(), CHAIN_ID, "getChainId");
    eq(await walletClient.getChainId(), CHAIN_ID, "walletClient.getChainId");
    eq(account.address, ADDR0, "privateKeyToAccount address");
  });

  await check("getBlockNumber and getBlock()", async () => {
    const n = await publicClient.getBlockNumber({ cacheTime: 0 });
    assert(typeof n === "bigint" && n >= 0n, `block number ${n}`);
    const block = await publicClient.getBlock();
    assert(block.number >= n, `latest block ${block.number} < ${n}`);
    assert(typeof block.baseFeePerGas === "bigint" && block.baseFeePerGas > 0n, `baseFeePerGas ${block.baseFeePerGas}`);
    const genesis = await publicClient.getBlock({ blockNumber: 0n });
    eq(genesis.number, 0n, "genesis number");
    const byHash = await publicClient.getBlock({ blockHash: genesis.hash });
    eq(byHash.hash, genesis.hash, "getBlock by hash");
  });

  await check("getBalance of the dev accounts", async () => {
    for (const a of [ADDR0, ADDR1, ADDR2]) {
      const b = await publicClient.getBalance({ address: a });
      assert(b > parseEther("1000"), `balance of ${a} is ${b}`);
    }
    const empty = privateKeyToAccount(generatePrivateKey()).address;
    eq(await publicClient.getBalance({ address: empty }), 0n, "balance of a fresh address");
  });

  await check("getGasPrice and estimateFeesPerGas", async () => {
    const gasPrice = await publicClient.getGasPrice();
    assert(gasPrice > 0n, `gasPrice ${gasPrice}`);
    const fees = await publicClient.estimateFeesPerGas();
    assert(fees.maxFeePerGas > 0n, `maxFeePerGas ${fees.maxFeePerGas}`);
    assert(fees.maxPriorityFeePerGas >= 0n, `maxPriorityFeePerGas ${fees.maxPriorityFeePerGas}`);
    assert(fees.maxFeePerGas >= fees.maxPriorityFeePerGas, "maxFeePerGas < maxPriorityFeePerGas");
    const tip = await publicClient.estimateMaxPriorityFeePerGas();
    assert(tip >= 0n, `estimateMaxPriorityFeePerGas ${tip}`);
  });

  await check("deployContract + waitForTransactionReceipt", async () => {
    const hash = await walletClient.deployContract({ abi, bytecode: artifact.bytecode, args: ["Viem Token", "VIEM", SUPPLY] });
    const receipt = await receiptOf(hash);
    eq(receipt.status, "success", "deployment receipt status");
    assert(receipt.contractAddress, "receipt.contractAddress is empty");
    token = getAddress(receipt.contractAddress);
    deployBlock = receipt.blockNumber;
    const code = await publicClient.getCode({ address: token });
    assert(code && code.length > 2, "no code at the token address");
    const read = (functionName, args = []) => publicClient.readContract({ address: token, abi, functionName, args });
    eq(await read("name"), "Viem Token", "name()");
    eq(await read("symbol"), "VIEM", "symbol()");
    eq(await read("decimals"), 18, "decimals()");
    eq(await read("totalSupply"), SUPPLY, "totalSupply()");
    eq(await read("balanceOf", [ADDR0]), SUPPLY, "balanceOf(deployer)");
  });

  await check("writeContract transfer, receipt logs decoded, readContract balances", async () => {
    const { request } = await publicClient.simulateContract({
      account, address: token, abi, functionName: "transfer", args: [ADDR1, 1000n],
    });
    transferHash = await walletClient.writeContract(request);
    const receipt = await receiptOf(transferHash);
    eq(receipt.status, "success", "receipt.status");
    eq(receipt.transactionHash, transferHash, "receipt.transactionHash");
    eq(getAddress(receipt.from), ADDR0, "receipt.from");
    eq(getAddress(receipt.to), token, "receipt.to");
    eq(receipt.type, "eip1559", "receipt.type");
    transferBlock = receipt.blockNumber;
    eq(receipt.logs.length, 1, "number of logs");
    const decoded = decodeEventLog({ abi, data: receipt.logs[0].data, topics: receipt.logs[0].topics });
    eq(decoded.eventName, "Transfer", "decoded eventName");
    eq(decoded.args.from, ADDR0, "Transfer.from");
    eq(decoded.args.to, ADDR1, "Transfer.to");
    eq(decoded.args.value, 1000n, "Transfer.value");
    const parsed = parseEventLogs({ abi, logs: receipt.logs, eventName: "Transfer" });
    eq(parsed.length, 1, "parseEventLogs");
    const balanceOf = (a) => publicClient.readContract({ address: token, abi, functionName: "balanceOf", args: [a] });
    eq(await balanceOf(ADDR1), 1000n, "balanceOf(recipient)");
    eq(await balanceOf(ADDR0), SUPPLY - 1000n, "balanceOf(sender)");
    const tx = await publicClient.getTransaction({ hash: transferHash });
    eq(tx.blockNumber, transferBlock, "getTransaction().blockNumber");
    eq(getAddress(tx.from), ADDR0, "getTransaction().from");
  });

  await check("getContractEvents and getLogs with parseAbiItem (all, by `to`)", async () => {
    const all = await publicClient.getContractEvents({ address: token, abi, eventName: "Transfer", fromBlock: 0n });
    eq(all.length, 2, "Transfer events (mint + transfer)");
    eq(all[0].args.from, ZERO, "mint from");
    eq(all[0].args.value, SUPPLY, "mint value");
    eq(all[1].args.to, ADDR1, "transfer to");
    eq(all[1].transactionHash, transferHash, "transfer transactionHash");
    const toOne = await publicClient.getLogs({ address: token, event: TRANSFER_EVENT, args: { to: ADDR1 }, fromBlock: deployBlock, toBlock: "latest" });
    eq(toOne.length, 1, "getLogs by to");
    eq(toOne[0].args.value, 1000n, "getLogs value");
    const toTwo = await publicClient.getLogs({ address: token, event: TRANSFER_EVENT, args: { to: ADDR2 }, fromBlock: deployBlock });
    eq(toTwo.length, 0, "getLogs to an untouched address");
    const inBlock = await publicClient.getLogs({ address: token, event: TRANSFER_EVENT, blockHash: (await publicClient.getBlock({ blockNumber: transferBlock })).hash });
    eq(inBlock.length, 1, "getLogs by blockHash");
  });

  await check("simulateContract failWith('boom') -> ContractFunctionRevertedError reason 'boom'", async () => {
    const err = await rejects(
      publicClient.simulateContract({ account, address: token, abi, functionName: "failWith", args: ["boom"] }),
      "simulateContract failWith");
    const revert = find(err, ContractFunctionRevertedError, "failWith");
    eq(revert.reason, "boom", "reason");
    eq(revert.data?.errorName, "Error", "data.errorName");
    const err2 = await rejects(
      publicClient.readContract({ address: token, abi, functionName: "failWith", args: ["boom"] }), "readContract failWith");
    eq(find(err2, ContractFunctionRevertedError, "readContract failWith").reason, "boom", "reason (readContract)");
  });

  await check("guarded() -> ContractFunctionRevertedError data.errorName 'NotAllowed'", async () => {
    const err = await rejects(
      publicClient.simulateContract({ account, address: token, abi, functionName: "guarded" }), "simulateContract guarded");
    const revert = find(err, ContractFunctionRevertedError, "guarded");
    eq(revert.data?.errorName, "NotAllowed", "data.errorName");
    eq(revert.data?.args?.[0], ADDR0, "NotAllowed.who");
  });

  await check("estimateGas and estimateContractGas (including a reverting one)", async () => {
    eq(await publicClient.estimateGas({ account, to: ADDR1, value: 1n }), 21000n, "ETH transfer estimate");
    const gas = await publicClient.estimateContractGas({ account, address: token, abi, functionName: "transfer", args: [ADDR2, 1n] });
    assert(gas > 21000n && gas < 100000n, `token transfer estimate ${gas}`);
    const err = await rejects(
      publicClient.estimateContractGas({ account, address: token, abi, functionName: "failWith", args: ["boom"] }),
      "estimateContractGas failWith");
    eq(find(err, ContractFunctionRevertedError, "estimateContractGas failWith").reason, "boom", "reason (estimate)");
  });

  await check("sendTransaction ETH transfer, getBlock({includeTransactions: true})", async () => {
    const value = parseEther("1.5");
    const before1 = await publicClient.getBalance({ address: ADDR1 });
    const before0 = await publicClient.getBalance({ address: ADDR0 });
    const hash = await walletClient.sendTransaction({ to: ADDR1, value });
    const receipt = await receiptOf(hash);
    eq(receipt.status, "success", "receipt.status");
    eq(receipt.gasUsed, 21000n, "gasUsed");
    const fee = receipt.gasUsed * receipt.effectiveGasPrice;
    eq(await publicClient.getBalance({ address: ADDR1 }), before1 + value, "recipient balance");
    eq(await publicClient.getBalance({ address: ADDR0 }), before0 - value - fee, "sender balance (value + fee)");
    const block = await publicClient.getBlock({ blockNumber: receipt.blockNumber, includeTransactions: true });
    eq(block.hash, receipt.blockHash, "block hash");
    const tx = block.transactions.find((t) => t.hash === hash);
    assert(tx && typeof tx === "object", `transaction ${hash} not in block ${block.number} as an object`);
    eq(tx.value, value, "block tx value");
    eq(getAddress(tx.to), ADDR1, "block tx to");
    eq(tx.type, "eip1559", "block tx type");
    eq(await publicClient.getBlockTransactionCount({ blockNumber: receipt.blockNumber }), block.transactions.length,
      "getBlockTransactionCount");
    const legacyHash = await walletClient.sendTransaction({ to: ADDR1, value: 1n, type: "legacy" });
    const legacy = await receiptOf(legacyHash);
    eq(legacy.status, "success", "legacy receipt.status");
    eq(legacy.type, "legacy", "legacy receipt.type");
  });

  await check("getFeeHistory", async () => {
    const latest = await publicClient.getBlockNumber({ cacheTime: 0 });
    const blockCount = 4;
    const history = await publicClient.getFeeHistory({ blockCount, rewardPercentiles: [25, 75] });
    eq(history.oldestBlock, latest - BigInt(blockCount) + 1n, "oldestBlock");
    eq(history.baseFeePerGas.length, blockCount + 1, "baseFeePerGas length");
    eq(history.gasUsedRatio.length, blockCount, "gasUsedRatio length");
    eq(history.reward?.length, blockCount, "reward length");
    for (const r of history.reward) eq(r.length, 2, "rewards per block");
    assert(history.baseFeePerGas.every((b) => typeof b === "bigint" && b > 0n), "baseFeePerGas values");
    assert(history.gasUsedRatio.every((g) => g >= 0 && g <= 1), "gasUsedRatio values");
  });

  await check("node-managed account: getAddresses + json-rpc account sendTransaction", async () => {
    // (a wallet client with a local account answers getAddresses itself, without eth_accounts)
    const nodeWallet = createWalletClient({ account: ADDR0, chain, transport, pollingInterval: 100 });
    eq(nodeWallet.account.type, "json-rpc", "account type");
    const addresses = await nodeWallet.getAddresses();
    eq(getAddress(addresses[0]), ADDR0, "eth_accounts[0]");
    const before = await publicClient.getBalance({ address: ADDR2 });
    const hash = await nodeWallet.sendTransaction({ to: ADDR2, value: 12345n });
    const receipt = await receiptOf(hash);
    eq(receipt.status, "success", "receipt.status");
    eq(await publicClient.getBalance({ address: ADDR2 }), before + 12345n, "recipient balance");
    const thash = await nodeWallet.writeContract({ address: token, abi, functionName: "transfer", args: [ADDR2, 7n] });
    eq((await receiptOf(thash)).status, "success", "token transfer status");
    eq(await publicClient.readContract({ address: token, abi, functionName: "balanceOf", args: [ADDR2] }), 7n,
      "balanceOf(ADDR2)");
  });

  await check("watchBlockNumber and watchContractEvent see a new transfer", async () => {
    const start = await publicClient.getBlockNumber({ cacheTime: 0 });
    let unwatchBlocks;
    let unwatchEvents;
    const sawBlock = new Promise((resolve) => {
      unwatchBlocks = publicClient.watchBlockNumber({ onBlockNumber: (n) => { if (n > start) resolve(n); }, pollingInterval: 100 });
    });
    const sawEvent = new Promise((resolve, reject) => {
      unwatchEvents = publicClient.watchContractEvent({
        address: token, abi, eventName: "Transfer", args: { to: ADDR2 }, pollingInterval: 100,
        onLogs: (logs) => resolve(logs), onError: reject,
      });
    });
    await new Promise((r) => setTimeout(r, 500)); // let the watchers install their filter / first poll
    const hash = await walletClient.writeContract({ address: token, abi, functionName: "transfer", args: [ADDR2, 3n] });
    await receiptOf(hash);
    try {
      const n = await withTimeout(sawBlock, 20_000, "watchBlockNumber");
      assert(n > start, `block ${n}`);
      const logs = await withTimeout(sawEvent, 20_000, "watchContractEvent");
      eq(logs[0].transactionHash, hash, "watched log transactionHash");
      eq(logs[0].args.value, 3n, "watched log value");
    } finally {
      unwatchBlocks();
      unwatchEvents();
    }
  });

  await check("nonce too low -> NonceTooLowError", async () => {
    const err = await rejects(walletClient.sendTransaction({ to: ADDR1, value: 1n, nonce: 0, gas: 21000n }), "nonce 0 send");
    find(err, NonceTooLowError, "nonce 0 send");
  });

  await check("insufficient funds -> InsufficientFundsError", async () => {
    const poor = createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport });
    const err = await rejects(poor.sendTransaction({ to: ADDR1, value: 1n, gas: 21000n }), "unfunded send");
    find(err, InsufficientFundsError, "unfunded send (eth_sendRawTransaction)");
    const balance = await publicClient.getBalance({ address: ADDR0 });
    const err2 = await rejects(walletClient.sendTransaction({ to: ADDR1, value: balance + 1n }), "overdrawn send");
    find(err2, InsufficientFundsError, "overdrawn send (eth_estimateGas)");
  });

  await check("node still consistent: pending nonce == mined nonce", async () => {
    const latest = await publicClient.getTransactionCount({ address: ADDR0, blockTag: "latest" });
    const pending = await publicClient.getTransactionCount({ address: ADDR0, blockTag: "pending" });
    eq(pending, latest, "pending vs latest nonce");
  });

  finish({ ok: true, client: "viem", token, checks }, 0);
}

const overall = setTimeout(() => fail(new CheckFailed(`overall timeout ${OVERALL_TIMEOUT_MS} ms`)), OVERALL_TIMEOUT_MS);
overall.unref();
main().catch(fail);
