// Vests what it is sent through the vesting pallet, as the schedule's creator: a WASM
// contract calling a native pallet with value, like any other contract call.
import {
  Address, Reader, Writer, blockTimestamp, bubbleRevert, callContract, msgValue, returnData,
  returnU256, revertEmpty,
} from "chameleon-sdk";

const VESTING_PALLET = "0x0000000000000000000000000000000000000801";
const VEST_FOR: u32 = 0xc2f96669; // vestFor(address,uint64,uint64)
const CREATE_SCHEDULE: u32 = 0x15aae422; // createSchedule(address,uint64,uint64,uint64,bool)

export function call(): i32 {
  const input = Reader.calldata();
  if (input.selector() != VEST_FOR) return revertEmpty();
  const beneficiary = input.address(0);
  const cliffSeconds = input.u64(1);
  const durationSeconds = input.u64(2);
  if (!input.ok) return revertEmpty();

  const data = Writer.withSelector(CREATE_SCHEDULE, 4 + 5 * 32)
    .address(beneficiary)
    .u64(blockTimestamp()) // starts now
    .u64(cliffSeconds)
    .u64(durationSeconds)
    .bool(true); // revocable by this contract
  // Forward the whole call value: the pallet locks it in the schedule.
  if (!callContract(Address.fromHex(VESTING_PALLET), msgValue(), data)) return bubbleRevert();
  const result = returnData();
  const id = result.u256(0);
  if (!result.ok) return revertEmpty();
  return returnU256(id);
}
