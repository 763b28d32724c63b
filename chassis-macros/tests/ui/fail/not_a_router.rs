use chassis::service::Context;

#[chassis::service]
async fn catalog(_ctx: Context<()>) -> Result<String, std::io::Error> {
    Ok(String::new())
}

fn main() {}
