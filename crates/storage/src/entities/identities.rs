use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub provider: String,
    pub subject: String,
    pub login: Option<String>,
    pub display_name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub avatar_url: Option<String>,
    pub profile_url: Option<String>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub last_sign_in_at: TimeDateTimeWithTimeZone,
}

impl ActiveModelBehavior for ActiveModel {}
