//! Accounts, console sessions, project membership and limits, revoked API keys, and
//! monthly egress counters.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    FullName,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    EmailHash,
    Failures,
    LastFailureAt,
    LockedUntil,
}

#[derive(DeriveIden)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    OwnerId,
    Description,
    MaxBuckets,
    MaxStorageBytes,
    MaxEgressBytes,
    MaxSegments,
    MaxRequestsPerSecond,
}

#[derive(DeriveIden)]
enum Revocations {
    Table,
    Tail,
    ApiKeyId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectEgress {
    Table,
    ProjectId,
    Month,
    Bytes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).string().not_null().primary_key())
                    .col(
                        ColumnDef::new(Users::Email)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Users::FullName).string().not_null())
                    .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                    .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(
                        ColumnDef::new(Sessions::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Sessions::UserId).string().not_null())
                    .col(ColumnDef::new(Sessions::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::ExpiresAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginFailures::Table)
                    .col(
                        ColumnDef::new(LoginFailures::EmailHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginFailures::Failures).integer().not_null())
                    .col(
                        ColumnDef::new(LoginFailures::LastFailureAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LoginFailures::LockedUntil).big_integer())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProjectMembers::Table)
                    .col(
                        ColumnDef::new(ProjectMembers::ProjectId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ProjectMembers::UserId).string().not_null())
                    .col(ColumnDef::new(ProjectMembers::Role).string().not_null())
                    .col(
                        ColumnDef::new(ProjectMembers::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ProjectMembers::ProjectId)
                            .col(ProjectMembers::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("project_members_user")
                    .table(ProjectMembers::Table)
                    .col(ProjectMembers::UserId)
                    .to_owned(),
            )
            .await?;
        // SQLite alters one column per statement.
        let new_columns = [
            ColumnDef::new(Projects::OwnerId).string().to_owned(),
            ColumnDef::new(Projects::Description)
                .string()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new(Projects::MaxBuckets)
                .big_integer()
                .to_owned(),
            ColumnDef::new(Projects::MaxStorageBytes)
                .big_integer()
                .to_owned(),
            ColumnDef::new(Projects::MaxEgressBytes)
                .big_integer()
                .to_owned(),
            ColumnDef::new(Projects::MaxSegments)
                .big_integer()
                .to_owned(),
            ColumnDef::new(Projects::MaxRequestsPerSecond)
                .big_integer()
                .to_owned(),
        ];
        for mut column in new_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Projects::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Revocations::Table)
                    .col(
                        ColumnDef::new(Revocations::Tail)
                            .binary()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Revocations::ApiKeyId).string().not_null())
                    .col(
                        ColumnDef::new(Revocations::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("revocations_api_key")
                    .table(Revocations::Table)
                    .col(Revocations::ApiKeyId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProjectEgress::Table)
                    .col(ColumnDef::new(ProjectEgress::ProjectId).string().not_null())
                    .col(ColumnDef::new(ProjectEgress::Month).string().not_null())
                    .col(
                        ColumnDef::new(ProjectEgress::Bytes)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ProjectEgress::ProjectId)
                            .col(ProjectEgress::Month),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProjectEgress::Table.into_iden(),
            Revocations::Table.into_iden(),
            ProjectMembers::Table.into_iden(),
            LoginFailures::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [
            Projects::OwnerId.into_iden(),
            Projects::Description.into_iden(),
            Projects::MaxBuckets.into_iden(),
            Projects::MaxStorageBytes.into_iden(),
            Projects::MaxEgressBytes.into_iden(),
            Projects::MaxSegments.into_iden(),
            Projects::MaxRequestsPerSecond.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Projects::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
