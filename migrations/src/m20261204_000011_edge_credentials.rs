//! Credentials of the hosted edge services (S3 gateway and share links): each row is a
//! registered access grant sealed under a key derived from its access key id, and found
//! by a keyed hash of that id, so the table alone opens nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EdgeCredentials {
    Table,
    IdHash,
    SealedGrant,
    SealedGrantNonce,
    Public,
    ProjectId,
    CreatedAt,
    NotAfter,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EdgeCredentials::Table)
                    .col(
                        ColumnDef::new(EdgeCredentials::IdHash)
                            .binary()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(EdgeCredentials::SealedGrant)
                            .binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EdgeCredentials::SealedGrantNonce)
                            .binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(EdgeCredentials::Public).boolean().not_null())
                    .col(
                        ColumnDef::new(EdgeCredentials::ProjectId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EdgeCredentials::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EdgeCredentials::NotAfter)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EdgeCredentials::Table).to_owned())
            .await
    }
}
