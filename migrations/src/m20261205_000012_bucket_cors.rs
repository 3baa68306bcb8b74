//! A bucket's cross-origin rules (S3's CORS configuration) live beside the bucket, as
//! JSON: bucket configuration that the gateways read on behalf of browsers, not object
//! data, and public in effect (any preflight shows what they allow).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Buckets {
    Table,
    Cors,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Buckets::Table)
                    .add_column(ColumnDef::new(Buckets::Cors).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Buckets::Table)
                    .drop_column(Buckets::Cors)
                    .to_owned(),
            )
            .await
    }
}
