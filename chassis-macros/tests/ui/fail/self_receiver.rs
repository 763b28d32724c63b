use axum::Router;

struct Catalog;

impl Catalog {
    #[chassis::service]
    async fn router(&self) -> Result<Router, std::io::Error> {
        Ok(Router::new())
    }
}

fn main() {}
