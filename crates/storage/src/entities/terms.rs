use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "terms")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub taxonomy: String,
    pub slug: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub description: String,
}

impl ActiveModelBehavior for ActiveModel {}
