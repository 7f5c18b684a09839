//! Sessions live in the database so that every server process sees the same sign-ins.

use folio_domain::User;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryFilter,
    Set,
};

use crate::entities::{sessions, users};
use crate::site::{ContentState, content_state_columns, content_state_from_row};
use crate::users::user_from_row;
use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub data: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A session with what every page for its reader needs besides: see
/// `Store::load_session_with_reader`.
#[derive(Debug, Clone)]
pub struct SessionWithReader {
    pub session: StoredSession,
    /// The signed-in user the session belongs to, if any.
    pub user: Option<User>,
    /// The content state at the time of loading, as `Store::content_state` gives it.
    pub content: ContentState,
}

/// The statement of `Store::load_session_with_reader`, made once: it names every column of
/// `users`, and it runs on every request that carries a session.
fn session_with_reader_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let user_columns = users::Column::iter()
            .map(|column| format!("u.{0} AS u_{0}", column.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT s.data AS s_data, s.expires_at AS s_expires_at, {user_columns}, {} \
             FROM sessions s \
             LEFT JOIN users u ON u.id = s.user_id \
             LEFT JOIN site_state ON site_state.id = 1 \
             WHERE s.id = $2 AND s.expires_at > $3",
            content_state_columns(1)
        )
    })
}

impl Store {
    /// A session that has not expired at `now` (Unix seconds), its user and the content
    /// state, in one query: a signed-in reader's page needs all three, and each query is a
    /// round trip (on SQLite a hand-off to the database's thread).
    pub async fn load_session_with_reader(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<SessionWithReader>> {
        let Some(row) = self
            .db
            .query_one_raw(crate::raw::statement(
                self.db_backend(),
                session_with_reader_sql(),
                vec![crate::now().into(), id.into(), now.into()],
            ))
            .await?
        else {
            return Ok(None);
        };
        let user = match row.try_get::<Option<i64>>("", "u_id")? {
            Some(_) => Some(user_from_row(users::Model::from_query_result(&row, "u_")?)?),
            None => None,
        };
        Ok(Some(SessionWithReader {
            session: StoredSession {
                data: row.try_get("", "s_data")?,
                expires_at: row.try_get("", "s_expires_at")?,
            },
            user,
            content: content_state_from_row(&row)?,
        }))
    }

    /// A session that has not expired at `now` (Unix seconds).
    pub async fn load_session(&self, id: &str, now: i64) -> Result<Option<StoredSession>> {
        Ok(self
            .load_session_with_reader(id, now)
            .await?
            .map(|loaded| loaded.session))
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
