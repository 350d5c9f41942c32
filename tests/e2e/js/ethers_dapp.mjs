// A dApp's user story with ethers v6 against a JSON-RPC node (Anvil or `chameleon dev`).
//
//   node tests/e2e/js/ethers_dapp.mjs URL ARTIFACT_JSON
//
// ARTIFACT_JSON holds {"abi": [...], "bytecode": "0x..."} of tests/contracts/Token.sol
// (constructor(name, symbol, initialSupply), failWith(string), guarded() -> NotAllowed(address)).
// Prints ONE JSON line: {"ok": true, "token": "0x...", "checks": [...]} or, on the first failed
// check, {"ok": false, "check": "...", "error": "...", "checks": [...passed so far]} and exits 1.
// Runs against a fresh or a used chain alike: every balance check is a difference.
import { readFileSync } from "node:fs";
import {
  ContractFactory,
  Contract,
  JsonRpcProvider,
  Wallet,
  getAddress,
  isError,
  parseEther,
} from "ethers";

import { Checks, describeError, withTimeout } from "./checks.mjs";

const [url, artifactPath] = process.argv.slice(2);
if (!url || !artifactPath) {
  console.error("usage: node ethers_dapp.mjs URL ARTIFACT_JSON");
  process.exit(2);
}

const CHAIN_ID = 31337n;
const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const ADDR1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const ADDR2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const SUPPLY = 10n ** 24n;
const OVERALL_TIMEOUT_MS = 100_000;

const c = new Checks("ethers", OVERALL_TIMEOUT_MS);
const assert = c.assert.bind(c);
const eq = c.eq.bind(c);
const check = c.check.bind(c);
const rejects = c.rejects.bind(c);


