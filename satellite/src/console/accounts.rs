//! Sign-up, login with throttling of repeated failures, and password changes.
//!
//! Login answers the same way whether or not an email has an account: same message,
//! same work (an Argon2 verification against a dummy hash), same throttling.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use uplink_core::protocol::now_unix;

use super::passwords;
use super::sessions::{IssuedSession, Session, SessionSigner};
use crate::db::Db;
use crate::db::entities::{login_failure, user};
use crate::error::{Result, SatelliteError, is_unique_violation};

/// The longest a repeatedly failing email is locked out.
const MAX_LOCKOUT_SECS: i64 = 15 * 60;

#[derive(Clone, Debug)]
pub struct Accounts {
    db: Db,
    sessions: SessionSigner,
    failures_before_lockout: u32,
    /// A real Argon2id hash of a random password, verified against when an email has
    /// no account so that both cases cost the same.
    dummy_hash: String,
}

#[derive(Debug)]
pub struct LoginOutcome {
    pub user: user::Model,
    pub session: IssuedSession,
}

/// The longest email address (RFC 5321's path limit less the angle brackets).
const MAX_EMAIL_BYTES: usize = 254;

/// Trims and lowercases an email address, refusing anything that is not plainly one:
/// control characters (NUL included) or whitespace anywhere, not exactly one `@`, an
/// empty name part, a domain without a dot or with an empty label, more than 254 bytes.
fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_BYTES
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && domain.split('.').all(|label| !label.is_empty())
        });
    if !valid {
        return Err(SatelliteError::BadRequest(
            "enter a valid email address, like name@example.com".into(),
        ));
    }
    Ok(email)
}

fn email_hash(email: &str) -> String {
    hex::encode(Sha256::digest(email.as_bytes()))
}

fn invalid_login() -> SatelliteError {
    SatelliteError::Unauthenticated("invalid email or password".into())
}

impl Accounts {
    pub async fn new(
        db: Db,
        sessions: SessionSigner,
        failures_before_lockout: u32,
    ) -> Result<Self> {
        let random = hex::encode(crate::projects::random::<16>());
        Ok(Self {
            db,
            sessions,
            failures_before_lockout: failures_before_lockout.max(1),
            dummy_hash: passwords::hash(&random).await?,
        })
    }

