//! OpenID Connect providers (Google, GitLab, any issuer): discovery on first use, cached;
//! ID-token validation by `openidconnect`; the JWKS fetched again when a token names a key
//! we do not have (key rotation).

use std::sync::{Arc, RwLock};

use oauth2::{
    AuthUrl, AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, TokenUrl,
};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdTokenClaims, CoreJsonWebKeySet,
    CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    ClaimsVerificationError, DiscoveryError, EmptyAdditionalClaims, IssuerUrl, Nonce,
    SignatureVerificationError, UserInfoError, UserInfoUrl,
};

use crate::http::HttpError;
use crate::{
    AuthError, PendingSignIn, Profile, Provider, ProviderConfig, ProviderKind, checked_url,
    key_error, token_error,
};

/// The claims a profile is made of, from either the ID token or the userinfo answer.
struct Extracted {
    login: Option<String>,
    name: Option<String>,
    picture: Option<String>,
    profile: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
}

/// `IdTokenClaims` and `StandardClaims` share these getters but no trait.
macro_rules! extract {
    ($c:expr) => {{
        let c = $c;
        Extracted {
            login: c
                .preferred_username()
                .map(|u| u.as_str().to_owned())
                .or_else(|| {
                    c.nickname()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str().to_owned())
                }),
            name: c
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            picture: c
                .picture()
                .and_then(|p| p.get(None))
                .map(|p| p.as_str().to_owned()),
            profile: c
                .profile()
                .and_then(|p| p.get(None))
                .map(|p| p.as_str().to_owned()),
            email: c.email().map(|e| e.as_str().to_owned()),
            email_verified: c.email_verified(),
        }
    }};
}

#[derive(Debug)]
pub(crate) struct Oidc {
    issuer: IssuerUrl,
    auth_url: Option<AuthUrl>,
    token_url: Option<TokenUrl>,
    userinfo_url: Option<UserInfoUrl>,
    metadata: RwLock<Option<Arc<CoreProviderMetadata>>>,
}

impl Oidc {
    pub(crate) fn new(name: &str, config: &ProviderConfig) -> Result<Self, AuthError> {
        let issuer = match (config.kind, &config.issuer) {
            (_, Some(issuer)) => issuer.clone(),
            (ProviderKind::Google, None) => "https://accounts.google.com".to_owned(),
            (ProviderKind::Gitlab, None) => "https://gitlab.com".to_owned(),
            (_, None) => {
                return Err(key_error(
                    name,
                    "issuer",
                    "is required for kind \"oidc\" (the URL discovery starts from)",
                ));
            }
        };
        let issuer = checked_url(name, "issuer", Some(&issuer))?.unwrap_or(issuer);
        let issuer = IssuerUrl::new(issuer).map_err(|e| key_error(name, "issuer", e))?;
        let auth_url = checked_url(name, "auth_url", config.auth_url.as_ref())?
            .map(AuthUrl::new)
            .transpose()
            .map_err(|e| key_error(name, "auth_url", e))?;
        let token_url = checked_url(name, "token_url", config.token_url.as_ref())?
            .map(TokenUrl::new)
            .transpose()
            .map_err(|e| key_error(name, "token_url", e))?;
        let userinfo_url = checked_url(name, "userinfo_url", config.userinfo_url.as_ref())?
            .map(UserInfoUrl::new)
            .transpose()
            .map_err(|e| key_error(name, "userinfo_url", e))?;
        Ok(Self {
            issuer,
            auth_url,
            token_url,
            userinfo_url,
            metadata: RwLock::new(None),
        })
    }

