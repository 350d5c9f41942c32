// The Vault's life, as a Hardhat project tests it: a fixture restored from a snapshot for each
// test (loadFixture: evm_snapshot/evm_revert), time travel (time.increase, time.increaseTo:
// evm_increaseTime, evm_setNextBlockTimestamp, evm_mine), blocks mined in bulk (mine:
// hardhat_mine), and the ethers chai matchers (custom errors, events, balance changes).
import { expect } from "chai";
import { network } from "hardhat";

const { ethers, networkHelpers } = await network.getOrCreate();
const { loadFixture, mine, takeSnapshot, time } = networkHelpers;

const ONE_DAY = 24 * 60 * 60;
const ONE_ETH = ethers.parseEther("1");

async function deployVaultFixture() {
  const [owner, beneficiary, stranger] = await ethers.getSigners();
  const vault = await ethers.deployContract("Vault", [beneficiary.address, ONE_DAY], { value: ONE_ETH });
  await vault.waitForDeployment();
  const releaseTime = await vault.releaseTime();
  return { vault, releaseTime, owner, beneficiary, stranger };
}

describe("Vault on Chameleon", function () {
  let firstVaultAddress;

  it("is a development network with the dev accounts", async function () {
    const { chainId } = await ethers.provider.getNetwork();
    expect(chainId).to.equal(31337n);
    const [owner] = await ethers.getSigners();
    expect(owner.address).to.equal("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    expect(await ethers.provider.getBalance(owner)).to.be.greaterThan(ethers.parseEther("1000"));
  });

  it("locks the deposit until the release time", async function () {
    const { vault, releaseTime } = await loadFixture(deployVaultFixture);
    firstVaultAddress = await vault.getAddress();
    expect(await ethers.provider.getBalance(vault)).to.equal(ONE_ETH);
    expect(releaseTime).to.equal(BigInt(await time.latest()) + BigInt(ONE_DAY));
    await expect(vault.release()).to.be.revertedWithCustomError(vault, "TooEarly");
  });

  it("releases to the beneficiary after time.increase", async function () {
    const { vault, beneficiary } = await loadFixture(deployVaultFixture);
    await time.increase(ONE_DAY);
    await expect(vault.release()).to.changeEtherBalances(ethers, [vault, beneficiary], [-ONE_ETH, ONE_ETH]);
  });

  it("loadFixture restores the funded, locked vault (evm_revert undid the release and the time)", async function () {
    const { vault, releaseTime } = await loadFixture(deployVaultFixture);
    expect(await vault.getAddress()).to.equal(firstVaultAddress);
    expect(await ethers.provider.getBalance(vault)).to.equal(ONE_ETH);
    expect(BigInt(await time.latest())).to.be.lessThan(releaseTime);
    await expect(vault.release()).to.be.revertedWithCustomError(vault, "TooEarly");
  });

  it("time.increaseTo the release time: Released carries that block's timestamp", async function () {
    const { vault, releaseTime, beneficiary } = await loadFixture(deployVaultFixture);
    await time.increaseTo(releaseTime - 10n);
    expect(BigInt(await time.latest())).to.equal(releaseTime - 10n);
    await expect(vault.release()).to.be.revertedWithCustomError(vault, "TooEarly");
    await time.setNextBlockTimestamp(releaseTime);
    await expect(vault.release()).to.emit(vault, "Released").withArgs(beneficiary.address, ONE_ETH, releaseTime);
    await expect(vault.release()).to.be.revertedWithCustomError(vault, "NothingToRelease");
  });

  it("mine(n, {interval}) seals n blocks interval seconds apart", async function () {
    await loadFixture(deployVaultFixture);
    const before = await ethers.provider.getBlock("latest");
    await mine(100, { interval: 15 });
    const last = await ethers.provider.getBlock("latest");
    const secondLast = await ethers.provider.getBlock(last.number - 1);
    expect(last.number).to.equal(before.number + 100);
    expect(last.timestamp - secondLast.timestamp).to.equal(15);
    // the first block comes at least one interval after `before` (later if the clock ticked)
    expect(last.timestamp).to.be.within(before.timestamp + 1500, before.timestamp + 1500 + 30);
  });

  it("takeSnapshot().restore() undoes a deposit from another account", async function () {
    const { vault, stranger } = await loadFixture(deployVaultFixture);
    const snapshot = await takeSnapshot();
    await expect(vault.connect(stranger).deposit({ value: ONE_ETH }))
      .to.emit(vault, "Deposited").withArgs(stranger.address, ONE_ETH);
    expect(await ethers.provider.getBalance(vault)).to.equal(2n * ONE_ETH);
    await snapshot.restore();
    expect(await ethers.provider.getBalance(vault)).to.equal(ONE_ETH);
  });
});
