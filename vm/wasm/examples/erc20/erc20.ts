// An ERC-20 with OpenZeppelin 5's ABI, events, custom errors and storage layout
// (slot 0 balances, 1 allowances, 2 totalSupply), so wallets, indexers and tests cannot tell
// it from the Solidity token. constructor(uint256 initialSupply) mints to the deployer.
import {
  AddressMap, AddressMap2, Address, Event, OK, PANIC_OVERFLOW, Reader, StorageU256, U256, customError,
  loadWord, msgSender, msgValue, returnBool, returnString, returnU256, returnU64, revertEmpty, revertPanic,
  storeWord,
} from "chameleon-sdk";

const NAME = "Wasm Token";
const SYMBOL = "WTK";
const DECIMALS: u64 = 18;

const NAME_SEL: u32 = 0x06fdde03; // name()
const SYMBOL_SEL: u32 = 0x95d89b41; // symbol()
const DECIMALS_SEL: u32 = 0x313ce567; // decimals()
const TOTAL_SUPPLY_SEL: u32 = 0x18160ddd; // totalSupply()
const BALANCE_OF_SEL: u32 = 0x70a08231; // balanceOf(address)
const TRANSFER_SEL: u32 = 0xa9059cbb; // transfer(address,uint256)
// keccak256("Transfer(address,address,uint256)")
const TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
const ALLOWANCE_SEL: u32 = 0xdd62ed3e; // allowance(address,address)
const APPROVE_SEL: u32 = 0x095ea7b3; // approve(address,uint256)
const TRANSFER_FROM_SEL: u32 = 0x23b872dd; // transferFrom(address,address,uint256)

// OpenZeppelin 5 (IERC20Errors, ERC-6093)
const INSUFFICIENT_BALANCE: u32 = 0xe450d38c; // ERC20InsufficientBalance(address,uint256,uint256)
const INVALID_SENDER: u32 = 0x96c6fd1e; // ERC20InvalidSender(address)
const INVALID_RECEIVER: u32 = 0xec442f05; // ERC20InvalidReceiver(address)
const INSUFFICIENT_ALLOWANCE: u32 = 0xfb8f41b2; // ERC20InsufficientAllowance(address,uint256,uint256)
const INVALID_APPROVER: u32 = 0xe602df05; // ERC20InvalidApprover(address)
const INVALID_SPENDER: u32 = 0x94280d62; // ERC20InvalidSpender(address)

function balances(): AddressMap { return new AddressMap(0); }
function allowances(): AddressMap2 { return new AddressMap2(1); }
function totalSupply(): StorageU256 { return new StorageU256(2); }

export function deploy(): i32 {
  const args = Reader.constructorArgs();
  const initialSupply = args.u256(0);
  if (!args.ok || !msgValue().isZero()) return revertEmpty();
  return mint(msgSender(), initialSupply);
}

export function call(): i32 {
  const input = Reader.calldata();
  // No function is payable: Solidity reverts without data on value, as on a bad call.
  if (!input.hasSelector() || !msgValue().isZero()) return revertEmpty();
  const selector = input.selector();
  let status = OK;
  if (selector == BALANCE_OF_SEL) {
    const account = input.address(0);
    if (!input.ok) return revertEmpty();
    return returnU256(balances().get(account));
  } else if (selector == TRANSFER_SEL) {
    const to = input.address(0);
    const value = input.u256(1);
    if (!input.ok) return revertEmpty();
    status = transfer(msgSender(), to, value);
  } else if (selector == ALLOWANCE_SEL) {
    const owner = input.address(0);
    const spender = input.address(1);
    if (!input.ok) return revertEmpty();
    return returnU256(allowances().get(owner, spender));
  } else if (selector == APPROVE_SEL) {
    const spender = input.address(0);
    const value = input.u256(1);
    if (!input.ok) return revertEmpty();
    status = approve(msgSender(), spender, value, true);
  } else if (selector == TRANSFER_FROM_SEL) {
    const from = input.address(0);
    const to = input.address(1);
    const value = input.u256(2);
    if (!input.ok) return revertEmpty();
    status = spendAllowance(from, msgSender(), value);
    if (status == OK) status = transfer(from, to, value);
  } else if (selector == TOTAL_SUPPLY_SEL) {
    return returnU256(totalSupply().get());
  } else if (selector == NAME_SEL) {
    return returnString(NAME);
  } else if (selector == SYMBOL_SEL) {
    return returnString(SYMBOL);
  } else if (selector == DECIMALS_SEL) {
    return returnU64(DECIMALS);
  } else {
    return revertEmpty();
  }
  return status != OK ? status : returnBool(true);
}

// The internal functions follow OpenZeppelin's ERC20.sol step by step (same reads and
// writes in the same order), so gas refunds and events match too.

function transfer(from: Address, to: Address, value: U256): i32 {
  if (from.isZero()) return customError(INVALID_SENDER).address(from).revert();
  if (to.isZero()) return customError(INVALID_RECEIVER).address(to).revert();
  return update(from, to, value);
}

function mint(account: Address, value: U256): i32 {
  if (account.isZero()) return customError(INVALID_RECEIVER).address(account).revert();
  return update(Address.zero(), account, value);
}

function update(from: Address, to: Address, value: U256): i32 {
  if (from.isZero()) {
    const supply = totalSupply().get().checkedAdd(value);
    if (supply == null) return revertPanic(PANIC_OVERFLOW);
    totalSupply().set(supply);
  } else {
    const fromSlot = balances().slotFor(from);  // hashed once for the read and the write
    const fromBalance = loadWord(fromSlot);
    if (fromBalance.lt(value)) {
      return customError(INSUFFICIENT_BALANCE).address(from).u256(fromBalance).u256(value).revert();
    }
    storeWord(fromSlot, fromBalance.sub(value));
  }
  if (to.isZero()) {
    totalSupply().set(totalSupply().get().sub(value));
  } else {
    const toSlot = balances().slotFor(to);
    storeWord(toSlot, loadWord(toSlot).add(value));
  }
  new Event("Transfer(address,address,uint256)", TRANSFER_TOPIC)
    .indexedAddress(from).indexedAddress(to).u256(value).emit();
  return OK;
}

function approve(owner: Address, spender: Address, value: U256, emitEvent: bool): i32 {
  if (owner.isZero()) return customError(INVALID_APPROVER).address(owner).revert();
  if (spender.isZero()) return customError(INVALID_SPENDER).address(spender).revert();
  allowances().set(owner, spender, value);
  if (emitEvent) {
    new Event("Approval(address,address,uint256)").indexedAddress(owner).indexedAddress(spender).u256(value).emit();
  }
  return OK;
}

function spendAllowance(owner: Address, spender: Address, value: U256): i32 {
  const current = allowances().get(owner, spender);
  if (current.lt(U256.max())) {
    if (current.lt(value)) {
      return customError(INSUFFICIENT_ALLOWANCE).address(spender).u256(current).u256(value).revert();
    }
    return approve(owner, spender, current.sub(value), false);
  }
  return OK;
}
