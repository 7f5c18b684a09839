//! The audit log: who did what in the admin, and when. Written in the same transaction as
//! the change it records, so the log never claims a change that did not happen.

use folio_domain::{PageNumber, Paginated, User};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder, QuerySelect, Set,
};
use time::OffsetDateTime;

use crate::entities::audit_log;
use crate::{Result, Store, now};

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<i64>,
    /// The actor's name when they acted (kept if the account goes).
    pub actor_name: String,
    /// A short verb phrase: `post.publish`, `comment.spam`, `user.ban`, ...
    pub action: String,
    /// What it was done to: `post 12`, `comment 7`, `user 3`.
    pub subject: String,
    pub detail: String,
    pub at: OffsetDateTime,
}

pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &User,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<()> {
    audit_log::ActiveModel {
        actor_id: Set(Some(actor.id)),
        actor_name: Set(actor.display_name.clone()),
        action: Set(action.to_owned()),
        subject: Set(subject.to_owned()),
        detail: Set(detail.to_owned()),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

impl Store {
    /// Logs an admin action that changes nothing in the database (an upload, say).
    pub async fn record_admin_action(
        &self,
        actor: &User,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> Result<()> {
        record(&self.db, actor, action, subject, detail).await
    }

    /// Newest first.
    pub async fn audit_log(
        &self,
        page: PageNumber,
        per_page: u32,
    ) -> Result<Paginated<AuditEntry>> {
        let total = audit_log::Entity::find().count(&self.db).await?;
        let items = audit_log::Entity::find()
            .order_by_desc(audit_log::Column::Id)
            .offset(page.offset(per_page))
            .limit(u64::from(per_page))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| AuditEntry {
                id: row.id,
                actor_id: row.actor_id,
                actor_name: row.actor_name,
                action: row.action,
                subject: row.subject,
                detail: row.detail,
                at: row.created_at,
            })
            .collect();
        Ok(Paginated {
            items,
            page,
            per_page,
            total,
        })
    }
}
