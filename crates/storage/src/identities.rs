use folio_domain::{Identity, Role, Slug, User};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entities::{identities, users};
use crate::users::{free_user_slug, user_from_row};
use crate::{Result, StorageError, Store, now};

/// What [`Store::link_identity`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    Linked,
    /// The identity signs in as this user already.
    AlreadyLinked,
    /// Another account signs in with this identity: it was left there.
    BelongsToAnother,
}

/// What [`Store::unlink_identity`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkOutcome {
    Removed,
    /// The account's only way of signing in: kept.
    LastOne,
    /// No such identity on this account.
    NotYours,
}

impl Store {
    /// Signs a person in through a provider's identity: finds the user by (provider, subject),
    /// or takes over a user no one can sign in as yet (an imported commenter or author) whose
    /// address equals the provider's verified one, or makes a new reader; and refreshes the
    /// name, avatar and verified email the provider gave this time. An unverified email is kept on the identity but never becomes the
    /// user's address.
    pub async fn sign_in(&self, identity: &Identity) -> Result<User> {
        let identity = &Identity {
            avatar_url: identity
                .avatar_url
                .clone()
                .filter(|url| folio_domain::users::is_web_avatar_url(url)),
            ..identity.clone()
        };
        let txn = self.begin_write().await?;
        let at = now();
        let verified_email = identity.email.clone().filter(|_| identity.email_verified);
        let existing = identities::Entity::find()
            .filter(identities::Column::Provider.eq(&identity.provider))
            .filter(identities::Column::Subject.eq(&identity.subject))
            .one(&txn)
            .await?;
        let claimable = match existing {
            Some(_) => None,
            None => claimable_user(&txn, verified_email.as_deref()).await?,
        };
        let user_id = match (existing, claimable) {
            (Some(row), _) => {
                let user_id = row.user_id;
                let mut row: identities::ActiveModel = row.into();
                refresh_identity(&mut row, identity);
                row.last_sign_in_at = Set(at);
                row.update(&txn).await?;
                let user = users::Entity::find_by_id(user_id)
                    .one(&txn)
                    .await?
                    .ok_or_else(|| StorageError::UnknownUser(user_id.to_string()))?;
                let mut user: users::ActiveModel = user.into();
                if !identity.keeps_user_profile() {
                    user.display_name = Set(identity.display_name.clone());
                    user.avatar_url = Set(identity.avatar_url.clone());
                }
                if let Some(email) = verified_email {
                    user.email = Set(Some(email));
                    user.email_verified = Set(true);
                }
                user.last_sign_in_at = Set(Some(at));
                user.update(&txn).await?;
                user_id
            }
            (None, Some(guest)) => {
                let mut user: users::ActiveModel = guest.into();
                if !identity.keeps_user_profile() {
                    user.display_name = Set(identity.display_name.clone());
                }
                if identity.avatar_url.is_some() {
                    user.avatar_url = Set(identity.avatar_url.clone());
                }
                user.email = Set(verified_email.clone());
                user.email_verified = Set(true);
                user.last_sign_in_at = Set(Some(at));
                let user = user.update(&txn).await?;
                insert_identity(&txn, user.id, identity, at).await?;
                user.id
            }
            (None, None) => {
                let base = identity
                    .login
                    .as_deref()
                    .map(|login| Slug::from_title(login, "reader"))
                    .unwrap_or_else(|| Slug::from_title(&identity.display_name, "reader"));
                let slug = free_user_slug(&txn, &base).await?;
                let user = users::ActiveModel {
                    slug: Set(slug.as_str().to_owned()),
                    display_name: Set(identity.display_name.clone()),
                    email_verified: Set(verified_email.is_some()),
                    email: Set(verified_email),
                    avatar_url: Set(identity.avatar_url.clone()),
                    bio: Set(String::new()),
                    role: Set(Role::Reader.as_str().to_owned()),
                    created_at: Set(at),
                    last_sign_in_at: Set(Some(at)),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                insert_identity(&txn, user.id, identity, at).await?;
                user.id
            }
        };
        if let Some(login) = &identity.login {
            apply_role_grant(&txn, &identity.provider, login, user_id).await?;
        }
        let user = users::Entity::find_by_id(user_id)
            .one(&txn)
            .await?
            .ok_or_else(|| StorageError::UnknownUser(user_id.to_string()))?;
        txn.commit().await?;
        user_from_row(user)
    }

    /// Adds a way of signing in to `user_id`'s account (linked accounts): from now on this
    /// identity signs in as that user. Refused when the identity already belongs to another
    /// user. Nothing is matched by email here, and an address the provider did not vouch
    /// for stays on the identity only.
    pub async fn link_identity(&self, user_id: i64, identity: &Identity) -> Result<LinkOutcome> {
        let txn = self.begin_write().await?;
        let existing = identities::Entity::find()
            .filter(identities::Column::Provider.eq(&identity.provider))
            .filter(identities::Column::Subject.eq(&identity.subject))
            .one(&txn)
            .await?;
        let outcome = match existing {
            Some(row) if row.user_id == user_id => LinkOutcome::AlreadyLinked,
            Some(_) => LinkOutcome::BelongsToAnother,
            None => {
                insert_identity(&txn, user_id, identity, now()).await?;
                let user = users::Entity::find_by_id(user_id)
                    .one(&txn)
                    .await?
                    .ok_or_else(|| StorageError::UnknownUser(user_id.to_string()))?;
                if user.email.is_none()
                    && let Some(email) = identity.email.clone().filter(|_| identity.email_verified)
                {
                    let mut user: users::ActiveModel = user.into();
                    user.email = Set(Some(email));
                    user.email_verified = Set(true);
                    user.update(&txn).await?;
                }
                LinkOutcome::Linked
            }
        };
        txn.commit().await?;
        Ok(outcome)
    }

    /// Removes one of `user_id`'s ways of signing in, unless it is the last one (then the
    /// account could no longer be reached).
    pub async fn unlink_identity(
        &self,
        user_id: i64,
        provider: &str,
        subject: &str,
    ) -> Result<UnlinkOutcome> {
        let txn = self.begin_write().await?;
        let mine = identities::Entity::find()
            .filter(identities::Column::UserId.eq(user_id))
            .all(&txn)
            .await?;
        let Some(target) = mine
            .iter()
            .find(|row| row.provider == provider && row.subject == subject)
        else {
            return Ok(UnlinkOutcome::NotYours);
        };
        if mine.len() < 2 {
            return Ok(UnlinkOutcome::LastOne);
        }
        identities::Entity::delete_by_id(target.id)
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(UnlinkOutcome::Removed)
    }

    /// Gives the role to whoever signs in as `provider:login`, at their first sign-in.
    pub async fn grant_role_at_sign_in(
        &self,
        provider: &str,
        login: &str,
        role: Role,
    ) -> Result<()> {
        let backend = self.db_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "INSERT INTO role_grants (provider, login, role, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (provider, login) DO UPDATE SET role = excluded.role"
            }
            _ => {
                "INSERT INTO role_grants (provider, login, role, created_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (provider, login) DO UPDATE SET role = excluded.role"
            }
        };
        self.db
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                sql,
                [
                    provider.into(),
                    login.to_lowercase().into(),
                    role.as_str().into(),
                    now().into(),
                ],
            ))
            .await?;
        Ok(())
    }

    pub async fn identities_of(&self, user_id: i64) -> Result<Vec<Identity>> {
        Ok(identities::Entity::find()
            .filter(identities::Column::UserId.eq(user_id))
            .order_by_asc(identities::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(identity_from_row)
            .collect())
    }

    /// The user behind `provider:login` (for example `github:octocat`), logins compared
    /// without regard to case as the providers do.
    pub(crate) async fn user_by_login<C: ConnectionTrait>(
        db: &C,
        provider: &str,
        login: &str,
    ) -> Result<Option<User>> {
        let identity = identities::Entity::find()
            .filter(identities::Column::Provider.eq(provider))
            .filter(ExprTrait::eq(
                Expr::expr(Func::lower(Expr::col(identities::Column::Login))),
                login.to_lowercase(),
            ))
            .one(db)
            .await?;
        let Some(identity) = identity else {
            return Ok(None);
        };
        users::Entity::find_by_id(identity.user_id)
            .one(db)
            .await?
            .map(user_from_row)
            .transpose()
    }
}

