//! Projects, API keys, buckets, objects, segments, the node registry and the queue of
//! pieces to delete on nodes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Name,
    Salt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    ProjectId,
    Name,
    Head,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Buckets {
    Table,
    ProjectId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Objects {
    Table,
    Id,
    ProjectId,
    BucketName,
    ObjectKey,
    Status,
    CreatedAt,
    CommittedAt,
    ExpiresAt,
    ZombieDeadline,
    PlainSize,
    SegmentCount,
    EncryptedMetadata,
    EncryptedMetadataNonce,
}

#[derive(DeriveIden)]
enum Segments {
    Table,
    ObjectId,
    Position,
    RootPieceId,
    EncryptedKey,
    EncryptedKeyNonce,
    PlainOffset,
    PlainSize,
    PieceSize,
    RsK,
    RsRepair,
    RsOptimal,
    RsTotal,
    RsShareSize,
    InlineData,
    Pieces,
    CreatedAt,
    ExpiresAt,
    RepairedAt,
}

#[derive(DeriveIden)]
enum Nodes {
    Table,
    Id,
    PublicKey,
    Address,
    LastNet,
    FreeBytes,
    UsedBytes,
    Version,
    CreatedAt,
    LastContactSuccess,
    LastContactFailure,
    VettedAt,
    DisqualifiedAt,
    SuspendedAt,
    ExitInitiatedAt,
}

#[derive(DeriveIden)]
enum PieceDeletions {
    Table,
    Id,
    NodeId,
    PieceId,
    CreatedAt,
    Attempts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Projects::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Projects::Name).string().not_null())
                    .col(ColumnDef::new(Projects::Salt).binary().not_null())
                    .col(ColumnDef::new(Projects::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ApiKeys::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ApiKeys::ProjectId).string().not_null())
                    .col(ColumnDef::new(ApiKeys::Name).string().not_null())
                    .col(
                        ColumnDef::new(ApiKeys::Head)
                            .binary()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ApiKeys::Secret).binary().not_null())
                    .col(ColumnDef::new(ApiKeys::CreatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Buckets::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Buckets::ProjectId).string().not_null())
                    .col(ColumnDef::new(Buckets::Name).string().not_null())
                    .col(ColumnDef::new(Buckets::CreatedAt).big_integer().not_null())
                    .primary_key(Index::create().col(Buckets::ProjectId).col(Buckets::Name))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Buckets::Table, Buckets::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Objects::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Objects::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Objects::ProjectId).string().not_null())
                    .col(ColumnDef::new(Objects::BucketName).string().not_null())
                    .col(ColumnDef::new(Objects::ObjectKey).binary().not_null())
                    .col(ColumnDef::new(Objects::Status).small_integer().not_null())
                    .col(ColumnDef::new(Objects::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Objects::CommittedAt).big_integer())
                    .col(ColumnDef::new(Objects::ExpiresAt).big_integer())
                    .col(ColumnDef::new(Objects::ZombieDeadline).big_integer())
                    .col(ColumnDef::new(Objects::PlainSize).big_integer().not_null())
                    .col(ColumnDef::new(Objects::SegmentCount).integer().not_null())
                    .col(ColumnDef::new(Objects::EncryptedMetadata).binary())
                    .col(ColumnDef::new(Objects::EncryptedMetadataNonce).binary())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("objects_by_key")
                    .table(Objects::Table)
                    .col(Objects::ProjectId)
                    .col(Objects::BucketName)
                    .col(Objects::ObjectKey)
                    .to_owned(),
            )
            .await?;
        // At most one committed version per key. A partial unique index is spelled the
        // same way in SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS objects_committed_key \
                 ON objects (project_id, bucket_name, object_key) WHERE status = 2",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("objects_by_zombie_deadline")
                    .table(Objects::Table)
                    .col(Objects::ZombieDeadline)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("objects_by_expiry")
                    .table(Objects::Table)
                    .col(Objects::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Segments::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Segments::ObjectId).string().not_null())
                    .col(ColumnDef::new(Segments::Position).integer().not_null())
                    .col(ColumnDef::new(Segments::RootPieceId).binary())
                    .col(ColumnDef::new(Segments::EncryptedKey).binary().not_null())
                    .col(
                        ColumnDef::new(Segments::EncryptedKeyNonce)
                            .binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Segments::PlainOffset)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Segments::PlainSize).big_integer().not_null())
                    .col(ColumnDef::new(Segments::PieceSize).big_integer().not_null())
                    .col(ColumnDef::new(Segments::RsK).small_integer().not_null())
                    .col(
                        ColumnDef::new(Segments::RsRepair)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Segments::RsOptimal)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Segments::RsTotal).small_integer().not_null())
                    .col(ColumnDef::new(Segments::RsShareSize).integer().not_null())
                    .col(ColumnDef::new(Segments::InlineData).binary())
                    .col(ColumnDef::new(Segments::Pieces).binary().not_null())
                    .col(ColumnDef::new(Segments::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Segments::ExpiresAt).big_integer())
                    .col(ColumnDef::new(Segments::RepairedAt).big_integer())
                    .primary_key(
                        Index::create()
                            .col(Segments::ObjectId)
                            .col(Segments::Position),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Segments::Table, Segments::ObjectId)
                            .to(Objects::Table, Objects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Nodes::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Nodes::Id).binary().not_null().primary_key())
                    .col(ColumnDef::new(Nodes::PublicKey).binary().not_null())
                    .col(ColumnDef::new(Nodes::Address).string().not_null())
                    .col(ColumnDef::new(Nodes::LastNet).string().not_null())
                    .col(ColumnDef::new(Nodes::FreeBytes).big_integer().not_null())
                    .col(ColumnDef::new(Nodes::UsedBytes).big_integer().not_null())
                    .col(ColumnDef::new(Nodes::Version).string().not_null())
                    .col(ColumnDef::new(Nodes::CreatedAt).big_integer().not_null())
                    .col(
                        ColumnDef::new(Nodes::LastContactSuccess)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Nodes::LastContactFailure).big_integer())
                    .col(ColumnDef::new(Nodes::VettedAt).big_integer())
                    .col(ColumnDef::new(Nodes::DisqualifiedAt).big_integer())
                    .col(ColumnDef::new(Nodes::SuspendedAt).big_integer())
                    .col(ColumnDef::new(Nodes::ExitInitiatedAt).big_integer())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PieceDeletions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(PieceDeletions::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PieceDeletions::NodeId).binary().not_null())
                    .col(ColumnDef::new(PieceDeletions::PieceId).binary().not_null())
                    .col(
                        ColumnDef::new(PieceDeletions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PieceDeletions::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("piece_deletions_by_node")
                    .table(PieceDeletions::Table)
                    .col(PieceDeletions::NodeId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PieceDeletions::Table.into_iden(),
            Nodes::Table.into_iden(),
            Segments::Table.into_iden(),
            Objects::Table.into_iden(),
            Buckets::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Projects::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
