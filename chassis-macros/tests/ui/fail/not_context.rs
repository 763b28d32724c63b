use axum::Router;

#[derive(serde::Deserialize)]
struct Settings {}

#[chassis::service]
async fn catalog(_settings: Settings) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