    fn cached(&self) -> Option<Arc<CoreProviderMetadata>> {
        self.metadata
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn store(&self, metadata: Arc<CoreProviderMetadata>) {
        *self
            .metadata
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(metadata);
    }
}

fn discovery_error(what: &str, error: DiscoveryError<HttpError>) -> AuthError {
    match error {
        DiscoveryError::Request(e) => AuthError::ProviderUnavailable(format!("{what}: {e}")),
        DiscoveryError::Response(status, _, _) if status.is_server_error() => {
            AuthError::ProviderUnavailable(format!("{what}: HTTP {status}"))
        }
        DiscoveryError::Response(status, _, _) => {
            AuthError::ProviderError(format!("{what}: HTTP {status}"))
        }
        DiscoveryError::Validation(message) => {
            AuthError::ProviderError(format!("{what}: {message} (check the configured issuer)"))
        }
        DiscoveryError::Parse(e) => AuthError::ProviderError(format!("{what}: {e}")),
        other => AuthError::ProviderError(format!("{what}: {other}")),
    }
}

impl Provider {
    /// Reads the discovery document now, so that a configuration the provider disagrees
    /// with is found at start. `Ok(Some(reason))`: the provider could not be reached, which
    /// may pass (discovery is tried again at first use); `Err`: the configuration is wrong.
    pub(crate) async fn check_oidc_discovery(
        &self,
        oidc: &Oidc,
    ) -> Result<Option<String>, AuthError> {
        match self.oidc_metadata(oidc).await {
            Ok(_) => Ok(None),
            Err(AuthError::ProviderUnavailable(reason)) => Ok(Some(reason)),
            Err(error) => Err(self.explain_discovery_failure(oidc, error).await),
        }
    }

    /// Discovery refused the document; most often the issuer it names differs from the
    /// configured one by a trailing slash or a path. Name the provider's own issuer.
    async fn explain_discovery_failure(&self, oidc: &Oidc, error: AuthError) -> AuthError {
        let configured = oidc.issuer.as_str();
        let url = format!(
            "{}/.well-known/openid-configuration",
            configured.trim_end_matches('/')
        );
        let named = self
            .http
            .get_public_json(&url)
            .await
            .ok()
            .and_then(|document| document.get("issuer")?.as_str().map(str::to_owned));
        match named {
            Some(real) if real != configured => key_error(
                &self.name,
                "issuer",
                format!(
                    "is {configured:?}, but the provider's discovery document ({url}) names its \
                     issuer {real:?}; ID tokens will carry that one, so set issuer = {real:?}"
                ),
            ),
            _ => key_error(&self.name, "issuer", error),
        }
    }

    /// The discovery document with our endpoint overrides applied, fetched once.
    async fn oidc_metadata(&self, oidc: &Oidc) -> Result<Arc<CoreProviderMetadata>, AuthError> {
        if let Some(metadata) = oidc.cached() {
            return Ok(metadata);
        }
        let mut metadata = CoreProviderMetadata::discover_async(oidc.issuer.clone(), &self.http)
            .await
            .map_err(|e| discovery_error("OpenID Connect discovery", e))?;
        if let Some(url) = &oidc.auth_url {
            metadata = metadata.set_authorization_endpoint(url.clone());
        }
        if let Some(url) = &oidc.token_url {
            metadata = metadata.set_token_endpoint(Some(url.clone()));
        }
        if let Some(url) = &oidc.userinfo_url {
            metadata = metadata.set_userinfo_endpoint(Some(url.clone()));
        }
        let metadata = Arc::new(metadata);
        oidc.store(metadata.clone());
        Ok(metadata)
    }

    fn oidc_client(
        &self,
        metadata: &CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointMaybeSet,
        oauth2::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            openidconnect::ClientId::new(self.client_id.clone()),
            self.client_secret
                .as_ref()
                .map(|s| openidconnect::ClientSecret::new(s.clone())),
        )
        .set_redirect_uri(self.redirect_url.clone())
    }

