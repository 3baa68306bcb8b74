//! A multipart upload's parts each have an ETag that S3 clients send back when they
//! complete the upload. The uplink seals it (the satellite never sees it) and it rides on
//! the last segment of its part, so that it lives and dies with the part's data and
//! needs no table of its own.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Segments {
    Table,
    EncryptedEtag,
    EncryptedEtagNonce,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [Segments::EncryptedEtag, Segments::EncryptedEtagNonce] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Segments::Table)
                        .add_column(ColumnDef::new(column).binary().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Segments::EncryptedEtagNonce, Segments::EncryptedEtag] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Segments::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
