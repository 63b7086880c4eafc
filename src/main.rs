use std::process::ExitCode;

/// mimalloc: relaying is allocation-heavy (JSON in and out, many small
/// rows), and it is markedly faster at that than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    switchboard::cli::main()
}
