#[chassis::service]
struct Catalog;

fn main() {}
