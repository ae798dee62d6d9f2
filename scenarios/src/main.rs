//! The `readerlab` command. All of it lives in the library ([`readerlab::cli`])
//! so integration tests and other front ends reach the same code.

fn main() -> std::process::ExitCode {
    readerlab::cli::main()
}
