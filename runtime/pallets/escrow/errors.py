"""Escrow errors: ABI custom errors, reverted with by a failing call."""
from runtime.pallets.framework import error

ZeroAmount = error("ZeroAmount()", "open without value")
ZeroBuyer = error("ZeroBuyer()", "open_escrow for the zero address")
ZeroSeller = error("ZeroSeller()", "the seller is the zero address")
ZeroArbiter = error("ZeroArbiter()", "the arbiter is the zero address")
SellerIsBuyer = error("SellerIsBuyer()", "the seller is the buyer")
ArbiterIsParty = error("ArbiterIsParty()", "the arbiter is the buyer or the seller")
DeadlineNotInFuture = error("DeadlineNotInFuture(uint64 deadline, uint64 blockTime)", "the deadline is not after the block's time")
UnknownEscrow = error("UnknownEscrow(uint256 id)", "no escrow has this id")
NotBuyer = error("NotBuyer(uint256 id)", "only the escrow's buyer may make this call")
NotSeller = error("NotSeller(uint256 id)", "only the escrow's seller may make this call")
NotArbiter = error("NotArbiter(uint256 id)", "only the escrow's arbiter may resolve it")
NotParty = error("NotParty(uint256 id)", "only the escrow's buyer or seller may make this call")
WrongStatus = error("WrongStatus(uint256 id, uint8 status)", "the escrow's status does not allow this call")
DeadlineNotPassed = error("DeadlineNotPassed(uint256 id, uint64 deadline)", "the buyer cancels only after the deadline")
ConfirmWindowOpen = error("ConfirmWindowOpen(uint256 id, uint64 endsAt)", "the seller claims only after the confirm window")
BpsOutOfRange = error("BpsOutOfRange(uint16 buyerBps)", "buyerBps is over 10000")
