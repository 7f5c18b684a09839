//! Limits per network address that must hold across server processes: the count lives in the
//! database, and the check and the write it guards happen in one transaction, one request
//! for an address at a time.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend};

use crate::Result;
use crate::raw::statement;

/// What an address is limited in; each kind is locked apart from the others.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AddressLimit {
    Comments = 1,
    SubscribeConfirmations = 2,
    SignInLinks = 3,
}

/// Holds, until `txn` ends, the lock for `address` and `limit`: a second request from the
/// same address waits here instead of counting alongside and passing a limit the first is
/// about to reach. PostgreSQL takes a transaction-scoped advisory lock (keyed on a stable
/// hash of the address, so every process agrees). SQLite lets one writer in at a time: a
/// write that changes nothing takes that turn now, before the count is read, so two
/// transactions never count side by side.
pub(crate) async fn lock_address(
    txn: &DatabaseTransaction,
    limit: AddressLimit,
    address: &str,
) -> Result<()> {
    let backend = txn.get_database_backend();
    if backend != DbBackend::Postgres {
        txn.execute_unprepared(
            "UPDATE site_state SET content_version = content_version WHERE id = 1",
        )
        .await?;
        return Ok(());
    }
    txn.execute_raw(statement(
        backend,
        "SELECT pg_advisory_xact_lock($1, $2)",
        vec![(limit as i32).into(), address_key(address).into()],
    ))
    .await?;
    Ok(())
}

/// [`lock_address`] for each of `addresses` in one transaction, in the order of their keys:
/// two processes locking overlapping sets then wait for each other instead of deadlocking.
/// PostgreSQL only: SQLite's transactions that write already hold its one write lock.
pub(crate) async fn lock_addresses(
    txn: &DatabaseTransaction,
    limit: AddressLimit,
    addresses: &[&str],
) -> Result<()> {
    let backend = txn.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(());
    }
    let mut keys: Vec<i32> = addresses.iter().map(|a| address_key(a)).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        txn.execute_raw(statement(
            backend,
            "SELECT pg_advisory_xact_lock($1, $2)",
            vec![(limit as i32).into(), key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// FNV-1a, folded to 32 bits: the same in every process and every build, unlike std's hasher.
fn address_key(address: &str) -> i32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in address.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let folded = ((hash ^ (hash >> 32)) & 0xFFFF_FFFF) as u32;
    i32::from_ne_bytes(folded.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::address_key;

    #[test]
    fn an_address_always_gets_the_same_key() {
        assert_eq!(address_key("203.0.113.9"), address_key("203.0.113.9"));
        assert_ne!(address_key("203.0.113.9"), address_key("203.0.113.10"));
    }
}