async fn apply_role_grant<C: ConnectionTrait>(
    db: &C,
    provider: &str,
    login: &str,
    user_id: i64,
) -> Result<()> {
    let backend = db.get_database_backend();
    let (select, delete) = match backend {
        sea_orm::DbBackend::Postgres => (
            "SELECT role FROM role_grants WHERE provider = $1 AND login = $2",
            "DELETE FROM role_grants WHERE provider = $1 AND login = $2",
        ),
        _ => (
            "SELECT role FROM role_grants WHERE provider = ? AND login = ?",
            "DELETE FROM role_grants WHERE provider = ? AND login = ?",
        ),
    };
    let key = [provider.into(), login.to_lowercase().into()];
    let Some(row) = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            select,
            key.clone(),
        ))
        .await?
    else {
        return Ok(());
    };
    let role: String = row.try_get("", "role")?;
    users::Entity::update_many()
        .col_expr(users::Column::Role, Expr::value(role))
        .filter(users::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend, delete, key,
    ))
    .await?;
    Ok(())
}

/// A user with this address and no identity at all: made by an import (or by the command
/// line), waiting for its owner. Only a verified address may claim one.
async fn claimable_user<C: ConnectionTrait>(
    db: &C,
    verified_email: Option<&str>,
) -> Result<Option<users::Model>> {
    let Some(email) = verified_email.map(str::trim).filter(|e| e.contains('@')) else {
        return Ok(None);
    };
    let candidates = users::Entity::find()
        .filter(ExprTrait::eq(
            Expr::expr(Func::lower(Expr::col(users::Column::Email))),
            email.to_lowercase(),
        ))
        .order_by_asc(users::Column::Id)
        .all(db)
        .await?;
    for candidate in candidates {
        let has_identity = identities::Entity::find()
            .filter(identities::Column::UserId.eq(candidate.id))
            .one(db)
            .await?
            .is_some();
        if !has_identity {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Links a provider's identity to the user it signs in as from now on.
async fn insert_identity<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    identity: &Identity,
    at: time::OffsetDateTime,
) -> Result<()> {
    let mut row = identities::ActiveModel {
        user_id: Set(user_id),
        provider: Set(identity.provider.clone()),
        subject: Set(identity.subject.clone()),
        created_at: Set(at),
        last_sign_in_at: Set(at),
        ..Default::default()
    };
    refresh_identity(&mut row, identity);
    row.insert(db).await?;
    Ok(())
}

fn refresh_identity(row: &mut identities::ActiveModel, identity: &Identity) {
    row.login = Set(identity.login.clone());
    row.display_name = Set(identity.display_name.clone());
    row.email = Set(identity.email.clone());
    row.email_verified = Set(identity.email_verified);
    row.avatar_url = Set(identity.avatar_url.clone());
    row.profile_url = Set(identity.profile_url.clone());
}

fn identity_from_row(row: identities::Model) -> Identity {
    Identity {
        provider: row.provider,
        subject: row.subject,
        login: row.login,
        display_name: row.display_name,
        email: row.email,
        email_verified: row.email_verified,
        avatar_url: row.avatar_url,
        profile_url: row.profile_url,
    }
}