    pub fn sessions(&self) -> &SessionSigner {
        &self.sessions
    }

    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        full_name: &str,
    ) -> Result<LoginOutcome> {
        let email = normalize_email(email)?;
        passwords::validate(password, &email)?;
        let full_name = full_name.trim();
        if full_name.chars().count() > 100 {
            return Err(SatelliteError::BadRequest(
                "the name must be at most 100 characters".into(),
            ));
        }
        let user = user::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            email: Set(email),
            full_name: Set(full_name.to_string()),
            password_hash: Set(passwords::hash(password).await?),
            created_at: Set(now_unix()),
            is_admin: Set(false),
        }
        .insert(&self.db)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                SatelliteError::Conflict(
                    "an account with this email already exists; log in instead".into(),
                )
            } else {
                e.into()
            }
        })?;
        let session = self.sessions.issue(&self.db, &user.id).await?;
        Ok(LoginOutcome { user, session })
    }

    /// The email's recent failures, refusing the attempt while it is locked out.
    /// Failures older than the longest lockout are forgotten.
    async fn throttle(&self, key: &str, now: i64) -> Result<Option<login_failure::Model>> {
        let failures = login_failure::Entity::find_by_id(key.to_string())
            .one(&self.db)
            .await?;
        if let Some(locked_until) = failures.as_ref().and_then(|f| f.locked_until)
            && locked_until > now
        {
            return Err(SatelliteError::TooManyRequests(format!(
                "too many failed attempts; try again in {} seconds",
                locked_until - now
            )));
        }
        match failures {
            Some(f) if now - f.last_failure_at > MAX_LOCKOUT_SECS => {
                login_failure::Entity::delete_by_id(key.to_string())
                    .exec(&self.db)
                    .await?;
                Ok(None)
            }
            other => Ok(other),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<LoginOutcome> {
        // Before anything else, and alike for every email: an over-long password is
        // never hashed, and the answer says nothing about the account.
        passwords::check_length(password)?;
        let email = email.trim().to_lowercase();
        let key = email_hash(&email);
        let now = now_unix();
        let failures = self.throttle(&key, now).await?;
        let account = user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await?;
        let stored = account
            .as_ref()
            .map_or(self.dummy_hash.as_str(), |u| u.password_hash.as_str());
        let matches = passwords::verify(password, stored).await?;
        match account {
            Some(user) if matches => {
                if failures.is_some() {
                    login_failure::Entity::delete_by_id(key)
                        .exec(&self.db)
                        .await?;
                }
                let session = self.sessions.issue(&self.db, &user.id).await?;
                Ok(LoginOutcome { user, session })
            }
            _ => {
                self.record_failure(key, failures, now).await?;
                Err(invalid_login())
            }
        }
    }

    /// Counts a failure; from the threshold on, each failure locks the email out for
    /// twice as long as the last (1 s, 2 s, 4 s, ... up to 15 minutes).
    async fn record_failure(
        &self,
        key: String,
        previous: Option<login_failure::Model>,
        now: i64,
    ) -> Result<()> {
        let count = previous.as_ref().map_or(0, |f| f.failures) + 1;
        let over = count - self.failures_before_lockout as i32;
        let locked_until = (over >= 0).then(|| now + (1i64 << over.min(20)).min(MAX_LOCKOUT_SECS));
        let model = login_failure::ActiveModel {
            email_hash: Set(key),
            failures: Set(count),
            last_failure_at: Set(now),
            locked_until: Set(locked_until),
        };
        if previous.is_some() {
            model.update(&self.db).await?;
        } else {
            match model.insert(&self.db).await {
                Ok(_) => {}
                // A concurrent failure inserted first; counting one less is harmless.
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub async fn logout(&self, session: &Session) -> Result<()> {
        self.sessions.end(&self.db, &session.id).await
    }

    /// Changes the password, ends every session of the user, and starts a new one.
    pub async fn change_password(
        &self,
        session: &Session,
        current: &str,
        new: &str,
    ) -> Result<LoginOutcome> {
        // Neither password is hashed before its length is checked.
        passwords::check_length(current)?;
        passwords::validate(new, &session.user.email)?;
        // Guessing the password through a stolen session is throttled like logins.
        let key = email_hash(&session.user.email);
        let now = now_unix();
        let failures = self.throttle(&key, now).await?;
        if !passwords::verify(current, &session.user.password_hash).await? {
            self.record_failure(key, failures, now).await?;
            return Err(SatelliteError::PermissionDenied(
                "the current password is wrong".into(),
            ));
        }
        let mut active: user::ActiveModel = session.user.clone().into();
        active.password_hash = Set(passwords::hash(new).await?);
        let user = active.update(&self.db).await?;
        self.sessions.end_all(&self.db, &user.id).await?;
        let session = self.sessions.issue(&self.db, &user.id).await?;
        Ok(LoginOutcome { user, session })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL_BYTES - 11));
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@.com",
            "ann@example.com.",
            "ann@example..com",
            "ann@b@example.com",
            "ann\0@example.com",
            "ann@example.com\0",
            "ann\u{7f}@example.com",
            "ann\t@example.com",
            "ann\u{2028}@example.com",
            "ann@exa\u{85}mple.com",
            long.as_str(),
        ] {
            assert!(
                matches!(normalize_email(bad), Err(SatelliteError::BadRequest(_))),
                "{bad:?}"
            );
        }
        assert_eq!(long.len(), MAX_EMAIL_BYTES + 1);
        let longest = &long[1..];
        assert_eq!(normalize_email(longest).unwrap(), longest);
    }
}
