use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: Option<i64>,
    pub author_name: String,
    pub author_url: Option<String>,
    pub source: String,
    pub html: String,
    pub status: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub author_ip: Option<String>,
    pub edited_at: Option<TimeDateTimeWithTimeZone>,
    pub deleted_at: Option<TimeDateTimeWithTimeZone>,
    pub keeps_author_name: bool,
    pub thread_root_id: Option<i64>,
    pub thread_top: bool,
}

impl ActiveModelBehavior for ActiveModel {}
