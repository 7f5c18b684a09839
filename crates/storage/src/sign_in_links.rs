//! Email sign-in links. The link's secret goes out by mail and only its SHA-256 stays here, so
//! that whoever reads the database (a backup, a copy) cannot sign in with it. A link works
//! once and for a short time; how many are asked for is limited per address and per network,
//! counted here so that the limits hold across server processes.

use sea_orm::{ConnectionTrait, DatabaseTransaction};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::address_limits::{AddressLimit, lock_address};
use crate::mail::{NewMail, insert_mail, random_token};
use crate::raw::statement;
use crate::{Result, Store, now};

/// How many links may be asked for, and how long one works.
#[derive(Debug, Clone, Copy)]
pub struct SignInLinkLimits {
    /// Links per email address within `per_email_window`.
    pub per_email: u32,
    pub per_email_window: time::Duration,
    /// Links per client network address within `per_client_window`.
    pub per_client: u32,
    pub per_client_window: time::Duration,
    /// How long a link works after it was sent.
    pub lifetime: time::Duration,
}

/// The answer to a request for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInLinkRequest {
    /// The link was made and its email queued.
    Sent,
    /// A limit was reached: nothing was made or sent.
    TooMany,
}

/// What a link from an email is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInLinkState {
    /// It signs in `email` (or, with `link_user_id`, adds it to that user's account) and
    /// then goes to `return_to`.
    Valid {
        email: String,
        return_to: String,
        link_user_id: Option<i64>,
    },
    /// It signed someone in already.
    Used,
    Expired,
    /// No such link (mistyped, or cut short by a mail client).
    Unknown,
}

/// The dedupe key of a link's email in the outbox, by the link's hash.
fn outbox_key(hash: &str) -> String {
    format!("sign_in:{hash}")
}

/// The SHA-256 of a link's secret, as stored: lowercase hex.
pub fn sign_in_token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

async fn count_since(
    txn: &DatabaseTransaction,
    column: &str,
    value: &str,
    since: OffsetDateTime,
) -> Result<i64> {
    let backend = txn.get_database_backend();
    let text =
        format!("SELECT COUNT(*) AS n FROM sign_in_tokens WHERE {column} = $1 AND created_at > $2");
    Ok(txn
        .query_one_raw(statement(backend, &text, vec![value.into(), since.into()]))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

impl Store {
    /// Makes a sign-in link for `email` (already normalized) asked for from `client`,
    /// unless a limit is reached; `mail` turns the link's secret into the email, queued in
    /// the same transaction. With `link_user_id` the link adds the address to that user's
    /// account instead.
    #[allow(clippy::too_many_arguments)]
    pub async fn request_sign_in_link(
        &self,
        email: &str,
        client: &str,
        return_to: &str,
        link_user_id: Option<i64>,
        limits: SignInLinkLimits,
        mail: impl FnOnce(&str) -> NewMail,
    ) -> Result<SignInLinkRequest> {
        let backend = self.db_backend();
        let txn = self.begin_write().await?;
        let at = now();
        lock_address(&txn, AddressLimit::SignInLinks, client).await?;
        let by_email = count_since(&txn, "email", email, at - limits.per_email_window).await?;
        let by_client = count_since(
            &txn,
            "client_address",
            client,
            at - limits.per_client_window,
        )
        .await?;
        if by_email >= i64::from(limits.per_email) || by_client >= i64::from(limits.per_client) {
            return Ok(SignInLinkRequest::TooMany);
        }
        // Rows outlive their links only as long as the limits look back.
        txn.execute_raw(statement(
            backend,
            "DELETE FROM sign_in_tokens WHERE created_at < $1",
            vec![(at - time::Duration::days(1)).into()],
        ))
        .await?;
        let token = random_token();
        let hash = sign_in_token_hash(&token);
        txn.execute_raw(statement(
            backend,
            "INSERT INTO sign_in_tokens (token_hash, email, return_to, client_address, created_at, expires_at, link_user_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                hash.clone().into(),
                email.into(),
                return_to.into(),
                client.into(),
                at.into(),
                (at + limits.lifetime).into(),
                link_user_id.into(),
            ],
        ))
        .await?;
        let mut mail = mail(&token);
        mail.dedupe_key = outbox_key(&hash);
        insert_mail(&txn, &mail).await?;
        txn.commit().await?;
        Ok(SignInLinkRequest::Sent)
    }

    /// What the link with this secret would do, without using it (the page that asks the
    /// reader to confirm, so that a mail scanner fetching the link signs nobody in).
    pub async fn sign_in_link(&self, token: &str) -> Result<SignInLinkState> {
        let txn = self.begin_write().await?;
        let state = link_state(&txn, &sign_in_token_hash(token)).await?;
        txn.commit().await?;
        Ok(state)
    }

    /// Uses the link with this secret: `Valid` once, then `Used`. The secret is also wiped
    /// from the sent email's outbox row, which is the one other place it was kept.
    pub async fn use_sign_in_link(&self, token: &str) -> Result<SignInLinkState> {
        let backend = self.db_backend();
        let hash = sign_in_token_hash(token);
        let txn = self.begin_write().await?;
        let state = link_state(&txn, &hash).await?;
        if !matches!(state, SignInLinkState::Valid { .. }) {
            return Ok(state);
        }
        let used = txn
            .execute_raw(statement(
                backend,
                "UPDATE sign_in_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
                vec![now().into(), hash.clone().into()],
            ))
            .await?;
        if used.rows_affected() == 0 {
            // Another request used it between our read and this write.
            return Ok(SignInLinkState::Used);
        }
        txn.execute_raw(statement(
            backend,
            "UPDATE mail_outbox SET payload = '{}' WHERE dedupe_key = $1 AND status = 'sent'",
            vec![outbox_key(&hash).into()],
        ))
        .await?;
        txn.commit().await?;
        Ok(state)
    }
}

async fn link_state(txn: &DatabaseTransaction, hash: &str) -> Result<SignInLinkState> {
    let backend = txn.get_database_backend();
    let Some(row) = txn
        .query_one_raw(statement(
            backend,
            "SELECT email, return_to, expires_at, used_at, link_user_id FROM sign_in_tokens WHERE token_hash = $1",
            vec![hash.into()],
        ))
        .await?
    else {
        return Ok(SignInLinkState::Unknown);
    };
    if row
        .try_get::<Option<OffsetDateTime>>("", "used_at")?
        .is_some()
    {
        return Ok(SignInLinkState::Used);
    }
    if row.try_get::<OffsetDateTime>("", "expires_at")? <= now() {
        return Ok(SignInLinkState::Expired);
    }
    Ok(SignInLinkState::Valid {
        email: row.try_get("", "email")?,
        return_to: row.try_get("", "return_to")?,
        link_user_id: row.try_get("", "link_user_id")?,
    })
}

#[cfg(test)]
mod tests {
    use super::sign_in_token_hash;

    #[test]
    fn a_secret_is_stored_as_its_sha256() {
        assert_eq!(
            sign_in_token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
