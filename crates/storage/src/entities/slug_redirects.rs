use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slug_redirects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub old_path: String,
    pub post_id: Option<i64>,
    pub term_id: Option<i64>,
    pub created_at: TimeDateTimeWithTimeZone,
}

impl ActiveModelBehavior for ActiveModel {}
