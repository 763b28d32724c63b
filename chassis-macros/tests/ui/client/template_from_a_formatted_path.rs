// A template built from a value: the template is the metric label, the value goes in `param`.
use chassis::client::Route;

fn route(id: u32) -> Route {
    Route::new(format!("/items/{id}"))
}

fn main() {}
