use chassis::service::Context;

#[chassis::service]
async fn catalog(_ctx: Context<()>) {}

fn main() {}
