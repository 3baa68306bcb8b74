//! Live per-project counters of stored bytes and segments, kept in the same
//! transactions that add and remove segments, so that limit checks read one row instead
//! of aggregating a project's whole metadata. Filled from existing segments.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProjectUsage {
    Table,
    ProjectId,
    StorageBytes,
    Segments,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProjectUsage::Table)
                    .col(
                        ColumnDef::new(ProjectUsage::ProjectId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ProjectUsage::StorageBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ProjectUsage::Segments)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO project_usage (project_id, storage_bytes, segments) \
                 SELECT o.project_id, COALESCE(SUM(s.plain_size), 0), COUNT(*) \
                 FROM segments s JOIN objects o ON o.id = s.object_id \
                 GROUP BY o.project_id",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProjectUsage::Table).to_owned())
            .await
    }
}