    pub(crate) async fn oidc_authorize_url(
        &self,
        oidc: &Oidc,
        state: &CsrfToken,
        challenge: PkceCodeChallenge,
    ) -> Result<(String, String), AuthError> {
        let metadata = self.oidc_metadata(oidc).await?;
        let client = self.oidc_client(&metadata);
        let state = state.clone();
        let nonce = Nonce::new_random();
        let nonce_for_url = nonce.clone();
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || state,
                move || nonce_for_url,
            )
            .add_scopes(self.scopes_without_openid())
            .set_pkce_challenge(challenge)
            .url();
        Ok((url.to_string(), nonce.secret().clone()))
    }

    pub(crate) async fn oidc_finish(
        &self,
        oidc: &Oidc,
        code: String,
        pending: PendingSignIn,
    ) -> Result<Profile, AuthError> {
        let Some(nonce) = pending.nonce.map(Nonce::new) else {
            return Err(AuthError::StateMismatch);
        };
        let mut metadata = self.oidc_metadata(oidc).await?;
        let client = self.oidc_client(&metadata);
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| AuthError::Misconfigured(format!("auth.providers.{}: {e}", self.name)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = openidconnect::TokenResponse::id_token(&token).ok_or_else(|| {
            AuthError::InvalidToken("the token response has no ID token".to_owned())
        })?;

        let verified = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .cloned();
        let claims: CoreIdTokenClaims = match verified {
            Ok(claims) => claims,
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider rotated its keys since we fetched them: fetch once more.
                let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
                    .await
                    .map_err(|e| discovery_error("fetching the provider's signing keys", e))?;
                let refreshed = Arc::new((*metadata).clone().set_jwks(jwks));
                oidc.store(refreshed.clone());
                metadata = refreshed;
                let client = self.oidc_client(&metadata);
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .cloned()
                    .map_err(|e| AuthError::InvalidToken(format!("ID token: {e}")))?
            }
            Err(e) => return Err(AuthError::InvalidToken(format!("ID token: {e}"))),
        };

        let userinfo = match metadata.userinfo_endpoint() {
            Some(_) => self
                .oidc_userinfo(&client, &token, &claims)
                .await
                .map_err(|e| {
                    // The ID token already says who this is; the profile is only richer.
                    tracing::warn!(provider = %self.name, error = %e, "userinfo request failed; using the ID token's claims");
                })
                .ok(),
            None => None,
        };
        Ok(self.oidc_profile(&claims, userinfo.as_ref()))
    }

    async fn oidc_userinfo(
        &self,
        client: &openidconnect::core::CoreClient<
            oauth2::EndpointSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointMaybeSet,
            oauth2::EndpointMaybeSet,
        >,
        token: &openidconnect::core::CoreTokenResponse,
        claims: &CoreIdTokenClaims,
    ) -> Result<CoreUserInfoClaims, AuthError> {
        let request = client
            .user_info(
                oauth2::TokenResponse::access_token(token).clone(),
                Some(claims.subject().clone()),
            )
            .map_err(|e| AuthError::ProviderError(e.to_string()))?;
        request
            .request_async::<EmptyAdditionalClaims, _, CoreGenderClaim>(&self.http)
            .await
            .map_err(|e| match e {
                UserInfoError::Request(e) => {
                    AuthError::ProviderUnavailable(format!("userinfo: {e}"))
                }
                UserInfoError::ClaimsVerification(e) => {
                    AuthError::InvalidToken(format!("userinfo: {e}"))
                }
                other => AuthError::ProviderError(format!("userinfo: {other}")),
            })
    }

    fn oidc_profile(
        &self,
        claims: &CoreIdTokenClaims,
        userinfo: Option<&CoreUserInfoClaims>,
    ) -> Profile {
        let from_token = extract!(claims);
        let from_userinfo = userinfo.map(|u| extract!(u.standard_claims()));
        // The userinfo answer is newer and often richer; the ID token fills the gaps.
        let pick = |f: fn(&Extracted) -> Option<String>| {
            from_userinfo
                .as_ref()
                .and_then(f)
                .or_else(|| f(&from_token))
                .filter(|v| !v.trim().is_empty())
        };
        let login = pick(|c| c.login.clone());
        let name = pick(|c| c.name.clone());
        // Email and its verification come as a pair from one source.
        let (email, verified) = match from_userinfo.as_ref().filter(|u| u.email.is_some()) {
            Some(u) => (u.email.clone(), u.email_verified),
            None => (from_token.email.clone(), from_token.email_verified),
        };
        let email = email.filter(|e| !e.is_empty());
        Profile {
            provider: self.name.clone(),
            subject: claims.subject().as_str().to_owned(),
            display_name: name
                .or_else(|| login.clone())
                .unwrap_or_else(|| "Anonymous".to_owned()),
            login,
            email_verified: email.is_some() && verified == Some(true),
            email,
            avatar_url: pick(|c| c.picture.clone()),
            profile_url: pick(|c| c.profile.clone()),
        }
    }
}
