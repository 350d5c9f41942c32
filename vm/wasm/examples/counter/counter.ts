// A counter anyone can increment: the smallest complete contract.
import {
  Event, Reader, StorageU256, U256, msgSender, msgValue, returnEmpty, returnU256, revertEmpty,
} from "chameleon-sdk";

const INCREMENT: u32 = 0xd09de08a; // increment()
const GET: u32 = 0x6d4ce63c; // get()

export function call(): i32 {
  const input = Reader.calldata();
  // Neither function is payable; Solidity reverts without data on value or a bad call.
  if (!input.hasSelector() || !msgValue().isZero()) return revertEmpty();
  const count = new StorageU256(0); // slot 0, as `uint256 count;` in Solidity
  const selector = input.selector();
  if (selector == INCREMENT) {
    const value = count.get().add(U256.fromU64(1));
    count.set(value);
    new Event("Incremented(address,uint256)").indexedAddress(msgSender()).u256(value).emit();
    return returnEmpty();
  }
  if (selector == GET) return returnU256(count.get());
  return revertEmpty();
}
