//! What can go wrong during a sign-in, worded twice: `Display` for the operator's log
//! (with detail, never a secret or a token), `title`/`explanation` for the reader's page.

/// Why a sign-in did not produce a [`Profile`](crate::Profile).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The person pressed "Cancel"/"Deny" at the provider (`error=access_denied`).
    #[error("the user denied the sign-in at the provider")]
    Denied,
    /// The callback's `state` is missing or differs from the one this browser started with.
    #[error("the callback's state does not match the sign-in started in this browser")]
    StateMismatch,
    /// More than [`SIGN_IN_TTL_SECS`](crate::SIGN_IN_TTL_SECS) passed between `start` and `finish`.
    #[error("the sign-in was started too long ago")]
    Expired,
    /// The provider refused the authorization code (reused, expired, or not ours).
    #[error("the provider rejected the authorization code: {0}")]
    CodeRejected(String),
    /// The provider could not be reached, timed out, or answered with a 5xx/429.
    #[error("the provider is unavailable: {0}")]
    ProviderUnavailable(String),
    /// The ID token failed validation (signature, issuer, audience, expiry, nonce) or the
    /// access token was refused when fetching the profile.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The provider answered, but not with something we could use (an error code other than
    /// `access_denied`, a callback without a code, an unparseable profile).
    #[error("the provider reported an error: {0}")]
    ProviderError(String),
    /// The configuration is wrong; the message names the key (`auth.providers.<name>.<key>`).
    #[error("{0}")]
    Misconfigured(String),
}

impl AuthError {
    /// A short heading for the page a reader sees.
    pub fn title(&self) -> &'static str {
        match self {
            AuthError::Denied => "Sign-in was cancelled",
            AuthError::StateMismatch => "This sign-in could not be matched to your browser",
            AuthError::Expired => "This sign-in link has expired",
            AuthError::CodeRejected(_) => "This sign-in link was already used",
            AuthError::ProviderUnavailable(_) => "The sign-in service is not answering",
            AuthError::InvalidToken(_) => "The sign-in could not be verified",
            AuthError::ProviderError(_) => "The sign-in service reported a problem",
            AuthError::Misconfigured(_) => "Sign-in is not set up correctly",
        }
    }

    /// One or two sentences a reader understands. Never contains provider bodies or secrets.
    pub fn explanation(&self) -> String {
        let text = match self {
            AuthError::Denied => {
                "You cancelled the sign-in, so you are not signed in. You can try again \
                 whenever you like, or pick another way to sign in."
            }
            AuthError::StateMismatch => {
                "The answer from the sign-in service did not belong to a sign-in started in \
                 this browser. This can happen if you used the back button, opened the link in \
                 another browser, or blocked cookies; please start the sign-in again."
            }
            AuthError::Expired => {
                "A sign-in has to be finished within 10 minutes of starting it. Please start \
                 again."
            }
            AuthError::CodeRejected(_) => {
                "The sign-in service no longer accepts this sign-in, usually because the page \
                 was reloaded or opened twice. Please start again."
            }
            AuthError::ProviderUnavailable(_) => {
                "We could not reach the sign-in service, or it did not answer in time. Please \
                 try again in a few minutes."
            }
            AuthError::InvalidToken(_) => {
                "The answer from the sign-in service failed our security checks, so you are \
                 not signed in. Please try again; if it keeps happening, tell the site's owner."
            }
            AuthError::ProviderError(_) => {
                "The sign-in service could not complete the sign-in. Please try again later, \
                 or pick another way to sign in."
            }
            AuthError::Misconfigured(_) => {
                "This way of signing in is not configured correctly on this site. Please pick \
                 another way to sign in; the site's owner can find the details in the logs."
            }
        };
        text.to_owned()
    }
}
