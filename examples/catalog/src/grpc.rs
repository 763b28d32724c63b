//! `catalog.v1.Catalog`: the catalog's items over gRPC, beside its HTTP routes on the same
//! port.

use std::pin::Pin;

use futures_util::Stream;
use tonic::{Request, Response, Status};

use crate::Items;
use crate::pb::catalog_server::Catalog;
use crate::pb::{GetItemRequest, Item, ListItemsRequest};

/// The gRPC catalog over the same inventory as the HTTP routes.
#[derive(Debug, Clone)]
pub(crate) struct CatalogGrpc {
    pub(crate) items: Items,
}

fn message(item: &crate::Item) -> Item {
    Item {
        id: item.id.clone(),
        name: item.name.clone(),
        price_cents: item.price_cents,
        currency: item.currency.clone(),
    }
}

#[tonic::async_trait]
impl Catalog for CatalogGrpc {
    async fn get_item(&self, request: Request<GetItemRequest>) -> Result<Response<Item>, Status> {
        let id = &request.get_ref().id;
        match self.items.get(id) {
            Some(item) => Ok(Response::new(message(item))),
            None => Err(Status::not_found(format!("no item with id {id:?}"))),
        }
    }

    type ListItemsStream = Pin<Box<dyn Stream<Item = Result<Item, Status>> + Send>>;

    async fn list_items(
        &self,
        _request: Request<ListItemsRequest>,
    ) -> Result<Response<Self::ListItemsStream>, Status> {
        let items: Vec<Result<Item, Status>> =
            self.items.values().map(|i| Ok(message(i))).collect();
        Ok(Response::new(Box::pin(futures_util::stream::iter(items))))
    }
}