async function main() {
  const artifact = JSON.parse(readFileSync(artifactPath, "utf8"));
  // cacheTimeout -1: ethers otherwise answers a repeated identical request (such as
  // eth_getTransactionCount "pending") from a 250 ms cache, which hands out a used nonce when
  // an automining node seals each transaction at once (Hardhat's ethers plugin does the same).
  const provider = new JsonRpcProvider(url, undefined, { pollingInterval: 200, cacheTimeout: -1 });
  const wallet = new Wallet(KEY0, provider);
  let token;
  let tokenAddress;
  let deployBlock;

  await check("network: getNetwork().chainId and eth_chainId", async () => {
    const network = await provider.getNetwork();
    eq(network.chainId, CHAIN_ID, "chainId");
    eq(BigInt(await provider.send("eth_chainId", [])), CHAIN_ID, "eth_chainId");
  });

  await check("getBlockNumber and getBlock(latest)", async () => {
    const n = await provider.getBlockNumber();
    assert(Number.isInteger(n) && n >= 0, `block number ${n}`);
    const block = await provider.getBlock("latest");
    assert(block && block.number >= n, `latest block ${block?.number} < ${n}`);
    assert(/^0x[0-9a-f]{64}$/.test(block.hash), `block hash ${block.hash}`);
    assert(block.baseFeePerGas != null && block.baseFeePerGas > 0n, `baseFeePerGas ${block.baseFeePerGas}`);
  });

  await check("getBalance of the dev accounts", async () => {
    for (const a of [ADDR0, ADDR1, ADDR2]) {
      const b = await provider.getBalance(a);
      assert(b > parseEther("1000"), `balance of ${a} is ${b}`);
    }
    const empty = Wallet.createRandom().address;
    eq(await provider.getBalance(empty), 0n, "balance of a fresh address");
  });

  await check("getFeeData (eth_gasPrice, eth_maxPriorityFeePerGas, base fee)", async () => {
    const fee = await provider.getFeeData();
    assert(fee.gasPrice != null && fee.gasPrice > 0n, `gasPrice ${fee.gasPrice}`);
    assert(fee.maxFeePerGas != null && fee.maxFeePerGas > 0n, `maxFeePerGas ${fee.maxFeePerGas}`);
    assert(fee.maxPriorityFeePerGas != null && fee.maxPriorityFeePerGas >= 0n,
      `maxPriorityFeePerGas ${fee.maxPriorityFeePerGas}`);
    assert(fee.maxFeePerGas >= fee.maxPriorityFeePerGas, "maxFeePerGas < maxPriorityFeePerGas");
  });

  await check("deploy Token with ContractFactory + waitForDeployment", async () => {
    const factory = new ContractFactory(artifact.abi, artifact.bytecode, wallet);
    const contract = await factory.deploy("Dapp Token", "DAPP", SUPPLY);
    await withTimeout(contract.waitForDeployment(), 30_000, "waitForDeployment");
    tokenAddress = await contract.getAddress();
    eq(tokenAddress, getAddress(tokenAddress), "checksummed address");
    const receipt = await contract.deploymentTransaction().wait();
    eq(receipt.status, 1, "deployment receipt status");
    eq(receipt.contractAddress, tokenAddress, "receipt.contractAddress");
    deployBlock = receipt.blockNumber;
    const code = await provider.getCode(tokenAddress);
    assert(code.length > 2, "no code at the token address");
    token = new Contract(tokenAddress, artifact.abi, wallet);
    eq(await token.name(), "Dapp Token", "name()");
    eq(await token.symbol(), "DAPP", "symbol()");
    eq(await token.decimals(), 18n, "decimals()");
    eq(await token.totalSupply(), SUPPLY, "totalSupply()");
    eq(await token.balanceOf(ADDR0), SUPPLY, "balanceOf(deployer)");
  });

  await check("transfer: tx.wait() receipt status 1, logs parsed with the interface", async () => {
    const before = await token.balanceOf(ADDR1);
    const tx = await token.transfer(ADDR1, 1000n);
    assert(/^0x[0-9a-f]{64}$/.test(tx.hash), `tx hash ${tx.hash}`);
    const receipt = await withTimeout(tx.wait(), 30_000, "transfer wait()");
    eq(receipt.status, 1, "receipt.status");
    eq(receipt.hash, tx.hash, "receipt.hash");
    eq(receipt.to, tokenAddress, "receipt.to");
    eq(receipt.from, ADDR0, "receipt.from");
    assert(receipt.gasUsed > 21000n, `gasUsed ${receipt.gasUsed}`);
    eq(receipt.logs.length, 1, "number of logs");
    const parsed = token.interface.parseLog(receipt.logs[0]);
    eq(parsed?.name, "Transfer", "parsed log name");
    eq(parsed.args.from, ADDR0, "Transfer.from");
    eq(parsed.args.to, ADDR1, "Transfer.to");
    eq(parsed.args.value, 1000n, "Transfer.value");
    eq(receipt.logs[0].address, tokenAddress, "log address");
    const mined = await provider.getTransaction(tx.hash);
    eq(mined.blockNumber, receipt.blockNumber, "getTransaction().blockNumber");
    eq(await token.balanceOf(ADDR1), before + 1000n, "balanceOf(recipient)");
    eq(await token.balanceOf(ADDR0), SUPPLY - 1000n, "balanceOf(sender)");
  });

  await check("queryFilter(filters.Transfer()) and by `to`", async () => {
    const all = await token.queryFilter(token.filters.Transfer(), deployBlock);
    eq(all.length, 2, "Transfer events since the deployment (mint + transfer)");
    eq(all[0].args.from, "0x0000000000000000000000000000000000000000", "mint from");
    eq(all[0].args.to, ADDR0, "mint to");
    eq(all[0].args.value, SUPPLY, "mint value");
    eq(all[1].args.to, ADDR1, "transfer to");
    eq(all[1].eventName, "Transfer", "eventName");
    const fromZero = await token.queryFilter(token.filters.Transfer(), 0, "latest");
    eq(fromZero.length, 2, "Transfer events from block 0");
    const toOne = await token.queryFilter(token.filters.Transfer(null, ADDR1));
    eq(toOne.length, 1, "Transfer events to the recipient");
    eq(toOne[0].args.value, 1000n, "value");
    const toTwo = await token.queryFilter(token.filters.Transfer(null, ADDR2));
    eq(toTwo.length, 0, "Transfer events to an untouched address");
    const logs = await provider.getLogs({ address: tokenAddress, fromBlock: deployBlock, toBlock: "latest" });
    eq(logs.length, 2, "provider.getLogs");
  });

  await check("failWith('boom') call rejects with CALL_EXCEPTION reason 'boom'", async () => {
    const err = await rejects(token.failWith.staticCall("boom"), "failWith staticCall");
    assert(isError(err, "CALL_EXCEPTION"), `expected CALL_EXCEPTION, got ${describeError(err)}`);
    eq(err.reason, "boom", "err.reason");
    eq(err.revert?.name, "Error", "err.revert.name");
    eq(err.revert?.args?.[0], "boom", "err.revert.args[0]");
    assert(typeof err.data === "string" && err.data.startsWith("0x08c379a0"), `err.data ${err.data}`);
    // the plain call of a pure function goes the same way
    const err2 = await rejects(token.failWith("boom"), "failWith()");
    eq(err2.reason, "boom", "err.reason (plain call)");
  });

  await check("failWith('boom') estimateGas rejects with reason 'boom'", async () => {
    const err = await rejects(token.failWith.estimateGas("boom"), "failWith estimateGas");
    assert(isError(err, "CALL_EXCEPTION"), `expected CALL_EXCEPTION, got ${describeError(err)}`);
    eq(err.reason, "boom", "err.reason");
  });

  await check("guarded() rejects with custom error NotAllowed(sender)", async () => {
    const err = await rejects(token.guarded(), "guarded()");
    assert(isError(err, "CALL_EXCEPTION"), `expected CALL_EXCEPTION, got ${describeError(err)}`);
    eq(err.revert?.name, "NotAllowed", "err.revert.name");
    eq(err.revert?.args?.[0], ADDR0, "NotAllowed.who");
    const decoded = token.interface.parseError(err.data);
    eq(decoded?.name, "NotAllowed", "interface.parseError(err.data).name");
  });

  await check("plain ETH transfer via wallet.sendTransaction + wait()", async () => {
    const value = parseEther("1.5");
    const before1 = await provider.getBalance(ADDR1);
    const before0 = await provider.getBalance(ADDR0);
    const tx = await wallet.sendTransaction({ to: ADDR1, value });
    eq(tx.type, 2, "default transaction type");
    const receipt = await withTimeout(tx.wait(), 30_000, "ETH transfer wait()");
    eq(receipt.status, 1, "receipt.status");
    eq(receipt.gasUsed, 21000n, "gasUsed");
    assert(receipt.gasPrice > 0n, `effectiveGasPrice ${receipt.gasPrice}`);
    eq(await provider.getBalance(ADDR1), before1 + value, "recipient balance");
    eq(await provider.getBalance(ADDR0), before0 - value - receipt.fee, "sender balance (value + fee)");
    const legacy = await wallet.sendTransaction({ to: ADDR1, value: 1n, type: 0 });
    const legacyReceipt = await withTimeout(legacy.wait(), 30_000, "legacy transfer wait()");
    eq(legacyReceipt.status, 1, "legacy receipt.status");
    eq(legacyReceipt.type, 0, "legacy receipt.type");
  });

  await check("estimateGas of transfers", async () => {
    const gas = await provider.estimateGas({ from: ADDR0, to: ADDR1, value: 1n });
    eq(gas, 21000n, "ETH transfer estimate");
    const walletGas = await wallet.estimateGas({ to: ADDR1, value: 1n });
    eq(walletGas, 21000n, "wallet.estimateGas");
    const tokenGas = await token.transfer.estimateGas(ADDR2, 1n);
    assert(tokenGas > 21000n && tokenGas < 100000n, `token transfer estimate ${tokenGas}`);
  });

  await check("node-managed account: getSigner(0) (eth_accounts + eth_sendTransaction)", async () => {
    const accounts = await provider.listAccounts();
    assert(accounts.length >= 1, "eth_accounts is empty");
    const signer = await provider.getSigner(0);
    eq(signer.address, ADDR0, "getSigner(0).address");
    const before = await provider.getBalance(ADDR2);
    const tx = await signer.sendTransaction({ to: ADDR2, value: 12345n });
    const receipt = await withTimeout(tx.wait(), 30_000, "signer tx wait()");
    eq(receipt.status, 1, "receipt.status");
    eq(receipt.from, ADDR0, "receipt.from");
    eq(await provider.getBalance(ADDR2), before + 12345n, "recipient balance");
    const managed = token.connect(signer);
    const ttx = await managed.transfer(ADDR2, 7n);
    const treceipt = await withTimeout(ttx.wait(), 30_000, "signer token transfer wait()");
    eq(treceipt.status, 1, "token transfer receipt.status");
    eq(await token.balanceOf(ADDR2), 7n, "balanceOf(ADDR2)");
  });

  await check("contract.on('Transfer') delivers a new event (eth_newFilter polling)", async () => {
    const seen = new Promise((resolve) => {
      // the listener's last argument is the ContractEventPayload (with a prepared topic filter
      // ethers passes it alone)
      token.on(token.filters.Transfer(null, ADDR2), (...args) => {
        const payload = args[args.length - 1];
        resolve({ from: payload.args[0], to: payload.args[1], value: payload.args[2], event: payload });
      });
    });
    // give the subscription time to install its filter before the transfer
    await new Promise((r) => setTimeout(r, 500));
    const tx = await token.transfer(ADDR2, 3n);
    await tx.wait();
    const got = await withTimeout(seen, 20_000, "Transfer listener");
    eq(got.to, ADDR2, "event to");
    eq(got.value, 3n, "event value");
    eq(got.event.log.transactionHash, tx.hash, "event transactionHash");
    await token.removeAllListeners();
  });

  await check("nonce too low rejects with NONCE_EXPIRED", async () => {
    const err = await rejects(wallet.sendTransaction({ to: ADDR1, value: 1n, nonce: 0 }), "nonce 0 send");
    assert(isError(err, "NONCE_EXPIRED"), `expected NONCE_EXPIRED, got ${describeError(err)}`);
  });

  await check("insufficient funds rejects with INSUFFICIENT_FUNDS", async () => {
    const poor = Wallet.createRandom(provider);
    // explicit gas limit: eth_sendRawTransaction refuses it
    const err = await rejects(poor.sendTransaction({ to: ADDR1, value: 1n, gasLimit: 21000n }), "unfunded send");
    assert(isError(err, "INSUFFICIENT_FUNDS"), `expected INSUFFICIENT_FUNDS, got ${describeError(err)}`);
    // no gas limit: ethers estimates first and eth_estimateGas refuses it
    const balance = await provider.getBalance(ADDR0);
    const err2 = await rejects(wallet.sendTransaction({ to: ADDR1, value: balance + 1n }), "overdrawn send");
    assert(isError(err2, "INSUFFICIENT_FUNDS"), `expected INSUFFICIENT_FUNDS (estimate), got ${describeError(err2)}`);
  });

  await check("node still consistent: pending nonce == mined nonce", async () => {
    const latest = await provider.getTransactionCount(ADDR0, "latest");
    const pending = await provider.getTransactionCount(ADDR0, "pending");
    eq(pending, latest, "pending vs latest nonce");
    assert(latest >= 6, `nonce ${latest}`);
  });

  provider.destroy();
  c.finish({ token: tokenAddress });
}

main().catch((err) => c.fail(err));
