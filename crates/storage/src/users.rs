use folio_domain::{Role, Slug, User};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entities::users;
use crate::{Result, StorageError, Store, now};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub display_name: String,
    pub slug: Option<Slug>,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: String,
    pub role: Role,
}

impl Store {
    /// Creates a user; the slug (for `/author/{slug}/`) comes from the name when not given and
    /// gets a number appended when taken.
    pub async fn create_user(&self, new: NewUser) -> Result<User> {
        let base = new
            .slug
            .unwrap_or_else(|| Slug::from_title(&new.display_name, "author"));
        let slug = free_user_slug(&self.db, &base).await?;
        let model = users::ActiveModel {
            slug: Set(slug.as_str().to_owned()),
            display_name: Set(new.display_name),
            email: Set(new.email),
            avatar_url: Set(new.avatar_url),
            bio: Set(new.bio),
            role: Set(new.role.as_str().to_owned()),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        user_from_row(model)
    }

    pub async fn user_by_slug(&self, slug: &str) -> Result<Option<User>> {
        users::Entity::find()
            .filter(users::Column::Slug.eq(slug))
            .one(&self.db)
            .await?
            .map(user_from_row)
            .transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        users::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(user_from_row)
            .transpose()
    }

    /// Finds a user by id, email, author slug, or `provider:login` (`github:octocat`), as the
    /// CLI's USER argument allows.
    pub async fn find_user(&self, key: &str) -> Result<Option<User>> {
        if let Some((provider, login)) = key.split_once(':')
            && !provider.is_empty()
            && !login.is_empty()
            && let Some(user) = Store::user_by_login(&self.db, provider, login).await?
        {
            return Ok(Some(user));
        }
        if let Ok(id) = key.parse::<i64>()
            && let Some(user) = users::Entity::find_by_id(id).one(&self.db).await?
        {
            return user_from_row(user).map(Some);
        }
        let by_email_or_slug = users::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(users::Column::Email.eq(key))
                    .add(users::Column::Slug.eq(key)),
            )
            .one(&self.db)
            .await?;
        by_email_or_slug.map(user_from_row).transpose()
    }

    /// Refused with [`StorageError::LastAdmin`] when it would leave the site without an admin.
    pub async fn set_role(&self, user_id: i64, role: Role) -> Result<User> {
        let txn = self.begin_write().await?;
        if role != Role::Admin {
            refuse_last_admin(&txn, user_id).await?;
        }
        let user = users::Entity::find_by_id(user_id)
            .one(&txn)
            .await?
            .ok_or_else(|| StorageError::UnknownUser(user_id.to_string()))?;
        let mut user: users::ActiveModel = user.into();
        user.role = Set(role.as_str().to_owned());
        let user = user_from_row(user.update(&txn).await?)?;
        txn.commit().await?;
        Ok(user)
    }

    /// "Email me when someone replies to my comment", from the account page.
    pub async fn set_notify_replies(&self, user_id: i64, notify: bool) -> Result<()> {
        users::Entity::update_many()
            .col_expr(
                users::Column::NotifyReplies,
                sea_orm::sea_query::Expr::value(notify),
            )
            .filter(users::Column::Id.eq(user_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        users::Entity::find()
            .order_by_asc(users::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(user_from_row)
            .collect()
    }
}

pub(crate) async fn free_user_slug<C: ConnectionTrait>(db: &C, base: &Slug) -> Result<Slug> {
    for n in 1..1000 {
        let candidate = if n == 1 {
            base.clone()
        } else {
            numbered(base, n)
        };
        let taken = users::Entity::find()
            .filter(users::Column::Slug.eq(candidate.as_str()))
            .one(db)
            .await?
            .is_some();
        if !taken {
            return Ok(candidate);
        }
    }
    Err(StorageError::DuplicateSlug {
        kind: "user",
        slug: base.to_string(),
    })
}

pub(crate) fn numbered(base: &Slug, n: u32) -> Slug {
    let stem: String = base.as_str().chars().take(Slug::MAX_LEN - 8).collect();
    Slug::parse(&format!("{}-{n}", stem.trim_end_matches('-'))).unwrap_or_else(|_| base.clone())
}

pub(crate) fn user_from_row(row: users::Model) -> Result<User> {
    Ok(User {
        id: row.id,
        slug: Slug::parse(&row.slug)
            .map_err(|_| StorageError::unexpected("users", "slug", &row.slug))?,
        role: Role::parse(&row.role)
            .ok_or_else(|| StorageError::unexpected("users", "role", &row.role))?,
        display_name: row.display_name,
        email: row.email,
        avatar_url: row.avatar_url,
        bio: row.bio,
        created_at: row.created_at,
        email_verified: row.email_verified,
        notify_replies: row.notify_replies,
        ban: row.banned_at.map(|since| folio_domain::Ban {
            since,
            until: row.banned_until,
            reason: row.ban_reason.unwrap_or_default(),
        }),
    })
}

impl Store {
    /// The display names of these users, for lists that show who wrote or saved what.
    pub(crate) async fn display_names(
        &self,
        mut ids: Vec<i64>,
    ) -> Result<std::collections::HashMap<i64, String>> {
        ids.sort_unstable();
        ids.dedup();
        Ok(users::Entity::find()
            .filter(users::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect())
    }
}

/// Refuses, inside the caller's transaction, a change that takes `user_id` out of the admins
/// (a lower role, a ban, deletion) when no other admin who is not banned would remain.
pub(crate) async fn refuse_last_admin<C: sea_orm::ConnectionTrait>(
    db: &C,
    user_id: i64,
) -> Result<()> {
    use sea_orm::PaginatorTrait;
    let is_admin = users::Entity::find_by_id(user_id)
        .filter(users::Column::Role.eq(Role::Admin.as_str()))
        .one(db)
        .await?
        .is_some();
    if !is_admin {
        return Ok(());
    }
    let other_admins = users::Entity::find()
        .filter(users::Column::Role.eq(Role::Admin.as_str()))
        .filter(users::Column::Id.ne(user_id))
        .filter(users::Column::BannedAt.is_null())
        .count(db)
        .await?;
    if other_admins == 0 {
        return Err(StorageError::LastAdmin);
    }
    Ok(())
}
