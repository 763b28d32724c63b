// Every problem is reported at once, each on its own token.
use axum::Router;

#[chassis::service(name = "bad name")]
fn catalog(_port: u16) -> Router {
    Router::new()
}

fn main() {}
