//! A server-side copy shares its source's pieces (same root piece id, keys re-wrapped),
//! so before pieces are queued for deletion the satellite asks whether a segment of
//! another object still names their root. This index answers that without a scan.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Segments {
    Table,
    RootPieceId,
}

const INDEX: &str = "segments_root_piece_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Segments::Table)
                    .col(Segments::RootPieceId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Segments::Table).to_owned())
            .await
    }
}
