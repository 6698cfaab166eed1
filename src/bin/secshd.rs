//! The secsh daemon binary; everything lives in `secsh::cli::secshd`.

fn main() {
    std::process::exit(secsh::cli::secshd::main());
}
