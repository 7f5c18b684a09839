use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    pub display_name: String,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: String,
    pub role: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub email_verified: bool,
    pub notify_replies: bool,
    pub banned_at: Option<TimeDateTimeWithTimeZone>,
    pub banned_until: Option<TimeDateTimeWithTimeZone>,
    pub ban_reason: Option<String>,
    pub last_sign_in_at: Option<TimeDateTimeWithTimeZone>,
}

impl ActiveModelBehavior for ActiveModel {}
