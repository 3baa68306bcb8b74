//! Console sessions: short-lived JWTs that each name a session row.
//!
//! The token alone is not enough: the row must still exist, so logging out or changing
//! the password ends a session at once rather than when its token expires.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uplink_core::protocol::now_unix;

use crate::db::Db;
use crate::db::entities::{session, user};
use crate::error::{Result, SatelliteError};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// User id.
    sub: String,
    /// Session id.
    sid: String,
    iat: i64,
    exp: i64,
}

/// A checked session and its user.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub user: user::Model,
}

/// A new session's token, for the client.
#[derive(Clone, Debug)]
pub struct IssuedSession {
    pub token: String,
    pub expires_at: i64,
}

#[derive(Clone)]
pub struct SessionSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: i64,
}

impl std::fmt::Debug for SessionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSigner")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

fn ended() -> SatelliteError {
    SatelliteError::Unauthenticated("your session has ended; log in again".into())
}

impl SessionSigner {
    pub fn new(secret: &[u8], ttl: std::time::Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs: ttl.as_secs().max(1) as i64,
        }
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Records a session for the user and returns its token.
    pub async fn issue(&self, db: &Db, user_id: &str) -> Result<IssuedSession> {
        let now = now_unix();
        let row = session::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            user_id: Set(user_id.to_string()),
            created_at: Set(now),
            expires_at: Set(now + self.ttl_secs),
        }
        .insert(db)
        .await?;
        let claims = Claims {
            sub: user_id.to_string(),
            sid: row.id,
            iat: now,
            exp: row.expires_at,
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
                .map_err(|e| SatelliteError::Internal(format!("signing a session token: {e}")))?;
        Ok(IssuedSession {
            token,
            expires_at: row.expires_at,
        })
    }

    /// The live session a token names.
    pub async fn check(&self, db: &Db, token: &str) -> Result<Session> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ended(),
                _ => SatelliteError::Unauthenticated("invalid session token".into()),
            })?
            .claims;
        let row = session::Entity::find_by_id(claims.sid.clone())
            .one(db)
            .await?
            .filter(|s| s.user_id == claims.sub && s.expires_at > now_unix())
            .ok_or_else(ended)?;
        let user = user::Entity::find_by_id(row.user_id.clone())
            .one(db)
            .await?
            .ok_or_else(ended)?;
        Ok(Session { id: row.id, user })
    }

    pub async fn end(&self, db: &Db, session_id: &str) -> Result<()> {
        session::Entity::delete_by_id(session_id.to_string())
            .exec(db)
            .await?;
        Ok(())
    }

    /// Ends every session of a user (and drops expired rows of everyone on the way).
    pub async fn end_all(&self, db: &Db, user_id: &str) -> Result<()> {
        session::Entity::delete_many()
            .filter(
                session::Column::UserId
                    .eq(user_id)
                    .or(session::Column::ExpiresAt.lte(now_unix())),
            )
            .exec(db)
            .await?;
        Ok(())
    }
}
