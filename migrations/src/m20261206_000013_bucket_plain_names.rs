//! A bucket may keep its object names in clear. The tag its creator made with the
//! bucket's key is kept beside it: the satellite cannot make one, so it cannot talk a
//! client into sending the names of an encrypted bucket in clear.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Buckets {
    Table,
    PlainNamesTag,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Buckets::Table)
                    .add_column(ColumnDef::new(Buckets::PlainNamesTag).binary().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Buckets::Table)
                    .drop_column(Buckets::PlainNamesTag)
                    .to_owned(),
            )
            .await
    }
}
