//! Segment positions become (part, index), stored as one 64-bit integer
//! (`part << 32 | index`), so that multipart uploads can address their segments. A
//! position stored before is index only, part 0: the same number, so rows stay as they
//! are and only the columns widen. SQLite's integers are 64-bit already.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Segments {
    Table,
    Position,
}

#[derive(DeriveIden)]
enum RepairQueue {
    Table,
    Position,
}

#[derive(DeriveIden)]
enum Containment {
    Table,
    Position,
}

async fn set_type(manager: &SchemaManager<'_>, wide: bool) -> Result<(), DbErr> {
    if manager.get_database_backend() == DatabaseBackend::Sqlite {
        return Ok(());
    }
    let column = |name: DynIden| {
        let mut c = ColumnDef::new(name);
        if wide {
            c.big_integer();
        } else {
            c.integer();
        }
        c.not_null().to_owned()
    };
    for (table, name) in [
        (Segments::Table.into_iden(), Segments::Position.into_iden()),
        (
            RepairQueue::Table.into_iden(),
            RepairQueue::Position.into_iden(),
        ),
        (
            Containment::Table.into_iden(),
            Containment::Position.into_iden(),
        ),
    ] {
        manager
            .alter_table(
                Table::alter()
                    .table(table)
                    .modify_column(column(name))
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_type(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_type(manager, false).await
    }
}
