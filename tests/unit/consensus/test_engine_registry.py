"""The engine registry and the seal's canonical encoding."""
from __future__ import annotations

import pytest

from consensus.bft.core import SignState
from consensus.bft.engine import BftEngine
from consensus.engine import ConsensusEngine, InvalidSeal, Seal
from consensus.errors import MalformedMessage, OversizedMessage
from consensus.poa import PoaCore, PoaSignState
from consensus.registry import ENGINES, get_engine
from consensus.types import Step
from poa_harness import make_signers
from runtime.errors import InvalidChainSpec

SIGNERS = make_signers(4)
ADDRESSES = ["0x" + s.address.hex() for s in SIGNERS]


def test_registry_names_every_engine_by_its_name():
    assert set(ENGINES) == {"poa", "bft"}
    for name, cls in ENGINES.items():
        assert cls.name == name and issubclass(cls, ConsensusEngine)


def test_poa_is_built_from_its_spec_section():
    engine = get_engine({"engine": "poa", "authorities": ADDRESSES, "slotDuration": 5}, chain_id=9,
                        signer=SIGNERS[2])
    assert isinstance(engine, PoaCore)
    assert engine.slot_duration == 5 and engine.chain_id == 9 and engine.is_authority
    assert engine.authorities == tuple(s.address for s in SIGNERS)


def test_bft_is_built_from_its_spec_section():
    section = {"engine": "bft", "validators": [ADDRESSES[0], {"address": ADDRESSES[1], "power": 3}],
               "timeouts": {"proposeMs": 100, "precommitDeltaMs": 7}}
    engine = get_engine(section, chain_id=9)
    assert isinstance(engine, BftEngine)
    assert engine.validators.total_power == 4 and engine.validators.power_of(SIGNERS[1].address) == 3
    assert engine.core.timeouts.propose_ms == 100 and engine.core.timeouts.precommit_delta_ms == 7


def test_the_persisted_sign_state_is_handed_back_to_the_engine():
    poa = get_engine({"engine": "poa", "authorities": ADDRESSES}, chain_id=9, signer=SIGNERS[0],
                     sign_state=PoaSignState(4, 7, b"\x01" * 32).encode())
    assert poa.sign_state == PoaSignState(4, 7, b"\x01" * 32)
    state = SignState(3, 1, Step.PREVOTE)
    bft = get_engine({"engine": "bft", "validators": ADDRESSES}, chain_id=9, signer=SIGNERS[0],
                     sign_state=BftEngine(chain_id=9, validators=poa.validators).encode_sign_state(state))
    assert bft.sign_state == state


def test_an_unknown_engine_is_refused_with_the_known_ones():
    with pytest.raises(InvalidChainSpec, match=r"unknown consensus engine 'pow'; known engines: bft, poa") as info:
        get_engine({"engine": "pow"}, chain_id=1)
    assert info.value.field == "consensus.engine"
    with pytest.raises(InvalidChainSpec, match="unknown consensus engine None"):
        get_engine({}, chain_id=1)
    with pytest.raises(InvalidChainSpec, match="expected an object"):
        get_engine(["poa"], chain_id=1)


@pytest.mark.parametrize("section, field", [
    ({"engine": "poa"}, "consensus.authorities"),
    ({"engine": "poa", "authorities": ["0x12"]}, "consensus.authorities[0]"),
    ({"engine": "poa", "authorities": [ADDRESSES[0], ADDRESSES[0]]}, "consensus.authorities"),
    ({"engine": "poa", "authorities": ADDRESSES, "slotDuration": 0}, "consensus.slotDuration"),
    ({"engine": "bft", "validators": []}, "consensus.validators"),
    ({"engine": "bft", "validators": [{"address": ADDRESSES[0], "power": 0}]}, "consensus.validators[0].power"),
    ({"engine": "bft", "validators": [ADDRESSES[0], ADDRESSES[0]]}, "consensus.validators"),
    ({"engine": "bft", "validators": ADDRESSES, "timeouts": {"proposeSeconds": 1}}, "consensus.timeouts.proposeSeconds"),
])
def test_a_bad_engine_section_names_the_field(section, field):
    with pytest.raises(InvalidChainSpec) as info:
        get_engine(section, chain_id=1)
    assert info.value.field == field


# --- the seal --------------------------------------------------------------------------

SEAL = Seal("poa", b"\x11" * 32, 42, ((b"\x01" * 20, b"\x02" * 65), (b"\x03" * 20, b"\x04" * 65)))


def test_seal_round_trips_canonically():
    assert Seal.decode(SEAL.encode()) == SEAL


def test_seal_decoding_refuses_bad_bytes():
    with pytest.raises(MalformedMessage):
        Seal.decode(b"\xff\x00")
    with pytest.raises(MalformedMessage):
        Seal.decode(b"\xc0")
    with pytest.raises(OversizedMessage):
        Seal.decode(b"\x00" * 10**6)


def test_seal_shape_checks():
    SEAL.validate_shape("poa", b"\x11" * 32)
    with pytest.raises(InvalidSeal, match="no signature"):
        Seal("poa", b"\x11" * 32, 0, ()).validate_shape("poa", b"\x11" * 32)
    with pytest.raises(InvalidSeal, match="65 bytes"):
        Seal("poa", b"\x11" * 32, 0, ((b"\x01" * 20, b"\x02"),)).validate_shape("poa", b"\x11" * 32)
    with pytest.raises(InvalidSeal, match="sorted"):
        Seal("poa", b"\x11" * 32, 0, SEAL.signatures[::-1]).validate_shape("poa", b"\x11" * 32)
