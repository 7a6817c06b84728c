//! `berth-relay`: see the crate docs (`berth_relay`), or run it with `--help`.

fn main() -> std::process::ExitCode {
    berth_relay::main()
}
