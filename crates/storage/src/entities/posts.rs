use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "posts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub slug: String,
    pub title: String,
    pub source: String,
    pub html: String,
    pub plain_text: String,
    pub excerpt: String,
    pub status: String,
    pub published_at: Option<TimeDateTimeWithTimeZone>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub author_id: i64,
    pub comments_open: bool,
    pub featured_image: Option<String>,
    pub trashed_at: Option<TimeDateTimeWithTimeZone>,
    pub trashed_status: Option<String>,
    pub title_html: Option<String>,
    pub password: Option<String>,
    pub parent_id: Option<i64>,
    pub sticky: bool,
    pub comment_count: i64,
    pub thread_count: i64,
}

impl ActiveModelBehavior for ActiveModel {}
