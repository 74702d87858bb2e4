//! `gridctl-holder`: a thin binary over the holder library (`gridctl_holder::main`).

fn main() {
    std::process::exit(gridctl_holder::main());
}
