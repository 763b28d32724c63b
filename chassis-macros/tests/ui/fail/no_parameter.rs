use axum::Router;

#[chassis::service]
async fn catalog() -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
