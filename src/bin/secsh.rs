//! The secsh client binary; everything lives in `secsh::cli::secsh`.

fn main() {
    std::process::exit(secsh::cli::secsh::main());
}
