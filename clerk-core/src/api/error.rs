// Why a Backend API call failed, with Clerk's error body.
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::decode;
use crate::api::transport::Failure;

/// Why a Backend API call failed. Never carries the secret key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// An id, slug or template name not safe in a path: no call was made.
    #[error("invalid {0}: no Backend API call made")]
    InvalidInput(&'static str),
    /// No secret key is configured.
    #[error("no secret key configured for the Backend API")]
    NotConfigured,
    /// Clerk answered with an error status (other than 429): the status,
    /// Clerk's `errors[]` and `clerk_trace_id`.
    #[error("the Backend API answered {status}{}", first_error(errors))]
    #[non_exhaustive]
    Clerk {
        /// The HTTP status.
        status: u16,
        /// Clerk's errors, first the main one.
        errors: Vec<ErrorDetail>,
        /// Clerk's trace id (from the body, else its header).
        trace_id: Option<String>,
    },
    /// A 429, or no call made because the process's Backend API budget is
    /// spent or calls are paused after a 429: retry after this long.
    #[error("rate limited by the Backend API; retry after {}s", .retry_after.as_secs())]
    RateLimited {
        /// When a call may be made again.
        retry_after: Duration,
        /// Clerk's trace id, when a 429 carried one.
        trace_id: Option<String>,
    },
    /// Timeout or connection failure (a read was tried twice).
    #[error("the Backend API cannot be reached")]
    Unreachable,
    /// A success whose body is not what the endpoint documents.
    #[error("unexpected response from the Backend API")]
    InvalidResponse,
}

impl ApiError {
    /// The HTTP status: Clerk's, or 429 for [`ApiError::RateLimited`]
    /// (also when the pause after an earlier 429 kept the call from being
    /// made).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Clerk { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Clerk's first error code (`errors[0].code`, e.g.
    /// `resource_not_found`, `form_identifier_exists`).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Clerk { errors, .. } => errors.first().map(|e| e.code.as_str()),
            _ => None,
        }
    }

    /// Whether the record asked for does not exist, as the directory reads
    /// it: no call for an id of the wrong shape, or Clerk's 400, 404 or
    /// 422 for it (a record that is gone is never served stale).
    pub(crate) fn is_gone(&self) -> bool {
        matches!(
            self,
            Self::InvalidInput(_)
                | Self::Clerk {
                    status: 400 | 404 | 422,
                    ..
                }
        )
    }

    /// What a cache may keep of this error: for Clerk's answer its status
    /// and first error's code and message, not its details or trace id (a
    /// cached answer would repeat another call's trace id, and hold up to
    /// a whole error body per entry).
    pub(crate) fn trimmed(self) -> Self {
        match self {
            Self::Clerk { status, errors, .. } => Self::Clerk {
                status,
                errors: errors
                    .into_iter()
                    .take(1)
                    .map(|e| ErrorDetail {
                        code: e.code,
                        message: e.message,
                        ..ErrorDetail::default()
                    })
                    .collect(),
                trace_id: None,
            },
            other => other,
        }
    }

    /// Clerk's trace id (`clerk_trace_id`), to quote to Clerk's support.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Self::Clerk { trace_id, .. } => trace_id.as_deref(),
            Self::RateLimited { trace_id, .. } => trace_id.as_deref(),
            _ => None,
        }
    }
}

/// ` (code): message` of Clerk's first error, for the display.
fn first_error(errors: &[ErrorDetail]) -> String {
    errors
        .first()
        .map(|e| format!(" ({}): {}", e.code, e.message))
        .unwrap_or_default()
}

/// One of Clerk's errors.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// A stable code, e.g. `resource_not_found`.
    pub code: String,
    /// A short message.
    pub message: String,
    /// A longer message.
    pub long_message: Option<String>,
    /// Details, e.g. `{"param_name": "email_address"}`.
    pub meta: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    errors: Vec<ErrorDetail>,
    clerk_trace_id: Option<String>,
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Refused(refusal) => Self::RateLimited {
                retry_after: refusal.wait(),
                trace_id: None,
            },
            Failure::Status {
                status,
                retry_after,
                trace_id,
                body,
            } => {
                let parsed: ErrorBody = decode(&body).unwrap_or_default();
                let trace_id = parsed
                    .clerk_trace_id
                    .filter(|t| t.len() <= 128)
                    .or(trace_id);
                if status == 429 {
                    return Self::RateLimited {
                        retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
                        trace_id,
                    };
                }
                Self::Clerk {
                    status,
                    errors: parsed.errors,
                    trace_id,
                }
            }
            Failure::Unreachable => Self::Unreachable,
            Failure::TooLarge => Self::InvalidResponse,
        }
    }
}
