//! Sessions live in the database so that every server process sees the same sign-ins.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::entities::sessions;
use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub data: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Store {
    /// A session that has not expired at `now` (Unix seconds).
    pub async fn load_session(&self, id: &str, now: i64) -> Result<Option<StoredSession>> {
        Ok(sessions::Entity::find_by_id(id.to_owned())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?
            .map(|row| StoredSession {
                data: row.data,
                expires_at: row.expires_at,
            }))
    }

    /// Writes a session, replacing the one with the same id. `user_id` lets an account's
    /// sessions be ended together.
    pub async fn save_session(
        &self,
        id: &str,
        user_id: Option<i64>,
        session: StoredSession,
    ) -> Result<()> {
        let row = sessions::ActiveModel {
            id: Set(id.to_owned()),
            user_id: Set(user_id),
            data: Set(session.data),
            expires_at: Set(session.expires_at),
        };
        sessions::Entity::insert(row)
            .on_conflict(
                OnConflict::column(sessions::Column::Id)
                    .update_columns([
                        sessions::Column::UserId,
                        sessions::Column::Data,
                        sessions::Column::ExpiresAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Rewrites a session that still exists; false when it is gone. A request that loaded
    /// the session before the reader signed out through another process (which deleted it)
    /// must not bring it back when it saves on its way out.
    pub async fn update_session(
        &self,
        id: &str,
        user_id: Option<i64>,
        session: StoredSession,
    ) -> Result<bool> {
        let updated = sessions::Entity::update_many()
            .col_expr(sessions::Column::UserId, Expr::value(user_id))
            .col_expr(sessions::Column::Data, Expr::value(session.data))
            .col_expr(sessions::Column::ExpiresAt, Expr::value(session.expires_at))
            .filter(sessions::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// Inserts a session only when its id is new; false when the id was taken.
    pub async fn create_session(
        &self,
        id: &str,
        user_id: Option<i64>,
        session: StoredSession,
    ) -> Result<bool> {
        let row = sessions::ActiveModel {
            id: Set(id.to_owned()),
            user_id: Set(user_id),
            data: Set(session.data),
            expires_at: Set(session.expires_at),
        };
        let inserted = sessions::Entity::insert(row)
            .on_conflict(
                OnConflict::column(sessions::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(inserted == 1)
    }

    pub async fn delete_session(&self, id: &str) -> Result<()> {
        sessions::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Removes sessions that expired before `now`; returns how many.
    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        Ok(sessions::Entity::delete_many()
            .filter(sessions::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
