use std::process::ExitCode;

/// mimalloc: relaying is allocation-heavy (JSON in and out, many small
/// rows), and it is markedly faster at that than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    no_transparent_huge_pages();
    switchboard::cli::main()
}

/// Turns transparent huge pages off for this process, as mimalloc's
/// `MIMALLOC_ALLOW_THP=0` would (its option is read before `main`). With
/// them, every partly used 2 MiB region of the allocator counts as resident
/// in full: a thousand idle bots took 450 MB instead of 85 MB.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only changes a
    // flag of this process; a failure (old kernel) leaves things as they were.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
