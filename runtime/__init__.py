"""The state transition function: primitives, state, chain specs, the executive. Pure: no I/O, no clock."""
