// The old API's habit: a path built with `format!` where a route goes.
use chassis::client::HttpClient;

fn call(catalog: &HttpClient, id: u32) {
    let _ = catalog.get(&format!("/items/{id}"));
}

fn main() {}
