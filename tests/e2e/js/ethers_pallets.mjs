// The native pallets through ethers v6, as a dApp uses any contract: ABIs from the node
// (`chameleon_pallets`), value, receipts and events, time travel, custom errors by name.
//
//   node tests/e2e/js/ethers_pallets.mjs URL
//
// Prints ONE JSON line (see checks.mjs). Every balance check is a difference, gas included.
import { Contract, JsonRpcProvider, Wallet, getAddress, parseEther } from "ethers";

import { Checks } from "./checks.mjs";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node ethers_pallets.mjs URL");
  process.exit(2);
}

// The well-known dev keys (test mnemonic) `chameleon dev` funds, as Anvil does.
const KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];
const ADDRESSES = {
  vesting: "0x0000000000000000000000000000000000000801",
  escrow: "0x0000000000000000000000000000000000000802",
  stores: "0x0000000000000000000000000000000000000803",
  governance: "0x0000000000000000000000000000000000000804",
};

const c = new Checks("ethers-pallets");

/** What a mined transaction cost its sender. */
async function sent(txPromise) {
  const tx = await txPromise;
  const receipt = await tx.wait();
  c.eq(receipt.status, 1, `status of ${tx.hash}`);
  return { receipt, fee: receipt.gasUsed * receipt.gasPrice };
}

/** The custom error's name: ethers decodes it on calls (err.revert); a sent transaction's
 * estimate carries the raw data, which the contract's interface parses, as dApps do. */
function errorOf(contract, err) {
  if (err?.revert) return err.revert;
  return err?.data ? contract.interface.parseError(err.data) : null;
}

async function main() {
  const provider = new JsonRpcProvider(url, undefined, { pollingInterval: 200, cacheTimeout: -1 });
  const [alice, bob, carol] = KEYS.map((k) => new Wallet(k, provider));
  const pallets = {};

  await c.check("chameleon_pallets lists vesting, escrow, stores, governance with their ABIs", async () => {
    const listed = await provider.send("chameleon_pallets", []);
    c.eq(listed.map((p) => p.name).join(","), "vesting,escrow,stores,governance", "pallet names");
    for (const p of listed) {
      c.eq(getAddress(p.address), getAddress(ADDRESSES[p.name]), `${p.name} address`);
      pallets[p.name] = new Contract(p.address, p.abi, provider);
    }
  });

  const vesting = pallets.vesting;
  let scheduleId;
  await c.check("vesting: estimateGas and createSchedule{value}; ScheduleCreated parsed from the receipt", async () => {
    const now = BigInt((await provider.getBlock("latest")).timestamp);
    const args = [bob.address, now, 0n, 100n, true];
    const estimate = await vesting.connect(alice).createSchedule.estimateGas(...args, { value: parseEther("1") });
    c.assert(estimate > 21000n && estimate < 1_000_000n, `estimate ${estimate}`);
    const { receipt } = await sent(vesting.connect(alice).createSchedule(...args, { value: parseEther("1") }));
    const log = receipt.logs.map((l) => vesting.interface.parseLog(l)).find((l) => l?.name === "ScheduleCreated");
    c.assert(log, "no ScheduleCreated log");
    c.eq(log.args.beneficiary, bob.address, "beneficiary");
    c.eq(log.args.amount, parseEther("1"), "amount");
    scheduleId = log.args.id;
  });

  await c.check("vesting: revoke by a stranger rejects with custom error NotCreator(id)", async () => {
    const err = await c.rejects(vesting.connect(carol).revoke(scheduleId), "stranger revoke");
    c.eq(errorOf(vesting, err)?.name, "NotCreator", `error name (${err.shortMessage})`);
    c.eq(errorOf(vesting, err).args[0], scheduleId, "error arg");
    const call = await c.rejects(vesting.connect(carol).revoke.staticCall(scheduleId), "stranger revoke (staticCall)");
    c.eq(call.revert?.name, "NotCreator", `staticCall error name (${call.shortMessage})`);
  });

  await c.check("vesting: evm_increaseTime + evm_mine, then release pays the beneficiary in full", async () => {
    await provider.send("evm_increaseTime", [200]);
    await provider.send("evm_mine", []);
    c.eq(await vesting.releasable(scheduleId), parseEther("1"), "releasable");
    const before = await provider.getBalance(bob.address);
    const { fee } = await sent(vesting.connect(bob).release(scheduleId));
    c.eq(await provider.getBalance(bob.address), before + parseEther("1") - fee, "beneficiary balance");
  });

  const escrow = pallets.escrow;
  await c.check("escrow: open{value} -> markShipped (seller) -> confirm (buyer) pays the seller", async () => {
    const deadline = BigInt((await provider.getBlock("latest")).timestamp) + 3600n;
    const ref = "0x" + "ab".repeat(32);
    const { receipt } = await sent(escrow.connect(alice).open(bob.address, carol.address, deadline, ref,
      { value: parseEther("2") }));
    const opened = receipt.logs.map((l) => escrow.interface.parseLog(l)).find((l) => l?.name === "Opened");
    c.assert(opened, "no Opened log");
    const id = opened.args.id;
    await sent(escrow.connect(bob).markShipped(id));
    const before = await provider.getBalance(bob.address);
    await sent(escrow.connect(alice).confirm(id));
    c.eq(await provider.getBalance(bob.address), before + parseEther("2"), "seller paid");
    const err = await c.rejects(escrow.connect(alice).confirm(id), "second confirm");
    c.assert(errorOf(escrow, err)?.name, `a named escrow error, got ${err.shortMessage}`);
  });

  const stores = pallets.stores;
  await c.check("stores: createStore mints an ERC-721 (Transfer event, ownerOf, balanceOf, tokenURI)", async () => {
    const balance = await stores.balanceOf(carol.address);
    const { receipt } = await sent(stores.connect(carol).createStore("Carol's", "ipfs://catalog"));
    const transfer = receipt.logs.map((l) => stores.interface.parseLog(l)).find((l) => l?.name === "Transfer");
    c.assert(transfer, "no Transfer log");
    c.eq(transfer.args.from, "0x0000000000000000000000000000000000000000", "minted from zero");
    const id = transfer.args.tokenId;
    c.eq(await stores.ownerOf(id), carol.address, "ownerOf");
    c.eq(await stores.balanceOf(carol.address), balance + 1n, "balanceOf");
    c.eq(await stores.tokenURI(id), "ipfs://catalog", "tokenURI");
    c.eq(await stores.supportsInterface("0x80ac58cd"), true, "supportsInterface(ERC-721)");
  });

  const governance = pallets.governance;
  await c.check("governance: treasuryBalance() answers; state() of an unknown proposal is a named error", async () => {
    const treasury = await governance.treasuryBalance();
    c.assert(treasury >= 0n, `treasury ${treasury}`);
    const err = await c.rejects(governance.state(999_999n), "state of an unknown proposal");
    c.assert(errorOf(governance, err)?.name, `a named governance error, got ${err.shortMessage}`);
  });

  provider.destroy();
  c.finish();
}

main().catch((err) => c.fail(err));
