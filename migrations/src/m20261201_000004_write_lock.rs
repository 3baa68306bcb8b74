//! An empty table whose only use is to be written to first in every SQLite write
//! transaction. SQLite's deferred transactions take the write lock at their first
//! write; one that reads first and writes later fails with `SQLITE_BUSY_SNAPSHOT` when
//! another writer committed in between, and no busy timeout waits that out. Writing
//! here first (a `DELETE ... WHERE 0` that changes nothing) takes the lock up front,
//! which is `BEGIN IMMEDIATE` in effect, so concurrent writers queue instead of failing.
//! PostgreSQL never touches it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WriteLock {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WriteLock::Table)
                    .col(
                        ColumnDef::new(WriteLock::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WriteLock::Table).to_owned())
            .await
    }
}
