//! Sans-IO state machines.
